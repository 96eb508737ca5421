//! The upload-body fuzz harness, shared by the libFuzzer target
//! (`fuzz/fuzz_targets/upload_body.rs`) and the replay test
//! (`server/tests/upload_body_replay.rs`), so both judge an input by the same rules.
//!
//! An input is: one shape byte, then the `Content-Type` header up to the first `\n`,
//! then the body. The shape byte picks how the body arrives (chunks of 1, 7, 64 or 4096
//! bytes, so boundaries and part headers are split everywhere), whether the browser
//! form's several files are allowed, whether a CSRF field is required, and whether a
//! `Content-Length` is declared. The body goes through the server's own
//! `UploadReader`, as a request would.
//!
//! Verdict: no panic; every refusal is a 4xx; no more files than allowed; each file is
//! at most the image limit and appears byte for byte in the body (the parser never
//! invents data); with a CSRF field required, no file is read unless the token comes
//! before it in the body.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::StreamBody;
use imagevault_common::image::MAX_IMAGE_BYTES;
use imagevault_server::http::upload::UploadReader;
use memchr::memmem;
use salvo::http::ReqBody;
use salvo::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use salvo::hyper::body::Frame;

/// The CSRF token a form must carry when the shape byte asks for one.
pub const CSRF: &str = "fuzz-csrf-token-0123456789";

/// How an input ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The input is not shaped like a request (no header line, or not a valid header value).
    Skipped,
    /// This many files were read, then the body ended cleanly.
    Files(usize),
    /// Refused with this status, after reading this many files.
    Refused(u16, usize),
}

/// Runs one input through the upload reader and checks the verdict's rules.
///
/// # Panics
/// When a rule is broken: that is the bug the fuzzer looks for.
#[must_use]
pub fn check(data: &[u8]) -> Outcome {
    let Some((&shape, rest)) = data.split_first() else {
        return Outcome::Skipped;
    };
    let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
        return Outcome::Skipped;
    };
    let (header, body) = (&rest[..newline], &rest[newline + 1..]);
    let Ok(content_type) = HeaderValue::from_bytes(header) else {
        return Outcome::Skipped;
    };
    let max_files = if shape & 4 == 0 { 1 } else { 3 };
    let csrf = (shape & 8 != 0).then_some(CSRF);
    let mut req = salvo::Request::new();
    req.headers_mut().insert(CONTENT_TYPE, content_type);
    if shape & 16 != 0 {
        req.headers_mut().insert(CONTENT_LENGTH, body.len().into());
    }
    *req.body_mut() = chunked(body, [1, 7, 64, 4096][usize::from(shape & 3)]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut reader = match UploadReader::new(&mut req, csrf, max_files, Duration::from_hours(1))
        {
            Ok(reader) => reader,
            Err(refused) => return refusal(refused.status(), 0),
        };
        let mut files = 0;
        loop {
            match reader.next_file().await {
                Ok(Some(form)) => {
                    files += 1;
                    assert!(
                        files <= max_files,
                        "{files} files read, {max_files} allowed"
                    );
                    assert!(form.bytes.len() <= MAX_IMAGE_BYTES, "file over the limit");
                    // The file's real place is at or before the last occurrence of its
                    // bytes, and a required token must come before that place.
                    let last = memmem::rfind(body, &form.bytes);
                    assert!(last.is_some(), "file bytes that are not in the body");
                    if let Some(token) = csrf {
                        assert!(
                            memmem::find(body, token.as_bytes()).is_some_and(|t| Some(t) < last),
                            "a file read without the CSRF token before it"
                        );
                    }
                }
                Ok(None) => return Outcome::Files(files),
                Err(refused) => return refusal(refused.status(), files),
            }
        }
    })
}

fn refusal(status: salvo::http::StatusCode, files: usize) -> Outcome {
    assert!(status.is_client_error(), "refused with {status}");
    Outcome::Refused(status.as_u16(), files)
}

/// The body as a stream of `size`-byte frames, like a request arriving in pieces.
fn chunked(body: &[u8], size: usize) -> ReqBody {
    let frames: Vec<Result<Frame<Bytes>, salvo::BoxedError>> = body
        .chunks(size)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    ReqBody::Boxed {
        inner: Box::pin(StreamBody::new(stream::iter(frames))),
        fuse_config: None,
    }
}

/// Well-formed inputs that reach every branch of the reader: the fuzzer's starting
/// corpus, and the replay test's proof that the harness can tell them apart.
#[must_use]
pub fn seeds() -> Vec<(&'static str, Vec<u8>, Outcome)> {
    let file =
        |name: &str, bytes: &[u8]| part(&format!("name=\"file\"; filename=\"{name}\""), bytes);
    let token = part("name=\"csrf_token\"", CSRF.as_bytes());
    let jpeg: &[u8] =
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xD9";
    vec![
        (
            "one-file",
            input(0, &[file("a.jpg", jpeg)]),
            Outcome::Files(1),
        ),
        (
            "one-file-bytewise",
            input(16, &[file("a.jpg", jpeg)]),
            Outcome::Files(1),
        ),
        (
            "two-files-one-allowed",
            input(2, &[file("a.jpg", jpeg), file("b.jpg", jpeg)]),
            Outcome::Refused(400, 1),
        ),
        (
            "form-three-files",
            input(
                4 | 8 | 1,
                &[
                    token.clone(),
                    file("a.jpg", jpeg),
                    file("b.gif", b"GIF89a"),
                    file("c.png", b"\x89PNG"),
                ],
            ),
            Outcome::Files(3),
        ),
        (
            "form-without-token",
            input(8, &[file("a.jpg", jpeg)]),
            Outcome::Refused(403, 0),
        ),
        (
            "form-token-after-file",
            input(8, &[file("a.jpg", jpeg), token]),
            Outcome::Refused(403, 0),
        ),
        (
            "unknown-field",
            input(0, &[part("name=\"other\"", b"x")]),
            Outcome::Refused(400, 0),
        ),
        ("no-file", input(0, &[]), Outcome::Files(0)),
        (
            "truncated",
            truncated(input(3, &[file("a.jpg", jpeg)])),
            Outcome::Refused(400, 0),
        ),
        (
            "not-multipart",
            b"\x00application/json\n{\"file\":1}".to_vec(),
            Outcome::Refused(400, 0),
        ),
    ]
}

const BOUNDARY: &str = "XyZ-fuzz-boundary";

fn part(disposition: &str, bytes: &[u8]) -> Vec<u8> {
    let mut part = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n")
        .into_bytes();
    part.extend_from_slice(bytes);
    part.extend_from_slice(b"\r\n");
    part
}

fn input(shape: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut data = vec![shape];
    data.extend_from_slice(format!("multipart/form-data; boundary={BOUNDARY}\n").as_bytes());
    for p in parts {
        data.extend_from_slice(p);
    }
    data.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    data
}

fn truncated(mut data: Vec<u8>) -> Vec<u8> {
    data.truncate(data.len() - 20);
    data
}
