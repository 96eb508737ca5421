//! `/api/v1/shares` (the owner's links) and `/api/v1/public/shares/{token}` (what a
//! visitor without an account may see), as thin adapters over [`crate::shares`].

use imagevault_common::api::{
    PublicShare, ShareAccess, ShareCreated, ShareList, ShareRequest, ShareUnlock,
};
use salvo::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, HeaderValue};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use salvo_oapi::extract::{PathParam, QueryParam};
use secrecy::ExposeSecret;

use super::images::send_private;
use super::{json, json_up_to};
use crate::db::ids::ShareId;
use crate::error::ApiError;
use crate::http::client::client_ip;
use crate::http::extract::{AuthUser, path_id};
use crate::shares::{self, Want};
use crate::state::AppState;
use crate::vault::blob::BlobKind;

/// The header carrying an opening's access token (or the `access` query parameter, for
/// `<img>` tags).
pub const ACCESS_HEADER: &str = "x-share-access";

/// The owner's routes.
pub fn router() -> Router {
    Router::with_path("shares")
        .get(list)
        .post(create)
        .push(Router::with_path("{id}").delete(revoke))
}

/// The public routes.
pub fn public_router() -> Router {
    Router::with_path("public/shares/{token}")
        .get(open)
        .push(Router::with_path("unlock").post(unlock))
        .push(
            Router::with_path("images/{n}")
                .push(Router::with_path("thumbnail").get(thumbnail))
                .push(Router::with_path("view").get(view))
                .push(Router::with_path("download").get(download)),
        )
}

/// Share some of the caller's images through a link. The link (`url`) is in this
/// answer only; 404 when an image is not the caller's.
#[endpoint(security(("bearer" = [])), tags("shares"), request_body = ShareRequest, responses((status_code = 201, description = "The link, shown once", body = ShareCreated)))]
async fn create(user: AuthUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    // 500 image ids of 38 characters each need more than the usual 16 KiB.
    let request: ShareRequest = json_up_to(req, 64 * 1024).await?;
    let created = shares::create(&user.state, user.caller.user_id, &request).await?;
    res.status_code(StatusCode::CREATED);
    res.render(Json(created));
    Ok(())
}

/// The caller's links, newest first, with their views.
#[endpoint(security(("bearer" = [])), tags("shares"), responses((status_code = 200, description = "The caller's links", body = ShareList)))]
async fn list(user: AuthUser) -> Result<Json<ShareList>, ApiError> {
    Ok(Json(shares::list(&user.state, user.caller.user_id).await?))
}

/// Revoke a link: it is dead at once.
#[endpoint(security(("bearer" = [])), tags("shares"), responses((status_code = 204, description = "Revoked")))]
async fn revoke(id: PathParam<String>, user: AuthUser, res: &mut Response) -> Result<(), ApiError> {
    let id: ShareId = path_id(&id)?;
    shares::revoke(&user.state, user.caller.user_id, id).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

/// The access token a request presents: the header, else the `access` parameter.
fn access(req: &Request, query: Option<&str>) -> Option<String> {
    req.headers()
        .get(ACCESS_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(query)
        .map(str::to_owned)
}

/// Open a link: its title, expiry, whether downloads are allowed, and its images by
/// number, with an access token for this opening's image requests. Counts one view.
#[endpoint(tags("public"), responses((status_code = 200, description = "The shared images", body = PublicShare)))]
async fn open(
    token: PathParam<String>,
    access: QueryParam<String, false>,
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<Json<PublicShare>, ApiError> {
    let presented = self::access(req, access.as_deref());
    let ip = client_ip(req, &state.config);
    let share = shares::open(&state, &token, presented.as_deref(), ip).await?;
    public_headers(res);
    Ok(Json(share))
}

/// Unlock a link that has a password: an access token for an hour.
#[endpoint(tags("public"), request_body = ShareUnlock, responses((status_code = 200, description = "Unlocked", body = ShareAccess)))]
async fn unlock(
    token: PathParam<String>,
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<Json<ShareAccess>, ApiError> {
    let body: ShareUnlock = json(req).await?;
    let ip = client_ip(req, &state.config);
    let access = shares::unlock(&state, &token, body.password.expose_secret(), ip).await?;
    public_headers(res);
    Ok(Json(ShareAccess { access }))
}

/// A preview of image `n`, for the holder of an opening's access token.
#[endpoint(tags("public"), responses((status_code = 200, description = "The thumbnail", content_type = ["image/jpeg", "image/png"])))]
async fn thumbnail(
    token: PathParam<String>,
    n: PathParam<String>,
    access: QueryParam<String, false>,
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let presented = self::access(req, access.as_deref());
    serve(
        &state,
        &token,
        &n,
        presented.as_deref(),
        Want::Thumbnail,
        res,
    )
    .await
}

/// A rendering of image `n` to look at: at most 2048 px, re-encoded as JPEG, with the
/// watermark drawn in when the owner set it. Never the stored bytes.
#[endpoint(tags("public"), responses((status_code = 200, description = "The rendering", content_type = ["image/jpeg"])))]
async fn view(
    token: PathParam<String>,
    n: PathParam<String>,
    access: QueryParam<String, false>,
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let presented = self::access(req, access.as_deref());
    serve(&state, &token, &n, presented.as_deref(), Want::View, res).await
}

/// Image `n` as stored, as a download — only when the owner allowed downloads (404
/// otherwise, like a link that does not exist).
#[endpoint(tags("public"), responses((status_code = 200, description = "The image bytes", content_type = ["image/jpeg", "image/png", "image/gif"])))]
async fn download(
    token: PathParam<String>,
    n: PathParam<String>,
    access: QueryParam<String, false>,
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let presented = self::access(req, access.as_deref());
    serve(
        &state,
        &token,
        &n,
        presented.as_deref(),
        Want::Download,
        res,
    )
    .await
}

/// The one body of the three image routes (salvo's `#[endpoint]` needs each handler's
/// extractors spelled out, so only the arguments repeat): what `want` asks of image `n`.
async fn serve(
    state: &AppState,
    token: &str,
    n: &str,
    access: Option<&str>,
    want: Want,
    res: &mut Response,
) -> Result<(), ApiError> {
    let (share, row) = shares::image(state, token, n, access, want).await?;
    match want {
        Want::Thumbnail => {
            let plain = crate::images::content(state, &row, BlobKind::Thumbnail).await?;
            send_private(res, &row.thumbnail_type, plain.bytes());
        }
        Want::View => send_private(
            res,
            "image/jpeg",
            shares::rendering(state, &share, &row).await?,
        ),
        Want::Download => {
            let plain = crate::images::content(state, &row, BlobKind::Image).await?;
            send_private(res, &row.content_type, plain.bytes());
            // The number, never the owner's filename.
            let extension = row.content_type.trim_start_matches("image/");
            let disposition = format!("attachment; filename=\"photo-{n}.{extension}\"");
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                res.headers_mut().insert(CONTENT_DISPOSITION, value);
            }
        }
    }
    public_headers(res);
    Ok(())
}

/// What every public answer and page adds: not for search engines, nor for any cache
/// but the visitor's own.
pub(crate) fn public_headers(res: &mut Response) {
    let headers = res.headers_mut();
    headers.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
}
