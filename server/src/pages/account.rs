//! Registration and the account page (sign out, sign out everywhere, delete the
//! account).

use askama::Template;
use imagevault_common::password::PasswordRule;
use salvo::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;

use super::gallery::date_text;
use super::session::forget_session_cookie;
use super::{CredentialsForm, MessagePage, PresessionCsrf, render_html, signed_in_get};
use crate::accounts;
use crate::error::ApiError;
use crate::http::client::client_ip;
use crate::http::extract::{AuthUser, PageUser};
use crate::state::AppState;

pub(super) fn router() -> Router {
    Router::new()
        .push(
            Router::with_path("register")
                .get(register_page)
                .post(register_submit),
        )
        .push(
            Router::with_path("account")
                .push(signed_in_get(account_page))
                .push(Router::with_path("delete").post(delete_submit)),
        )
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    failed: Vec<String>,
}

#[handler]
async fn register_page(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let csrf = PresessionCsrf::issue(req, res, &state);
    render_html(
        res,
        &RegisterPage {
            csrf: &csrf,
            email: "",
            error: None,
            failed: Vec::new(),
        },
    )
}

#[handler]
async fn register_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form = CredentialsForm::read(req, &state, "/register").await?;
    let ip = client_ip(req, &state.config);
    match accounts::register(&state, &form.email, form.password.expose_secret(), ip).await {
        Ok(()) => render_html(
            res,
            &MessagePage {
                title: "Check your email",
                message: "We sent a link to confirm your address. Open it to finish \
                          creating your account, then sign in.",
                link: Some(("/login", "Go to sign in")),
            },
        ),
        Err(
            err @ (ApiError::WeakPassword(_) | ApiError::InvalidEmail | ApiError::RateLimited(_)),
        ) => {
            let failed = match &err {
                ApiError::WeakPassword(weak) => weak
                    .failed
                    .iter()
                    .copied()
                    .map(PasswordRule::message)
                    .collect(),
                _ => Vec::new(),
            };
            let message = match &err {
                ApiError::WeakPassword(_) => "Choose a stronger password:".to_owned(),
                other => other.to_string(),
            };
            res.status_code(err.status());
            render_html(
                res,
                &RegisterPage {
                    csrf: &form.csrf_token,
                    email: &form.email,
                    error: Some(&message),
                    failed,
                },
            )
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf: &'a str,
    email: &'a str,
    since: &'a str,
    error: Option<&'a str>,
}

async fn render_account(
    user: &AuthUser,
    error: Option<&str>,
    res: &mut Response,
) -> Result<(), ApiError> {
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    let since = OffsetDateTime::from_unix_timestamp(account.created_at)
        .map(date_text)
        .unwrap_or_default();
    render_html(
        res,
        &AccountPage {
            csrf: &user.csrf(),
            email: &account.email,
            since: &since,
            error,
        },
    )
}

#[handler]
async fn account_page(user: PageUser, res: &mut Response) -> Result<(), ApiError> {
    render_account(&user, None, res).await
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    password: SecretString,
}

#[handler]
async fn delete_submit(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: DeleteForm = super::read_form(req).await?;
    let password = form.password.expose_secret();
    let ip = client_ip(req, &user.state.config);
    match accounts::delete_account(&user.state, user.caller.user_id, password, ip).await {
        Ok(()) => {
            forget_session_cookie(&user.state, res);
            render_html(
                res,
                &MessagePage {
                    title: "Account deleted",
                    message: "Your account, its images and their encryption key are gone.",
                    link: Some(("/register", "Create a new account")),
                },
            )
        }
        Err(
            err @ (ApiError::InvalidCredentials
            | ApiError::RateLimited(_)
            | ApiError::AccountLocked(_)),
        ) => {
            let message = match &err {
                ApiError::InvalidCredentials => "That password is not right.".to_owned(),
                other => other.to_string(),
            };
            res.status_code(err.status());
            render_account(&user, Some(&message), res).await
        }
        Err(other) => Err(other),
    }
}
