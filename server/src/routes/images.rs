//! `/api/v1/images`: thin HTTP adapters over [`crate::images`].

use std::fmt::Write as _;

use imagevault_common::api::{ImageList, ImageObject};
use salvo::http::ResBody;
use salvo::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH, LOCATION,
};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use salvo_oapi::extract::{PathParam, QueryParam};

use crate::error::ApiError;
use crate::http::extract::{AuthUser, UploadUser, path_id};
use crate::http::upload::{declared_length, discard_body, read_upload};
use crate::image_cache::Plain;
use crate::images;
use crate::images::{Image, UploadKey};
use crate::vault::blob::BlobKind;

/// The upload's idempotency header (design.md, "Upload idempotency").
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// A listing page's content type.
const JSON: &str = "application/json; charset=utf-8";

/// The image routes.
pub fn router() -> Router {
    Router::with_path("images").get(list).post(upload).push(
        Router::with_path("{id}")
            .get(metadata)
            .delete(delete)
            .push(Router::with_path("content").get(content))
            .push(Router::with_path("thumbnail").get(thumbnail)),
    )
}

/// Upload one image (multipart field `file`; JPEG, PNG or GIF, at most 5 MiB). It is
/// checked, stripped of metadata, thumbnailed and stored encrypted. With an
/// `Idempotency-Key` header (1–64 printable characters), the same key within 24 h
/// answers with the image it first stored, and stores nothing new.
#[endpoint(
    security(("bearer" = [])),
    tags("images"),
    parameters(("Idempotency-Key" = Option<String>, Header, description = "1–64 printable ASCII characters; the same key within 24 h answers with the image it first stored")),
    responses((status_code = 201, description = "Stored", body = ImageObject))
)]
async fn upload(user: UploadUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let UploadUser {
        state,
        caller,
        csrf,
    } = user;
    let key = req
        .headers()
        .get(IDEMPOTENCY_KEY)
        .map(|v| UploadKey::parse(v.as_bytes()))
        .transpose()?;
    // Before the upload slot, the quota check and the work: a retry costs one lookup.
    // A cookie form that still owes its CSRF field takes the full path, which checks
    // it, and gets the same answer when its row would commit.
    if let Some(key) = key.as_ref().filter(|_| csrf.is_none())
        && let Some(first) = images::stored_under(&state, caller.user_id, key).await?
    {
        tracing::info!(image.id = %first.id, "upload answered from its idempotency key");
        discard_body(req, state.config.upload_timeout).await;
        created(res, first);
        return Ok(());
    }
    let stored = async {
        let pass = images::admit(&state, caller.user_id, declared_length(req)?).await?;
        let stored = async {
            let form = read_upload(req, csrf.as_deref(), state.config.upload_timeout).await?;
            images::upload(
                &state,
                caller.user_id,
                form.filename,
                form.bytes,
                key.as_ref(),
            )
            .await
        }
        .await;
        pass.release().await;
        stored
    }
    .await;
    state.metrics.upload(stored.as_ref().map(|_| ()));
    created(res, stored?);
    Ok(())
}

/// 201 with the image and its address.
fn created(res: &mut Response, object: ImageObject) {
    res.status_code(StatusCode::CREATED);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/images/{}", object.id)) {
        res.headers_mut().insert(LOCATION, location);
    }
    res.render(Json(object));
}

/// The caller's images, newest first. A client that keeps its own copy of a page may
/// ask again with `If-None-Match` and gets 304 while the list is unchanged; browsers
/// keep nothing (`no-store`: the page holds the filenames).
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 200, description = "A page of images", body = ImageList), (status_code = 304, description = "Unchanged since the ETag the client sent")))]
async fn list(
    limit: QueryParam<String, false>,
    cursor: QueryParam<String, false>,
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let limit = limit
        .as_deref()
        .map(|l| {
            l.parse::<i64>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "limit must be a number from 1 to {}.",
                    images::MAX_PAGE
                ))
            })
        })
        .transpose()?;
    let caller = &user.caller;
    let page = images::list_sent(
        &user.state,
        caller.user_id,
        caller.listing_version,
        limit,
        cursor.as_deref(),
    )
    .await?;
    send_owned(req, res, JSON, &page, Keep::Never);
    Ok(())
}

/// The caller's image named by the path (404 for any other id).
async fn owned(user: &AuthUser, id: &str) -> Result<Image, ApiError> {
    images::get(&user.state, user.caller.user_id, path_id(id)?).await
}

/// One image's metadata (404 for ids that are missing or not the caller's).
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 200, description = "The image", body = ImageObject)))]
async fn metadata(id: PathParam<String>, user: AuthUser) -> Result<Json<ImageObject>, ApiError> {
    Ok(Json(images::object(&owned(&user, &id).await?)))
}

