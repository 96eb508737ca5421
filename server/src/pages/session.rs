//! Sign-in, home and sign-out: cookie sessions for browsers.

use askama::Template;
use salvo::http::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use salvo::prelude::*;
use secrecy::ExposeSecret;

use super::{CredentialsForm, PresessionCsrf, redirect, render_html, signed_in_get};
use crate::accounts::{self, SESSION_TTL};
use crate::db::sessions::SessionKind;
use crate::error::ApiError;
use crate::http::auth::session_cookie_name;
use crate::http::client::client_ip;
use crate::http::extract::{AuthUser, PageUser};
use crate::state::AppState;

pub(super) fn router() -> Router {
    Router::new()
        .push(signed_in_get(home))
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
    render_html(
        res,
        &LoginPage {
            csrf: &csrf,
            email: "",
            error: None,
        },
    )
}

#[handler]
async fn login_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form = CredentialsForm::read(req, &state, "/login").await?;
    let ip = client_ip(req, &state.config);
    match accounts::login(
        &state,
        &form.email,
        form.password.expose_secret(),
        ip,
        SessionKind::Cookie,
    )
    .await
    {
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
/// keep a `__Host-` cookie.
pub(super) fn forget_session_cookie(state: &AppState, res: &mut Response) {
    res.remove_cookie_with(
        Cookie::build((session_cookie_name(&state.config), ""))
            .path("/")
            .secure(state.config.https())
            .http_only(true),
    );
}
