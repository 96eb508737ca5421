//! Reading an upload body: `multipart/form-data` with one `file` field (and, for browser
//! forms, a `csrf_token` field before it), streamed with hard limits.
//!
//! salvo's own form parser is not used here because it spools file parts to temporary
//! files: plaintext images would touch the disk before encryption. The body is read
//! chunk by chunk into one buffer of at most 5 MiB; a declared `Content-Length` over the
//! limit is refused before a byte is read, and an undeclared one is refused as soon as
//! it passes the limit.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use imagevault_common::image::MAX_IMAGE_BYTES;
use multra::{Constraints, Multipart, SizeLimit};
use salvo::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use salvo::prelude::*;

use super::auth::{CSRF_FIELD, same};
use crate::error::ApiError;

/// Room for the multipart framing, part headers and the CSRF field around the file.
const FRAMING_BYTES: usize = 64 * 1024;
/// Longest CSRF token field worth reading.
const MAX_CSRF_BYTES: u64 = 256;
/// The form field holding the image.
pub const FILE_FIELD: &str = "file";

/// What the client sent.
#[derive(Debug)]
pub struct UploadForm {
    /// The file name the client gave (sanitised later, by the image rules).
    pub filename: String,
    /// The file's bytes, at most 5 MiB.
    pub bytes: Vec<u8>,
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!(
        "The file is over the {} MiB limit.",
        MAX_IMAGE_BYTES / (1024 * 1024)
    ))
}

fn not_multipart() -> ApiError {
    ApiError::BadRequest("Send the image as multipart/form-data, in a field named \"file\".".into())
}

/// Reads a single-file upload (the JSON API). With `csrf` set (a cookie session without
/// the CSRF header), the form must carry that token in a `csrf_token` field before the
/// file.
pub async fn read_upload(
    req: &mut Request,
    csrf: Option<&str>,
    read_limit: Duration,
) -> Result<UploadForm, ApiError> {
    let mut reader = UploadReader::new(req, csrf, 1, read_limit)?;
    let upload = reader.next_file().await?.ok_or_else(|| {
        ApiError::BadRequest("Choose a file to upload (form field \"file\").".into())
    })?;
    if reader.next_file().await?.is_some() {
        return Err(one_per_request());
    }
    Ok(upload)
}

fn too_many_files(max_files: usize) -> ApiError {
    if max_files == 1 {
        one_per_request()
    } else {
        ApiError::BadRequest(format!("Send at most {max_files} files at once."))
    }
}

fn one_per_request() -> ApiError {
    ApiError::BadRequest("Send one file per request.".into())
}

/// Reads the files of a multipart body one at a time, so a form with several files
/// holds only one of them in memory.
pub struct UploadReader {
    multipart: Multipart<'static>,
    csrf: Option<String>,
    presented: Option<String>,
    path: String,
    files_left: usize,
    max_files: usize,
    /// Bytes to reserve for a file: the declared length for single-file bodies, so a
    /// buffer is allocated once instead of doubling past 5 MiB.
    size_hint: usize,
    /// `UPLOAD_TIMEOUT_SECONDS`, for the message.
    read_limit: Duration,
    /// When the whole body must have arrived: one deadline for every file of a form,
    /// so twenty trickled files hold a slot no longer than one.
    deadline: tokio::time::Instant,
    /// When the last file was handed out: the server's own work on it until the next
    /// call does not count against the client's deadline.
    handed_out: Option<tokio::time::Instant>,
}

