//! The browser side of sessions: sign-in, home and sign-out pages with cookie sessions
//! and CSRF tokens. (The gallery pages build on these.)
//!
//! Two CSRF mechanisms, both stateless so any instance can check them:
//! - before sign-in, a random `imagevault_csrf` cookie (SameSite=Strict) and a form
//!   field carrying its HMAC under `SECRET_KEY` — a cross-site form cannot read the
//!   cookie, so it cannot forge the field (signed double submit);
//! - after sign-in, a field carrying the HMAC of the session (see `http::auth`).

use askama::Template;
use salvo::http::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use salvo::http::header::{CACHE_CONTROL, HeaderValue, LOCATION};
use salvo::prelude::*;
use serde::Deserialize;

use crate::accounts::{self, SESSION_TTL};
use crate::crypto::{random_token, same, sign};
use crate::db::sessions::SessionKind;
use crate::error::ApiError;
use crate::http::auth::{authenticate, csrf_token, session_cookie_name};
use crate::http::client::client_ip;
use crate::state::AppState;

/// Pre-session CSRF cookie over HTTPS: `__Host-` so a sibling subdomain cannot plant a
/// value it knows the signature of (login CSRF through cookie tossing).
const LOGIN_CSRF_COOKIE_HTTPS: &str = "__Host-imagevault_csrf";
/// Pre-session CSRF cookie in loopback development.
const LOGIN_CSRF_COOKIE_DEV: &str = "imagevault_csrf";

fn login_csrf_cookie_name(state: &AppState) -> &'static str {
    if state.config.https() {
        LOGIN_CSRF_COOKIE_HTTPS
    } else {
        LOGIN_CSRF_COOKIE_DEV
    }
}

/// The page routes.
pub fn router() -> Router {
    Router::new()
        .push(Router::new().get(home))
        .push(
            Router::with_path("login")
                .get(login_page)
                .post(login_submit),
        )
        .push(Router::with_path("logout").post(logout_submit))
        .push(Router::with_path("logout-everywhere").post(logout_everywhere_submit))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    email: &'a str,
    csrf: &'a str,
}

fn render_html(res: &mut Response, page: &impl Template) -> Result<(), ApiError> {
    let html = page
        .render()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.render(Text::Html(html));
    Ok(())
}

fn redirect(res: &mut Response, to: &'static str) {
    res.status_code(StatusCode::SEE_OTHER);
    res.headers_mut()
        .insert(LOCATION, HeaderValue::from_static(to));
}

/// The pre-session CSRF cookie value, creating one if the browser has none.
fn login_csrf_cookie(req: &Request, res: &mut Response, state: &AppState) -> String {
    if let Some(existing) = req
        .cookie(login_csrf_cookie_name(state))
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43)
    {
        return existing;
    }
    let value = random_token();
    res.add_cookie(
        Cookie::build((login_csrf_cookie_name(state), value.clone()))
            .http_only(true)
            .secure(state.config.https())
            .same_site(SameSite::Strict)
            .path("/")
            .build(),
    );
    value
}

fn login_csrf_field(state: &AppState, cookie: &str) -> String {
    sign(
        state.secret_key.expose_secret().as_bytes(),
        format!("login:{cookie}").as_bytes(),
    )
}

#[handler]
async fn home(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let Ok(caller) = authenticate(req, &state).await else {
        redirect(res, "/login");
        return Ok(());
    };
    let user = state
        .db
        .user_by_id(&caller.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    render_html(
        res,
        &HomePage {
            email: &user.email,
            csrf: &csrf_token(&state, &caller.token_hash),
        },
    )
}

#[handler]
async fn login_page(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let cookie = login_csrf_cookie(req, res, &state);
    render_html(
        res,
        &LoginPage {
            csrf: &login_csrf_field(&state, &cookie),
            email: "",
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

#[handler]
async fn login_submit(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let form: LoginForm = req
        .parse_form()
        .await
        .map_err(|_| ApiError::BadRequest("The form could not be read.".into()))?;
    let cookie = req
        .cookie(login_csrf_cookie_name(&state))
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if cookie.is_empty() || !same(&form.csrf_token, &login_csrf_field(&state, &cookie)) {
        tracing::warn!(target: "security", event = "csrf_refused", path = "/login", "CSRF token missing or wrong");
        return Err(ApiError::Forbidden(
            "This form has expired or did not come from ImageVault. Reload the page and try again."
                .into(),
        ));
    }
    let ip = client_ip(req, &state.config);
    match accounts::login(&state, &form.email, &form.password, ip, SessionKind::Cookie).await {
        Ok(session) => {
            res.add_cookie(session_cookie(&state, session.token));
            redirect(res, "/");
            Ok(())
        }
        Err(
            err @ (ApiError::InvalidCredentials
            | ApiError::EmailNotVerified
            | ApiError::AccountLocked(_)
            | ApiError::RateLimited(_)),
        ) => {
            let message = err.to_string();
            let status = err.status();
            res.status_code(status);
            render_html(
                res,
                &LoginPage {
                    csrf: &form.csrf_token,
                    email: &form.email,
                    error: Some(&message),
                },
            )
        }
        Err(other) => Err(other),
    }
}

/// The session cookie: `HttpOnly` (scripts never see it), `SameSite=Lax` (not sent on
/// cross-site subrequests or form posts), `Secure` with the `__Host-` name over HTTPS.
fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((session_cookie_name(&state.config), token))
        .http_only(true)
        .secure(state.config.https())
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(CookieDuration::seconds(SESSION_TTL))
        .build()
}

#[handler]
async fn logout_submit(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    sign_out(req, depot, res, false).await
}

#[handler]
async fn logout_everywhere_submit(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    sign_out(req, depot, res, true).await
}

/// Revokes this session (or all of the account's), expires the cookie, back to sign-in.
async fn sign_out(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
    everywhere: bool,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let caller = authenticate(req, &state).await?;
    if everywhere {
        accounts::logout_everywhere(&state, &caller.user_id).await?;
    } else {
        accounts::logout(&state, &caller.token_hash, &caller.user_id).await?;
    }
    // The removal must repeat Path and Secure, or browsers keep a `__Host-` cookie.
    res.remove_cookie_with(
        Cookie::build((session_cookie_name(&state.config), ""))
            .path("/")
            .secure(state.config.https())
            .http_only(true),
    );
    redirect(res, "/login");
    Ok(())
}