/// The image itself: the sanitised bytes, decrypted after their tag checked out. Never
/// stored by a browser (`no-store`); a client that keeps its own copy may ask again with
/// `If-None-Match` and gets 304.
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 200, description = "The image bytes", content_type = ["image/jpeg", "image/png", "image/gif"]), (status_code = 304, description = "Unchanged since the ETag the client sent")))]
async fn content(
    id: PathParam<String>,
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let image = owned(&user, &id).await?;
    let plain = images::content(&user.state, &image.row, BlobKind::Image).await?;
    if let Ok(disposition) = HeaderValue::from_str(&inline_disposition(&image.filename)) {
        res.headers_mut().insert(CONTENT_DISPOSITION, disposition);
    }
    send_owned(req, res, &image.row.content_type, &plain, Keep::Never);
    Ok(())
}

/// A preview at most 320 pixels on its long side. A browser may keep it but must ask
/// again (`If-None-Match`, answered 304) before each use.
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 200, description = "The thumbnail bytes", content_type = ["image/jpeg", "image/png"]), (status_code = 304, description = "Unchanged since the ETag the client sent")))]
async fn thumbnail(
    id: PathParam<String>,
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    // A gallery asks for a page of these at once: no name is opened for them.
    let row = images::row(&user.state, user.caller.user_id, path_id(&id)?).await?;
    let plain = images::content(&user.state, &row, BlobKind::Thumbnail).await?;
    send_owned(req, res, &row.thumbnail_type, &plain, Keep::Revalidate);
    Ok(())
}

/// Delete an image: its row, then its encrypted blobs.
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 204, description = "Deleted, with its blobs")))]
async fn delete(id: PathParam<String>, user: AuthUser, res: &mut Response) -> Result<(), ApiError> {
    images::delete(&user.state, user.caller.user_id, path_id(&id)?).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

/// What a client may keep of an owner's decrypted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Thumbnails: a gallery shows the same ones again and again, so a browser may keep
    /// them, but it asks before each use, so a deleted image or an ended session stops
    /// showing them; sign-out also clears the browser's cache (`Clear-Site-Data`).
    Revalidate,
    /// Originals: full-size photos are what must not linger on a shared computer's
    /// disk, so browsers keep nothing. The `ETag` still lets a client that keeps its own
    /// copy (the desktop app, a sync tool) skip the download.
    Never,
}

/// Writes an owner's decrypted bytes with their `ETag`, or 304 when the request's
/// `If-None-Match` already names it.
fn send_owned(req: &Request, res: &mut Response, content_type: &str, plain: &Plain, keep: Keep) {
    let etag = plain.etag();
    let headers = res.headers_mut();
    let policy = match keep {
        Keep::Revalidate => "private, no-cache",
        Keep::Never => "private, no-store",
    };
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    let known = req
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .any(|value| names_etag(value.as_bytes(), &etag));
    if known {
        headers.remove(CONTENT_DISPOSITION);
        res.status_code(StatusCode::NOT_MODIFIED);
        return;
    }
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    res.body(plain.bytes());
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a comma-separated list
/// compared weakly (RFC 9110, 13.1.2), so `W/"x"` matches `"x"`.
fn names_etag(value: &[u8], etag: &str) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// Writes decrypted bytes that only their owner or a share's visitor may see and that
/// nobody may keep.
pub(crate) fn send_private(res: &mut Response, content_type: &str, bytes: impl Into<ResBody>) {
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res.body(bytes);
}

/// `inline` with the sanitised name: an ASCII fallback in `filename` (quotes and
/// backslashes replaced) and the exact name in `filename*` (RFC 6266, RFC 8187).
pub fn inline_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_quotes_nothing_dangerous() {
        assert_eq!(
            inline_disposition("holiday photo.jpg"),
            "inline; filename=\"holiday photo.jpg\"; filename*=UTF-8''holiday%20photo.jpg"
        );
        let tricky = inline_disposition("a\"b\\c;d\u{e9}.png");
        assert_eq!(
            tricky,
            "inline; filename=\"a_b_c;d_.png\"; filename*=UTF-8''a%22b%5Cc%3Bd%C3%A9.png"
        );
        assert!(HeaderValue::from_str(&tricky).is_ok());
    }

    #[test]
    fn if_none_match_is_read_as_rfc_9110_says() {
        let etag = "\"abc\"";
        for value in [
            "\"abc\"",
            "W/\"abc\"",
            "*",
            "\"x\", \"abc\"",
            " \"x\" ,W/\"abc\" ",
        ] {
            assert!(names_etag(value.as_bytes(), etag), "{value}");
        }
        for value in [
            "abc", "\"abd\"", "\"ABC\"", "", "W/abc", "\"abc", "\"x\"", "**",
        ] {
            assert!(!names_etag(value.as_bytes(), etag), "{value}");
        }
        assert!(!names_etag(b"\xff\"abc\"", etag));
    }
}
