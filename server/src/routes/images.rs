//! `/api/v1/images`: thin HTTP adapters over [`crate::images`].

use std::fmt::Write as _;

use imagevault_common::api::{ImageList, ImageObject};
use salvo::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue, LOCATION,
};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use salvo_oapi::extract::{PathParam, QueryParam};

use crate::db::images::ImageRow;
use crate::error::ApiError;
use crate::http::extract::{AuthUser, UploadUser, path_id};
use crate::http::upload::{declared_length, read_upload};
use crate::images;
use crate::vault::blob::BlobKind;

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
/// checked, stripped of metadata, thumbnailed and stored encrypted.
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 201, description = "Stored", body = ImageObject)))]
async fn upload(user: UploadUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let UploadUser {
        state,
        caller,
        csrf,
    } = user;
    let stored = async {
        let pass = images::admit(&state, caller.user_id, declared_length(req)?).await?;
        let stored = async {
            let form = read_upload(req, csrf.as_deref(), state.config.upload_timeout).await?;
            images::upload(&state, caller.user_id, form.filename, form.bytes).await
        }
        .await;
        pass.release().await;
        stored
    }
    .await;
    state.metrics.upload(stored.as_ref().map(|_| ()));
    let object = stored?;
    res.status_code(StatusCode::CREATED);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/images/{}", object.id)) {
        res.headers_mut().insert(LOCATION, location);
    }
    res.render(Json(object));
    Ok(())
}

/// The caller's images, newest first.
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 200, description = "A page of images", body = ImageList)))]
async fn list(
    limit: QueryParam<String, false>,
    cursor: QueryParam<String, false>,
    user: AuthUser,
) -> Result<Json<ImageList>, ApiError> {
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
    let (items, next_cursor) =
        images::list(&user.state, user.caller.user_id, limit, cursor.as_deref()).await?;
    Ok(Json(ImageList { items, next_cursor }))
}

/// The caller's image named by the path (404 for any other id).
async fn owned(user: &AuthUser, id: &str) -> Result<ImageRow, ApiError> {
    images::get(&user.state, user.caller.user_id, path_id(id)?).await
}

/// One image's metadata (404 for ids that are missing or not the caller's).
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 200, description = "The image", body = ImageObject)))]
async fn metadata(id: PathParam<String>, user: AuthUser) -> Result<Json<ImageObject>, ApiError> {
    Ok(Json(images::object(&owned(&user, &id).await?)))
}

/// The image itself: the sanitised bytes, decrypted after their tag checked out.
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 200, description = "The image bytes", content_type = ["image/jpeg", "image/png", "image/gif"])))]
async fn content(
    id: PathParam<String>,
    user: AuthUser,
    res: &mut Response,
) -> Result<(), ApiError> {
    let row = owned(&user, &id).await?;
    let bytes = images::content(&user.state, &row, BlobKind::Image).await?;
    send_private(res, &row.content_type, bytes);
    if let Ok(disposition) = HeaderValue::from_str(&inline_disposition(&row.filename)) {
        res.headers_mut().insert(CONTENT_DISPOSITION, disposition);
    }
    Ok(())
}

/// A preview at most 320 pixels on its long side.
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 200, description = "The thumbnail bytes", content_type = ["image/jpeg", "image/png"])))]
async fn thumbnail(
    id: PathParam<String>,
    user: AuthUser,
    res: &mut Response,
) -> Result<(), ApiError> {
    let row = owned(&user, &id).await?;
    let bytes = images::content(&user.state, &row, BlobKind::Thumbnail).await?;
    send_private(res, &row.thumbnail_type, bytes);
    Ok(())
}

/// Delete an image: its row, then its encrypted blobs.
#[endpoint(security(("bearer" = [])), tags("images"), responses((status_code = 204, description = "Deleted, with its blobs")))]
async fn delete(id: PathParam<String>, user: AuthUser, res: &mut Response) -> Result<(), ApiError> {
    images::delete(&user.state, user.caller.user_id, path_id(&id)?).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

/// Writes decrypted bytes that only their owner may see and nobody may keep.
pub(crate) fn send_private(res: &mut Response, content_type: &str, bytes: Vec<u8>) {
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
}
