//! Sign-in (password and code, or a passkey), home and sign-out: cookie sessions for
//! browsers.

use askama::Template;
use salvo::http::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use salvo::prelude::*;
use secrecy::ExposeSecret;

use super::{CredentialsForm, PresessionCsrf, read_form, redirect, render_html, signed_in_get};
use crate::accounts::{self, IssuedSession, SignIn, passkeys};
use crate::db::sessions::SessionKind;
use crate::error::ApiError;
use crate::http::auth::{CSRF_HEADER, session_cookie_name};
use crate::http::client::Client;
use crate::http::extract::{AuthUser, PageUser};
use crate::state::AppState;

/// The device cookie over HTTPS (`__Host-`: Secure, Path=/, no Domain) and in loopback
/// development.
const DEVICE_COOKIE_HTTPS: &str = "__Host-imagevault_device";
const DEVICE_COOKIE_DEV: &str = "imagevault_device";
/// Browsers keep a cookie at most 400 days; the device cookie asks for all of them.
const DEVICE_COOKIE_DAYS: i64 = 400;

pub(super) fn router() -> Router {
    Router::new()
        .push(signed_in_get(home))
        .push(
            Router::with_path("login")
                .get(login_page)
                .post(login_submit)
                .push(Router::with_path("code").post(code_submit))
                .push(Router::with_path("passkey").post(passkey_submit)),
        )
        .push(
            Router::with_path("unlock")
                .get(unlock_page)
                .post(unlock_submit),
        )
        .push(Router::with_path("logout").post(logout_submit))
        .push(Router::with_path("logout-everywhere").post(logout_everywhere_submit))
}

#[derive(Template)]
#[template(path = "login.html")]
pub(super) struct LoginPage<'a> {
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    /// Whether to offer "Sign in with a passkey" (off when `PUBLIC_URL` is an address).
    passkeys: bool,
    /// The single sign-on button's words, when a provider is configured.
    sso: Option<&'a str>,
}

impl<'a> LoginPage<'a> {
    /// The sign-in form, with the address filled in and an error or a notice.
    fn new(
        state: &'a AppState,
        csrf: &'a str,
        email: &'a str,
        error: Option<&'a str>,
        notice: Option<&'a str>,
    ) -> Self {
        Self {
            csrf,
            email,
            error,
            notice,
            passkeys: state.passkeys.is_some(),
            sso: state
                .sso
                .as_ref()
                .map(|p| p.settings().button_text.as_str()),
        }
    }

    /// The sign-in form saying why the last attempt did not sign in.
    pub(super) fn with_error(
        state: &'a AppState,
        csrf: &'a str,
        email: &'a str,
        error: &'a str,
    ) -> Self {
        Self::new(state, csrf, email, Some(error), None)
    }
}

/// The second step: the code, with the waiting sign-in's token.
#[derive(Template)]
#[template(path = "login_code.html")]
pub(super) struct CodePage<'a> {
    pub(super) csrf: &'a str,
    pub(super) mfa_token: &'a str,
    pub(super) error: Option<&'a str>,
}

/// `GET /`: the gallery when signed in, the sign-in page otherwise.
#[handler]
async fn home(user: PageUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    super::gallery::gallery(req, &user, res).await
}

#[handler]
async fn login_page(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let csrf = PresessionCsrf::issue(req, res, &state);
    render_html(res, &LoginPage::new(&state, &csrf, "", None, None))
}

#[handler]
async fn login_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form = CredentialsForm::read(req, &state, "/login").await?;
    let client = Client::of(req, &state.config, device_cookie(req, &state));
    let outcome = accounts::login(
        &state,
        &form.email,
        form.password.expose_secret(),
        &client,
        SessionKind::Cookie,
    )
    .await;
    match outcome {
        Ok(SignIn::Session(session)) => signed_in(&state, req, res, session).await,
        Ok(SignIn::SecondStep { mfa_token }) => render_html(
            res,
            &CodePage {
                csrf: &form.csrf_token,
                mfa_token: &mfa_token,
                error: None,
            },
        ),
        Err(
            err @ (ApiError::InvalidCredentials
            | ApiError::EmailNotVerified
            | ApiError::AccountLocked(_)
            | ApiError::RateLimited(_)),
        ) => {
            let message = err.to_string();
            res.status_code(err.status());
            render_html(
                res,
                &LoginPage::with_error(&state, &form.csrf_token, &form.email, &message),
            )
        }
        Err(other) => Err(other),
    }
}

