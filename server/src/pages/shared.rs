//! The public page of a share link, `/s/{token}`: a gallery for people without an
//! account, working without JavaScript. The opening's access token lives in a cookie
//! scoped to the link's path (and in the image URLs, so `<img>` tags carry it); a link
//! with a password asks for it first. Never the owner, a filename or an image id.

use askama::Template;
use salvo::http::cookie::{Cookie, SameSite};
use salvo::http::header::HeaderValue;
use salvo::prelude::*;

use super::gallery::date_text;
use super::{PresessionCsrf, read_form, render_html};
use crate::error::ApiError;
use crate::http::client::client_ip;
use crate::routes::shares::public_headers;
use crate::shares;
use crate::state::AppState;

/// The cookie holding an opening's (or an unlock's) access, for one link's pages only.
const COOKIE: &str = "imagevault_share";
/// A thumbnail's longest side, for the `<img>` size hints.
const THUMB: u32 = 320;

pub(super) fn router() -> Router {
    Router::with_path("s/{token}")
        .get(gallery)
        .push(Router::with_path("unlock").post(unlock))
        .push(Router::with_path("{n}").get(image))
}

fn token(req: &Request) -> String {
    req.param::<String>("token").unwrap_or_default()
}

fn presented(req: &Request) -> Option<String> {
    req.cookie(COOKIE).map(|c| c.value().to_owned())
}

fn keep_access(state: &AppState, res: &mut Response, token: &str, access: &str) {
    res.add_cookie(
        Cookie::build((COOKIE, access.to_owned()))
            .http_only(true)
            .secure(state.config.https())
            .same_site(SameSite::Lax)
            .path(format!("/s/{token}"))
            .max_age(time::Duration::hours(1))
            .build(),
    );
}

fn title_of(title: Option<&str>) -> String {
    title.unwrap_or("Shared photos").to_owned()
}

#[derive(Template)]
#[template(path = "shared_gallery.html")]
struct GalleryPage {
    token: String,
    title: String,
    expires: String,
    allow_download: bool,
    count: usize,
    access: String,
    items: Vec<Tile>,
}

struct Tile {
    n: u64,
    thumb_width: u32,
    thumb_height: u32,
}

#[derive(Template)]
#[template(path = "shared_password.html")]
struct PasswordPage<'a> {
    token: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
}

/// `GET /s/{token}`: the gallery (counting a view), or the password form.
#[handler]
async fn gallery(state: AppState, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let token = token(req);
    let ip = client_ip(req, &state.config);
    public_headers(res);
    let share = match shares::open(&state, &token, presented(req).as_deref(), ip).await {
        Err(ApiError::PasswordRequired) => {
            let csrf = PresessionCsrf::issue(req, res, &state);
            res.status_code(StatusCode::UNAUTHORIZED);
            let page = PasswordPage {
                token: &token,
                csrf: &csrf,
                error: None,
            };
            return render_html(res, &page);
        }
        other => other?,
    };
    keep_access(&state, res, &token, &share.access);
    let tile = |item: &imagevault_common::api::PublicShareItem| {
        let longest = item.width.max(item.height).max(1);
        let scale = |side: u32| {
            (u64::from(side) * u64::from(THUMB.min(longest)) / u64::from(longest)).max(1)
        };
        Tile {
            n: item.n,
            thumb_width: u32::try_from(scale(item.width)).unwrap_or(THUMB),
            thumb_height: u32::try_from(scale(item.height)).unwrap_or(THUMB),
        }
    };
    let page = GalleryPage {
        title: title_of(share.title.as_deref()),
        expires: date_text(share.expires_at),
        allow_download: share.allow_download,
        count: share.items.len(),
        items: share.items.iter().map(tile).collect(),
        access: share.access,
        token,
    };
    render_html(res, &page)
}

#[derive(serde::Deserialize)]
struct UnlockForm {
    #[serde(default)]
    password: secrecy::SecretString,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /s/{token}/unlock`: the password form.
#[handler]
async fn unlock(state: AppState, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    use secrecy::ExposeSecret;
    let token = token(req);
    public_headers(res);
    let form: UnlockForm = read_form(req).await?;
    PresessionCsrf::check(req, &state, &form.csrf_token, &format!("/s/{token}/unlock"))?;
    let ip = client_ip(req, &state.config);
    let (status, message) =
        match shares::unlock(&state, &token, form.password.expose_secret(), ip).await {
            Ok(access) => {
                keep_access(&state, res, &token, &access);
                res.status_code(StatusCode::SEE_OTHER);
                if let Ok(to) = HeaderValue::from_str(&format!("/s/{token}")) {
                    res.headers_mut().insert(salvo::http::header::LOCATION, to);
                }
                return Ok(());
            }
            Err(ApiError::InvalidCredentials) => (
                StatusCode::UNAUTHORIZED,
                "That password is not right.".to_owned(),
            ),
            Err(err @ ApiError::RateLimited(_)) => (StatusCode::TOO_MANY_REQUESTS, err.to_string()),
            Err(other) => return Err(other),
        };
    let csrf = PresessionCsrf::issue(req, res, &state);
    res.status_code(status);
    let page = PasswordPage {
        token: &token,
        csrf: &csrf,
        error: Some(&message),
    };
    render_html(res, &page)
}

#[derive(Template)]
#[template(path = "shared_image.html")]
struct ImagePage {
    token: String,
    title: String,
    n: i64,
    count: usize,
    previous: Option<i64>,
    next: Option<i64>,
    allow_download: bool,
    access: String,
}

/// `GET /s/{token}/{n}`: one photo, large (a rendering), with previous and next, and a
/// download button only when the owner allowed downloads. Without an opening's access
/// (a bookmarked photo page), back to the gallery, which counts the view.
#[handler]
async fn image(state: AppState, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let token = token(req);
    public_headers(res);
    let access = presented(req);
    let n: i64 = req
        .param::<String>("n")
        .and_then(|n| n.parse().ok())
        .ok_or(ApiError::NotFound)?;
    let (share, numbers) = match shares::numbers(&state, &token, access.as_deref()).await {
        Ok(found) => found,
        Err(ApiError::NotFound) => {
            res.status_code(StatusCode::SEE_OTHER);
            if let Ok(to) = HeaderValue::from_str(&format!("/s/{token}")) {
                res.headers_mut().insert(salvo::http::header::LOCATION, to);
            }
            return Ok(());
        }
        Err(other) => return Err(other),
    };
    let at = numbers
        .iter()
        .position(|&k| k == n)
        .ok_or(ApiError::NotFound)?;
    let page = ImagePage {
        title: title_of(share.title.as_deref()),
        n,
        count: numbers.len(),
        previous: at.checked_sub(1).map(|i| numbers[i]),
        next: numbers.get(at + 1).copied(),
        allow_download: share.allow_download == 1,
        access: access.unwrap_or_default(),
        token,
    };
    render_html(res, &page)
}