impl UploadReader {
    /// Starts reading `req`'s body: at most `max_files` files of 5 MiB each, all of
    /// them arriving within `read_limit` from now.
    pub fn new(
        req: &mut Request,
        csrf: Option<&str>,
        max_files: usize,
        read_limit: Duration,
    ) -> Result<Self, ApiError> {
        let most = max_files * (MAX_IMAGE_BYTES + FRAMING_BYTES);
        let declared = declared_length(req)?;
        if declared.is_some_and(|n| n > most) {
            return Err(if max_files == 1 {
                too_large()
            } else {
                ApiError::TooLarge(format!("Send at most {max_files} files at once."))
            });
        }
        let boundary = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| multra::parse_boundary(v).ok())
            .ok_or_else(not_multipart)?;
        let limits = Constraints::new()
            .allowed_fields(vec![FILE_FIELD, CSRF_FIELD])
            .max_fields(max_files + 2)
            .size_limit(
                SizeLimit::new()
                    .whole_stream(most as u64)
                    .for_field(FILE_FIELD, MAX_IMAGE_BYTES as u64)
                    .for_field(CSRF_FIELD, MAX_CSRF_BYTES),
            );
        let body = req.take_body().filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok::<Bytes, std::io::Error>),
                Err(e) => Some(Err(e)),
            }
        });
        Ok(Self {
            multipart: Multipart::with_constraints(body, boundary, limits),
            csrf: csrf.map(str::to_owned),
            presented: None,
            path: req.uri().path().to_owned(),
            files_left: max_files,
            max_files,
            size_hint: declared
                .filter(|_| max_files == 1)
                .map_or(64 * 1024, |n| n.min(MAX_IMAGE_BYTES)),
            read_limit,
            deadline: tokio::time::Instant::now() + read_limit,
            handed_out: None,
        })
    }

    /// The next file, or `None` at the end of the body. The whole body must arrive
    /// within the read limit (`UPLOAD_TIMEOUT_SECONDS`): the server's gap timeout alone
    /// would let a client trickling a byte every few seconds hold an upload slot for
    /// hours, and a limit per file would let a form of many files hold it many times
    /// as long.
    pub async fn next_file(&mut self) -> Result<Option<UploadForm>, ApiError> {
        if let Some(handed_out) = self.handed_out.take() {
            self.deadline += handed_out.elapsed();
        }
        let limit = self.read_limit;
        let next = tokio::time::timeout_at(self.deadline, self.read_next()).await;
        self.handed_out = Some(tokio::time::Instant::now());
        next.unwrap_or_else(|_| {
            Err(ApiError::BadRequest(format!(
                "The upload took longer than {} seconds; try again on a faster connection.",
                limit.as_secs()
            )))
        })
    }

    async fn read_next(&mut self) -> Result<Option<UploadForm>, ApiError> {
        while let Some(mut field) = self.multipart.next_field().await.map_err(multipart_error)? {
            if field.name() == Some(CSRF_FIELD) {
                self.presented = Some(field.text().await.map_err(multipart_error)?);
                continue;
            }
            if let Some(expected) = &self.csrf
                && !self.presented.as_deref().is_some_and(|p| same(p, expected))
            {
                return Err(super::auth::csrf_refused(&self.path));
            }
            if self.files_left == 0 {
                return Err(too_many_files(self.max_files));
            }
            self.files_left -= 1;
            let filename = field.file_name().unwrap_or_default().to_owned();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if bytes.is_empty() {
                    bytes.reserve(chunk.len().max(self.size_hint));
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok(Some(UploadForm { filename, bytes }));
        }
        Ok(None)
    }
}

/// Reads and drops a body the answer does not need (an upload answered from its
/// idempotency key), within an upload's own size and time limits: a client still
/// sending would otherwise meet a reset connection instead of the answer, and retry.
pub async fn discard_body(req: &mut Request, read_limit: Duration) {
    let most = MAX_IMAGE_BYTES + FRAMING_BYTES;
    let mut body = req.take_body();
    let _ = tokio::time::timeout(read_limit, async {
        let mut read = 0;
        while let Some(Ok(frame)) = body.next().await {
            read += frame.data_ref().map_or(0, Bytes::len);
            if read > most {
                break;
            }
        }
    })
    .await;
}

/// The body's declared `Content-Length`, if any (400 when it is not a number).
pub fn declared_length(req: &Request) -> Result<Option<usize>, ApiError> {
    req.headers()
        .get(CONTENT_LENGTH)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| ApiError::BadRequest("Content-Length is not a number.".into()))
        })
        .transpose()
}

fn multipart_error(err: multra::Error) -> ApiError {
    use multra::Error as E;
    match err {
        E::FieldSizeExceeded { .. } | E::StreamSizeExceeded { .. } => too_large(),
        E::UnknownField { field_name } => ApiError::BadRequest(format!(
            "Unexpected form field {:?}: send the image in a field named \"file\".",
            field_name.unwrap_or_default()
        )),
        E::FieldCountExceeded { .. } => {
            ApiError::BadRequest("The form has too many fields.".into())
        }
        E::StreamReadFailed(_) | E::IncompleteStream | E::IncompleteFieldData { .. } => {
            ApiError::BadRequest("The upload ended before the file was complete.".into())
        }
        other => ApiError::BadRequest(format!(
            "The upload is not valid multipart/form-data: {other}."
        )),
    }
}
