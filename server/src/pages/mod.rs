//! Browser pages — the whole product for people without the desktop app: register,
//! sign-in and sign-out with cookie sessions, the pages the emailed links open (verify,
//! forgot and reset password), the gallery, one image, upload, share links (the owner's
//! and the public page), the account page and the admin console.
//!
//! Two CSRF mechanisms, both stateless so any instance can check them:
//! - before sign-in, a random `imagevault_csrf` cookie (SameSite=Strict, `__Host-` over
//!   HTTPS) and a form field carrying its HMAC under `SECRET_KEY` — a cross-site form
//!   cannot read the cookie, so it cannot forge the field (signed double submit);
//! - after sign-in, a field carrying the HMAC of the session (see `http::auth`).

mod account;
mod admin;
pub mod assets;
mod email_links;
mod gallery;
mod session;
mod shared;
mod sharing;
mod sso;

use askama::Template;
use salvo::http::cookie::{Cookie, SameSite};
use salvo::http::header::{CACHE_CONTROL, HeaderValue, LOCATION};
use salvo::prelude::*;
use secrecy::ExposeSecret;

use crate::crypto::{random_token, same, sign};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, sign_in_first};
use crate::state::AppState;

/// The page routes.
pub fn router() -> Router {
    Router::new()
        .push(session::router())
        .push(email_links::router())
        .push(gallery::router())
        .push(account::router())
        .push(admin::router())
        .push(shared::router())
        .push(sharing::router())
        .push(sso::router())
        .push(Router::with_path("static/{name}").get(assets::serve))
        .push(Router::with_path("robots.txt").get(robots))
        .push(Router::with_path("favicon.ico").get(assets::favicon))
}

/// What crawlers may index: the sign-in and registration pages; never a share link,
/// the API, or anything behind a sign-in.
const ROBOTS: &str = "User-agent: *\n\
    Disallow: /s/\n\
    Disallow: /api/\n\
    Disallow: /admin\n\
    Disallow: /account\n\
    Disallow: /images/\n\
    Disallow: /upload\n\
    Disallow: /shares\n\
    Disallow: /metrics\n\
    Allow: /login\n\
    Allow: /register\n";

#[handler]
async fn robots(res: &mut Response) {
    res.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    res.render(Text::Plain(ROBOTS));
}

/// `GET` of a page that needs a signed-in browser: behind the hoop that sends a
/// signed-out one to `/login`.
fn signed_in_get(page: impl Handler) -> Router {
    Router::new().hoop(sign_in_first::<AuthUser>()).get(page)
}

fn render_html(res: &mut Response, page: &impl Template) -> Result<(), ApiError> {
    let html = page.render().map_err(ApiError::internal)?;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.render(Text::Html(html));
    Ok(())
}

/// Reads a URL-encoded form. Other bodies are refused before parsing: salvo would spool
/// a multipart body's files to disk.
async fn read_form<T: serde::de::DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    if !crate::http::auth::is_urlencoded(req) {
        return Err(ApiError::UnsupportedMediaType(
            "Send the form as application/x-www-form-urlencoded.".into(),
        ));
    }
    req.parse_form()
        .await
        .map_err(|_| ApiError::BadRequest("The form could not be read.".into()))
}

fn redirect(res: &mut Response, to: &'static str) {
    res.status_code(StatusCode::SEE_OTHER);
    res.headers_mut()
        .insert(LOCATION, HeaderValue::from_static(to));
}

/// The sign-in and registration forms: an address, a password, the pre-session CSRF
/// field.
#[derive(serde::Deserialize)]
struct CredentialsForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: secrecy::SecretString,
    #[serde(default)]
    csrf_token: String,
}

impl CredentialsForm {
    /// The posted form, after its CSRF field was checked against this browser's cookie.
    async fn read(req: &mut Request, state: &AppState, path: &str) -> Result<Self, ApiError> {
        let form: Self = read_form(req).await?;
        PresessionCsrf::check(req, state, &form.csrf_token, path)?;
        Ok(form)
    }
}

/// A one-paragraph page: the outcome of a form.
#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
    link: Option<(&'a str, &'a str)>,
}

/// CSRF protection for forms shown before sign-in (sign-in itself, verify, reset).
struct PresessionCsrf;

impl PresessionCsrf {
    /// Over HTTPS: `__Host-`, so a sibling subdomain cannot plant a value it knows the
    /// signature of (login CSRF through cookie tossing).
    const COOKIE_HTTPS: &'static str = "__Host-imagevault_csrf";
    const COOKIE_DEV: &'static str = "imagevault_csrf";

    fn cookie_name(state: &AppState) -> &'static str {
        if state.config.https() {
            Self::COOKIE_HTTPS
        } else {
            Self::COOKIE_DEV
        }
    }

    fn field_for(state: &AppState, cookie: &str) -> String {
        sign(
            state.secret_key.expose_secret().as_bytes(),
            format!("login:{cookie}").as_bytes(),
        )
    }

    /// The form field for this browser, setting its cookie first if it has none.
    fn issue(req: &Request, res: &mut Response, state: &AppState) -> String {
        let existing = req
            .cookie(Self::cookie_name(state))
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() == 43);
        let cookie = existing.unwrap_or_else(|| {
            let value = random_token();
            res.add_cookie(
                Cookie::build((Self::cookie_name(state), value.clone()))
                    .http_only(true)
                    .secure(state.config.https())
                    .same_site(SameSite::Strict)
                    .path("/")
                    .build(),
            );
            value
        });
        Self::field_for(state, &cookie)
    }

    /// Accepts a submitted form only with the field matching this browser's cookie.
    fn check(req: &Request, state: &AppState, field: &str, path: &str) -> Result<(), ApiError> {
        let cookie = req
            .cookie(Self::cookie_name(state))
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        if !cookie.is_empty() && same(field, &Self::field_for(state, &cookie)) {
            return Ok(());
        }
        Err(crate::http::auth::csrf_refused(path))
    }
}
