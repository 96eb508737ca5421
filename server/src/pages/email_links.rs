//! The pages emailed links open: confirm an address, ask for a reset, choose a new
//! password. Opening a link never uses its token — mail scanners fetch links — the
//! person confirms with a button, which posts the token with a CSRF field.

use askama::Template;
use salvo::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{MessagePage, PresessionCsrf, render_html};
use crate::accounts;
use crate::error::ApiError;
use crate::http::client::client_ip;
use crate::state::AppState;

/// Longest token accepted from a link; real ones are 43 characters.
const MAX_TOKEN_LEN: usize = 256;

pub(super) fn router() -> Router {
    Router::new()
        .push(
            Router::with_path("verify")
                .get(verify_page)
                .post(verify_submit),
        )
        .push(
            Router::with_path("forgot-password")
                .get(forgot_page)
                .post(forgot_submit),
        )
        .push(
            Router::with_path("reset-password")
                .get(reset_page)
                .post(reset_submit),
        )
}

#[derive(Template)]
#[template(path = "token_form.html")]
struct TokenForm<'a> {
    title: &'a str,
    action: &'a str,
    button: &'a str,
    ask_password: bool,
    csrf: &'a str,
    token: &'a str,
    error: Option<&'a str>,
    rules: Vec<String>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    csrf: &'a str,
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    email: String,
}

/// The posted form, after its CSRF field was checked against this browser's cookie.
async fn checked_form(
    req: &mut Request,
    state: &AppState,
    path: &str,
) -> Result<LinkForm, ApiError> {
    let form: LinkForm = super::read_form(req).await?;
    PresessionCsrf::check(req, state, &form.csrf_token, path)?;
    Ok(form)
}

fn link_token(req: &Request) -> String {
    req.query::<String>("token")
        .filter(|t| t.len() <= MAX_TOKEN_LEN)
        .unwrap_or_default()
}

fn message(
    res: &mut Response,
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Result<(), ApiError> {
    res.status_code(status);
    render_html(
        res,
        &MessagePage {
            title,
            message: text,
            link,
        },
    )
}

/// What differs between the token forms.
pub(super) struct FormKind {
    title: &'static str,
    action: &'static str,
    button: &'static str,
    ask_password: bool,
}

const VERIFY: FormKind = FormKind {
    title: "Confirm your email address",
    action: "/verify",
    button: "Confirm my address",
    ask_password: false,
};
const RESET: FormKind = FormKind {
    title: "Choose a new password",
    action: "/reset-password",
    button: "Save the new password",
    ask_password: true,
};
/// The link past a lock (handled with the sign-in, in `session`).
pub(super) const UNLOCK: FormKind = FormKind {
    title: "Sign in from this browser despite the lock",
    action: "/unlock",
    button: "Trust this browser",
    ask_password: false,
};

impl FormKind {
    /// Renders the form, with the failed password rules when there are any.
    fn render(
        &self,
        res: &mut Response,
        csrf: &str,
        token: &str,
        rules: Vec<String>,
    ) -> Result<(), ApiError> {
        let error = (!rules.is_empty()).then_some("Choose a stronger password:");
        render_html(
            res,
            &TokenForm {
                title: self.title,
                action: self.action,
                button: self.button,
                ask_password: self.ask_password,
                csrf,
                token,
                error,
                rules,
            },
        )
    }

    /// The form a link opens; the token is only carried, not used.
    pub(super) fn show(
        &self,
        state: &AppState,
        req: &Request,
        res: &mut Response,
    ) -> Result<(), ApiError> {
        let csrf = PresessionCsrf::issue(req, res, state);
        self.render(res, &csrf, &link_token(req), Vec::new())
    }
}

#[handler]
async fn verify_page(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    VERIFY.show(&state, req, res)
}

#[handler]
async fn verify_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form = checked_form(req, &state, "/verify").await?;
    match accounts::verify_email(&state, &form.token).await {
        Ok(()) => message(
            res,
            StatusCode::OK,
            "Email confirmed",
            "Your address is confirmed. You can sign in now.",
            Some(("/login", "Sign in")),
        ),
        Err(err @ ApiError::InvalidToken) => message(
            res,
            err.status(),
            "Link not valid",
            &err.to_string(),
            Some(("/login", "Go to sign-in")),
        ),
        Err(other) => Err(other),
    }
}

#[handler]
async fn forgot_page(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let csrf = PresessionCsrf::issue(req, res, &state);
    render_html(res, &ForgotPage { csrf: &csrf })
}

#[handler]
async fn forgot_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form = checked_form(req, &state, "/forgot-password").await?;
    match accounts::forgot_password(&state, &form.email, client_ip(req, &state.config)).await {
        Ok(()) => message(
            res,
            StatusCode::OK,
            "Check your email",
            "If an account uses that address, a link to choose a new password is on its way. It works for one hour.",
            None,
        ),
        Err(err @ ApiError::RateLimited(_)) => {
            message(res, err.status(), "Please wait", &err.to_string(), None)
        }
        Err(other) => Err(other),
    }
}

#[handler]
async fn reset_page(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    RESET.show(&state, req, res)
}

#[handler]
async fn reset_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form = checked_form(req, &state, "/reset-password").await?;
    match accounts::reset_password(&state, &form.token, form.password.expose_secret()).await {
        Ok(()) => message(
            res,
            StatusCode::OK,
            "Password changed",
            "Your new password is set, and every device was signed out.",
            Some(("/login", "Sign in")),
        ),
        Err(ApiError::WeakPassword(weak)) => {
            res.status_code(StatusCode::UNPROCESSABLE_ENTITY);
            let rules = weak.failed.iter().map(|r| r.message()).collect();
            RESET.render(res, &form.csrf_token, &form.token, rules)
        }
        Err(err @ ApiError::InvalidToken) => message(
            res,
            err.status(),
            "Link not valid",
            &err.to_string(),
            Some(("/forgot-password", "Ask for a new link")),
        ),
        Err(other) => Err(other),
    }
}
