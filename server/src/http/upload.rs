//! Reading an upload body: `multipart/form-data` with one `file` field (and, for browser
//! forms, a `csrf_token` field before it), streamed with hard limits.
//!
//! salvo's own form parser is not used here because it spools file parts to temporary
//! files: plaintext images would touch the disk before encryption. The body is read
//! chunk by chunk into one buffer of at most 5 MiB; a declared `Content-Length` over the
//! limit is refused before a byte is read, and an undeclared one is refused as soon as
//! it passes the limit.

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

/// Reads the upload. With `csrf` set (a cookie session without the CSRF header), the
/// form must carry that token in a `csrf_token` field before the file.
pub async fn read_upload(req: &mut Request, csrf: Option<&str>) -> Result<UploadForm, ApiError> {
    let declared = declared_length(req)?;
    if declared.is_some_and(|n| n > MAX_IMAGE_BYTES + FRAMING_BYTES) {
        return Err(too_large());
    }
    let boundary = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multra::parse_boundary(v).ok())
        .ok_or_else(not_multipart)?;
    let limits = Constraints::new()
        .allowed_fields(vec![FILE_FIELD, CSRF_FIELD])
        .max_fields(4)
        .size_limit(
            SizeLimit::new()
                .whole_stream((MAX_IMAGE_BYTES + FRAMING_BYTES) as u64)
                .for_field(FILE_FIELD, MAX_IMAGE_BYTES as u64)
                .for_field(CSRF_FIELD, MAX_CSRF_BYTES),
        );
    let body = req.take_body().filter_map(|frame| async move {
        match frame {
            Ok(frame) => frame.into_data().ok().map(Ok::<Bytes, std::io::Error>),
            Err(e) => Some(Err(e)),
        }
    });
    let mut multipart = Multipart::with_constraints(body, boundary, limits);
    let mut presented: Option<String> = None;
    let mut upload: Option<UploadForm> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() == Some(CSRF_FIELD) {
            presented = Some(field.text().await.map_err(multipart_error)?);
            continue;
        }
        if upload.is_some() {
            return Err(ApiError::BadRequest("Send one file per request.".into()));
        }
        if let Some(expected) = csrf
            && !presented.as_deref().is_some_and(|p| same(p, expected))
        {
            return Err(super::auth::csrf_refused(req));
        }
        let filename = field.file_name().unwrap_or_default().to_owned();
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(MAX_IMAGE_BYTES));
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            bytes.extend_from_slice(&chunk);
        }
        upload = Some(UploadForm { filename, bytes });
    }
    upload.ok_or_else(|| {
        ApiError::BadRequest("Choose a file to upload (form field \"file\").".into())
    })
}

fn declared_length(req: &Request) -> Result<Option<usize>, ApiError> {
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
        E::FieldCountExceeded { .. } => ApiError::BadRequest("Send one file per request.".into()),
        E::StreamReadFailed(_) | E::IncompleteStream | E::IncompleteFieldData { .. } => {
            ApiError::BadRequest("The upload ended before the file was complete.".into())
        }
        other => ApiError::BadRequest(format!(
            "The upload is not valid multipart/form-data: {other}."
        )),
    }
}
