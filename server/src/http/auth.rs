//! Who is asking: a bearer token (API clients) or a session cookie (browsers).
//!
//! A request with an `Authorization` header is judged by it alone — a bad bearer token
//! never falls back to a cookie — and needs no CSRF token, because a browser never adds
//! that header to a cross-site request on its own. A cookie is ambient, so every
//! state-changing cookie request must also present the CSRF token bound to its session.

use salvo::http::header::AUTHORIZATION;
use salvo::prelude::*;
use secrecy::ExposeSecret;

use crate::config::Config;
pub(crate) use crate::crypto::same;
use crate::crypto::{hash_token, sign};
use crate::db::ids::{SessionId, UserId};
use crate::db::now;
use crate::db::sessions::{self, SessionKind};
use crate::error::ApiError;
use crate::state::AppState;

/// Cookie name over HTTPS: `__Host-` makes browsers insist on Secure, Path=/ and no
/// Domain, so a sibling subdomain cannot plant or read it.
pub const SESSION_COOKIE_HTTPS: &str = "__Host-imagevault_session";
/// Cookie name in loopback development over plain HTTP.
pub const SESSION_COOKIE_DEV: &str = "imagevault_session";
/// Header carrying the CSRF token for scripts.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// Longest token worth hashing; anything longer is not ours.
const MAX_TOKEN_LEN: usize = 256;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Account id.
    pub user_id: UserId,
    /// The session the request came with.
    pub session_id: SessionId,
    /// Hash of the session token (binds the cookie session's CSRF token).
    pub token_hash: String,
    /// Bearer or cookie.
    pub kind: SessionKind,
    /// The device holding the session, if it has one.
    pub device_id: Option<String>,
    /// The account's listing version when the request was authenticated: a listing
    /// page read after it shows that list or a newer one.
    pub listing_version: i64,
}

/// The session cookie's name for this deployment.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.https() {
        SESSION_COOKIE_HTTPS
    } else {
        SESSION_COOKIE_DEV
    }
}

/// The CSRF token of a cookie session: an HMAC of its hash under `SECRET_KEY`, so it
/// needs no storage and any instance can check it.
pub fn csrf_token(state: &AppState, session_hash: &str) -> String {
    sign(
        state.secret_key.expose_secret().as_bytes(),
        format!("csrf:{session_hash}").as_bytes(),
    )
}

/// Authenticates the request (and checks CSRF for unsafe cookie requests). Handlers get
/// the caller through the extractors of [`super::extract`], not by calling this.
pub(crate) async fn authenticate(req: &mut Request, state: &AppState) -> Result<Caller, ApiError> {
    let (caller, expected) = authenticate_deferring_csrf(req, state).await?;
    if let Some(expected) = expected {
        check_csrf(req, &expected).await?;
    }
    Ok(caller)
}

/// Authenticates the request for an upload, whose body must not be parsed here: a
/// cookie request that lacks the CSRF header gets back the token its form must carry
/// (checked by the upload reader before it accepts the file).
pub(crate) async fn authenticate_upload(
    req: &mut Request,
    state: &AppState,
) -> Result<(Caller, Option<String>), ApiError> {
    let (caller, expected) = authenticate_deferring_csrf(req, state).await?;
    match expected {
        Some(expected) if req.headers().contains_key(CSRF_HEADER) => {
            check_csrf(req, &expected).await?;
            Ok((caller, None))
        }
        other => Ok((caller, other)),
    }
}

/// The caller, and the CSRF token still to check (cookie sessions, unsafe methods).
async fn authenticate_deferring_csrf(
    req: &mut Request,
    state: &AppState,
) -> Result<(Caller, Option<String>), ApiError> {
    if let Some(header) = req.headers().get(AUTHORIZATION) {
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
            .ok_or(ApiError::Unauthorized)?;
        let caller = caller(state, hash_token(token), SessionKind::Bearer).await?;
        return Ok((caller, None));
    }
    let token = req
        .cookie(session_cookie_name(&state.config))
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
        .ok_or(ApiError::Unauthorized)?;
    let caller = caller(state, hash_token(&token), SessionKind::Cookie).await?;
    let expected = (!req.method().is_safe()).then(|| csrf_token(state, &caller.token_hash));
    Ok((caller, expected))
}

async fn caller(
    state: &AppState,
    token_hash: String,
    kind: SessionKind,
) -> Result<Caller, ApiError> {
    let now = now();
    let session = sessions::live(
        state.db.pool(),
        &token_hash,
        kind,
        now,
        state.config.sessions.idle,
    )
    .await?
    .ok_or(ApiError::Unauthorized)?;
    tracing::Span::current().record("user.id", tracing::field::display(session.user_id));
    if session.last_seen_at <= now - sessions::TOUCH_EVERY {
        sessions::touch(state.db.pool(), session.id, now).await?;
    }
    Ok(Caller {
        user_id: session.user_id,
        session_id: session.id,
        token_hash,
        kind,
        device_id: session.device_id,
        listing_version: session.listing_version,
    })
}

/// Accepts the request if it carries `expected` in the CSRF header or, for a URL-encoded
/// form, its `csrf_token` field (other bodies are never parsed here: salvo would spool
/// multipart files to disk).
pub async fn check_csrf(req: &mut Request, expected: &str) -> Result<(), ApiError> {
    let presented = match req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        Some(header) => Some(header.to_owned()),
        None if is_urlencoded(req) => req.form::<String>(CSRF_FIELD).await,
        None => None,
    };
    if presented.is_some_and(|p| same(&p, expected)) {
        Ok(())
    } else {
        Err(csrf_refused(req.uri().path()))
    }
}

/// Whether the body is a URL-encoded form: the only body CSRF checks and page forms
/// ever parse (salvo would spool a multipart body's files to disk).
pub fn is_urlencoded(req: &Request) -> bool {
    req.content_type()
        .is_some_and(|m| m.essence_str() == "application/x-www-form-urlencoded")
}

/// The refusal of a missing or wrong CSRF token, logged as a security event.
pub fn csrf_refused(path: &str) -> ApiError {
    tracing::warn!(target: "security", event = "csrf_refused", path, "CSRF token missing or wrong");
    ApiError::Forbidden(
        "This form has expired or did not come from ImageVault. Reload the page and try again."
            .into(),
    )
}
