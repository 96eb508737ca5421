//! Registration and the account page (sign out, sign out everywhere, delete the
//! account).

use askama::Template;
use imagevault_common::password::PasswordRule;
use salvo::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;

use super::gallery::{date_text, signed_in};
use super::session::forget_session_cookie;
use super::{MessagePage, PresessionCsrf, render_html};
use crate::accounts;
use crate::error::ApiError;
use crate::http::auth::{authenticate, csrf_token};
use crate::http::client::client_ip;
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
                .get(account_page)
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
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
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

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    csrf_token: String,
}

#[handler]
async fn register_submit(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let form: RegisterForm = super::read_form(req).await?;
    PresessionCsrf::check(req, &state, &form.csrf_token, "/register")?;
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
    state: &AppState,
    user_id: &str,
    token_hash: &str,
    error: Option<&str>,
    res: &mut Response,
) -> Result<(), ApiError> {
    let user = state
        .db
        .user_by_id(user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let since = OffsetDateTime::from_unix_timestamp(user.created_at)
        .map(date_text)
        .unwrap_or_default();
    render_html(
        res,
        &AccountPage {
            csrf: &csrf_token(state, token_hash),
            email: &user.email,
            since: &since,
            error,
        },
    )
}

#[handler]
async fn account_page(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let Some(caller) = signed_in(req, &state, res).await else {
        return Ok(());
    };
    render_account(&state, &caller.user_id, &caller.token_hash, None, res).await
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    password: SecretString,
}

#[handler]
async fn delete_submit(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let caller = authenticate(req, &state).await?;
    let form: DeleteForm = super::read_form(req).await?;
    match accounts::delete_account(&state, &caller.user_id, form.password.expose_secret()).await {
        Ok(()) => {
            forget_session_cookie(&state, res);
            render_html(
                res,
                &MessagePage {
                    title: "Account deleted",
                    message: "Your account, its images and their encryption key are gone.",
                    link: Some(("/register", "Create a new account")),
                },
            )
        }
        Err(err @ (ApiError::InvalidCredentials | ApiError::RateLimited(_))) => {
            let message = match &err {
                ApiError::InvalidCredentials => "That password is not right.".to_owned(),
                other => other.to_string(),
            };
            res.status_code(err.status());
            render_account(
                &state,
                &caller.user_id,
                &caller.token_hash,
                Some(&message),
                res,
            )
            .await
        }
        Err(other) => Err(other),
    }
}