#[derive(serde::Deserialize)]
struct CodeForm {
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /login/code`: the second step of a browser sign-in.
#[handler]
async fn code_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: CodeForm = read_form(req).await?;
    PresessionCsrf::check(req, &state, &form.csrf_token, "/login/code")?;
    let client = Client::of(req, &state.config, None);
    match accounts::login_second_step(&state, &form.mfa_token, &form.code, &client).await {
        Ok(session) => signed_in(&state, req, res, session).await,
        Err(
            err @ (ApiError::SecondStepFailed
            | ApiError::AccountLocked(_)
            | ApiError::RateLimited(_)),
        ) => {
            let message = match &err {
                ApiError::SecondStepFailed => "That code is not right, or this sign-in expired \
                    (five tries in five minutes). Try again, or sign in again."
                    .to_owned(),
                other => other.to_string(),
            };
            res.status_code(err.status());
            render_html(
                res,
                &CodePage {
                    csrf: &form.csrf_token,
                    mfa_token: &form.mfa_token,
                    error: Some(&message),
                },
            )
        }
        Err(other) => Err(other),
    }
}

/// `POST /login/passkey`: a passkey's answer (JSON from `passkeys.js`, for a challenge
/// from `POST /api/v1/auth/passkey/start`), with the sign-in form's CSRF field in
/// `X-CSRF-Token`. Signs the browser in as the form does.
#[handler]
async fn passkey_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let field = req.header::<String>(CSRF_HEADER).unwrap_or_default();
    PresessionCsrf::check(req, &state, &field, "/login/passkey")?;
    let body: imagevault_common::api::PasskeySignIn = crate::routes::json(req).await?;
    let client = Client::of(req, &state.config, device_cookie(req, &state));
    let session = passkeys::finish_sign_in(
        &state,
        &body.challenge_id,
        body.credential,
        &client,
        SessionKind::Cookie,
    )
    .await?;
    signed_in(&state, req, res, session).await
}

/// Sets the session and device cookies (ending the session this browser held before)
/// and goes to the gallery.
pub(super) async fn signed_in(
    state: &AppState,
    req: &Request,
    res: &mut Response,
    session: IssuedSession,
) -> Result<(), ApiError> {
    if let Some(old) = req.cookie(session_cookie_name(&state.config)) {
        accounts::replace_browser_session(state, old.value()).await?;
    }
    res.add_cookie(session_cookie(state, session.token));
    res.add_cookie(device_cookie_for(state, session.device_token));
    redirect(res, "/");
    Ok(())
}

fn device_cookie_name(state: &AppState) -> &'static str {
    if state.config.https() {
        DEVICE_COOKIE_HTTPS
    } else {
        DEVICE_COOKIE_DEV
    }
}

pub(super) fn device_cookie(req: &Request, state: &AppState) -> Option<String> {
    req.cookie(device_cookie_name(state))
        .map(|c| c.value().to_owned())
}

/// The device cookie: names this browser to later sign-ins of the account, so
/// strangers' failures never lock it out. `HttpOnly`, long-lived, `SameSite=Lax`.
fn device_cookie_for(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((device_cookie_name(state), token))
        .http_only(true)
        .secure(state.config.https())
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(CookieDuration::days(DEVICE_COOKIE_DAYS))
        .build()
}

/// `GET /unlock?token=…`: the emailed link past a lock. Using it takes a click, so a
/// mail scanner that fetches links cannot use it up.
#[handler]
async fn unlock_page(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    super::email_links::UNLOCK.show(&state, req, res)
}

#[derive(serde::Deserialize)]
struct UnlockForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /unlock`: this browser becomes a known device of the account; the sign-in
/// page follows, with the address filled in.
#[handler]
async fn unlock_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: UnlockForm = read_form(req).await?;
    PresessionCsrf::check(req, &state, &form.csrf_token, "/unlock")?;
    match accounts::unlock_device(&state, &form.token).await {
        Ok((user, device_token)) => {
            res.add_cookie(device_cookie_for(&state, device_token));
            let notice = "This browser can sign in to your account now, despite the lock. \
                Enter your password.";
            render_html(
                res,
                &LoginPage::new(&state, &form.csrf_token, &user.email, None, Some(notice)),
            )
        }
        Err(err @ ApiError::InvalidToken) => {
            let message = err.to_string();
            res.status_code(err.status());
            render_html(
                res,
                &super::MessagePage {
                    title: "This link does not work",
                    message: &message,
                    link: Some(("/login", "Go to sign-in")),
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
        .max_age(CookieDuration::seconds(state.config.sessions.max))
        .build()
}

#[handler]
async fn logout_submit(user: AuthUser, res: &mut Response) -> Result<(), ApiError> {
    sign_out(&user, res, false).await
}

#[handler]
async fn logout_everywhere_submit(user: AuthUser, res: &mut Response) -> Result<(), ApiError> {
    sign_out(&user, res, true).await
}

/// Revokes this session (or all of the account's), expires the cookie, back to sign-in.
async fn sign_out(user: &AuthUser, res: &mut Response, everywhere: bool) -> Result<(), ApiError> {
    let AuthUser { state, caller } = user;
    if everywhere {
        accounts::logout_everywhere(state, caller.user_id).await?;
    } else {
        accounts::logout(state, caller.session_id, caller.user_id).await?;
    }
    forget_session_cookie(state, res);
    redirect(res, "/login");
    Ok(())
}

/// Expires the session cookie. The removal must repeat Path and Secure, or browsers
/// keep a `__Host-` cookie. It also empties the browser's cache of this site: thumbnails
/// may be kept there (`private, no-cache`), and they must not outlive the session.
pub(super) fn forget_session_cookie(state: &AppState, res: &mut Response) {
    res.headers_mut().insert(
        salvo::http::HeaderName::from_static("clear-site-data"),
        salvo::http::HeaderValue::from_static("\"cache\""),
    );
    res.remove_cookie_with(
        Cookie::build((session_cookie_name(&state.config), ""))
            .path("/")
            .secure(state.config.https())
            .http_only(true),
    );
}
