//! Registration and the account page: two-step sign-in (turn on with a QR code, turn
//! off, new recovery codes), passkeys (added by `passkeys.js` through the JSON API,
//! listed and removed here), the sessions of the account (each can be ended), sign out,
//! sign out everywhere, delete the account.

use askama::Template;
use imagevault_common::password::PasswordRule;
use salvo::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;

use super::gallery::date_text;
use super::session::forget_session_cookie;
use super::{CredentialsForm, MessagePage, PresessionCsrf, render_html, signed_in_get};
use crate::accounts::{self, passkeys, two_factor};
use crate::db::ids::{PasskeyId, SessionId};
use crate::error::{ApiError, human_bytes};
use crate::http::client::client_ip;
use crate::http::extract::{AuthUser, PageUser, path_id};
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
                .push(Router::with_path("delete").post(delete_submit))
                .push(
                    Router::with_path("two-step")
                        .push(Router::with_path("start").post(two_step_start))
                        .push(Router::with_path("confirm").post(two_step_confirm))
                        .push(Router::with_path("disable").post(two_step_disable))
                        .push(Router::with_path("recovery-codes").post(two_step_new_codes)),
                )
                .push(Router::with_path("sessions/{id}/revoke").post(session_revoke))
                .push(Router::with_path("passkeys/{id}/delete").post(passkey_delete))
                .push(Router::with_path("sso/remove").post(sso_remove)),
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
    notice: Option<&'a str>,
    two_step: two_factor::Status,
    sessions: Vec<SessionRow>,
    passkeys: Vec<PasskeyRow>,
    passkeys_available: bool,
    /// The account's single sign-on links; `None` when the server has no provider and
    /// the account no link.
    sso: Option<Vec<SsoRow>>,
    storage: StorageBar,
    activity: Vec<ActivityRow>,
    is_admin: bool,
}

/// One of the account's recent security events.
struct ActivityRow {
    at: String,
    what: &'static str,
    address: String,
}

/// Storage used against the quota, as the account page shows it.
struct StorageBar {
    used: String,
    quota: String,
    images: i64,
    /// Per mille, for the `<meter>`.
    per_mille: u64,
}

/// One passkey as the account page lists it.
struct PasskeyRow {
    id: String,
    name: String,
    added: String,
    last_used: String,
}

/// One single sign-on link as the account page lists it.
struct SsoRow {
    issuer: String,
    email: String,
    linked: String,
    last_used: String,
}

/// One session as the account page lists it.
struct SessionRow {
    id: String,
    kind: &'static str,
    created: String,
    last_used: String,
    address: String,
    agent: String,
    current: bool,
}

async fn render_account(
    user: &AuthUser,
    error: Option<&str>,
    res: &mut Response,
) -> Result<(), ApiError> {
    render_account_with(user, error, None, res).await
}

/// Recent security events the account page shows (all are in `GET /me/activity`).
const ACTIVITY_SHOWN: usize = 10;

async fn render_account_with(
    user: &AuthUser,
    error: Option<&str>,
    notice: Option<&str>,
    res: &mut Response,
) -> Result<(), ApiError> {
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    let since = OffsetDateTime::from_unix_timestamp(account.created_at)
        .map(date_text)
        .unwrap_or_default();
    let two_step = two_factor::status(&user.state, account.id).await?;
    let passkeys = passkey_rows(&user.state, account.id).await?;
    let sso = sso_rows(&user.state, account.id).await?;
    let (usage, quota) = crate::images::usage(&user.state, account.id).await?;
    let stored = u64::try_from(usage.bytes_used).unwrap_or(0);
    let storage = StorageBar {
        used: human_bytes(stored),
        quota: human_bytes(quota),
        images: usage.image_count,
        per_mille: (stored.saturating_mul(1000) / quota.max(1)).min(1000),
    };
    let sessions = accounts::list_sessions(&user.state, account.id)
        .await?
        .into_iter()
        .map(|s| {
            let at = |t| {
                OffsetDateTime::from_unix_timestamp(t)
                    .map(date_text)
                    .unwrap_or_default()
            };
            SessionRow {
                id: s.id.to_string(),
                kind: if s.kind == "cookie" {
                    "Browser"
                } else {
                    "Desktop app or API"
                },
                created: at(s.created_at),
                last_used: at(s.last_seen_at),
                address: s.address_hint.unwrap_or_else(|| "unknown".into()),
                agent: s.user_agent.unwrap_or_else(|| "unknown".into()),
                current: s.id == user.caller.session_id,
            }
        })
        .collect();
    let activity = crate::admin::activity(&user.state, account.id, None)
        .await?
        .items
        .into_iter()
        .take(ACTIVITY_SHOWN)
        .map(|e| ActivityRow {
            at: date_text(e.at),
            what: crate::audit::Kind::parse(&e.kind).map_or("", crate::audit::Kind::describe),
            address: e.address_hint.unwrap_or_default(),
        })
        .collect();
    render_html(
        res,
        &AccountPage {
            activity,
            is_admin: account.admin(),
            csrf: &user.csrf(),
            email: &account.email,
            since: &since,
            error,
            notice,
            two_step,
            sessions,
            passkeys,
            passkeys_available: user.state.passkeys.is_some(),
            sso,
            storage,
        },
    )
}

async fn passkey_rows(
    state: &AppState,
    user: crate::db::ids::UserId,
) -> Result<Vec<PasskeyRow>, ApiError> {
    let at = |t| {
        OffsetDateTime::from_unix_timestamp(t)
            .map(date_text)
            .unwrap_or_default()
    };
    Ok(passkeys::list(state, user)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id.to_string(),
            name: p.name,
            added: at(p.created_at),
            last_used: p.last_used_at.map_or_else(|| "never".to_owned(), at),
        })
        .collect())
}

async fn sso_rows(
    state: &AppState,
    user: crate::db::ids::UserId,
) -> Result<Option<Vec<SsoRow>>, ApiError> {
    let links = accounts::sso::links(state, user).await?;
    if links.is_empty() && state.sso.is_none() {
        return Ok(None);
    }
    let at = |t| {
        OffsetDateTime::from_unix_timestamp(t)
            .map(date_text)
            .unwrap_or_default()
    };
    Ok(Some(
        links
            .into_iter()
            .map(|link| SsoRow {
                linked: at(link.created_at),
                last_used: at(link.last_used_at),
                issuer: link.issuer,
                email: link.email,
            })
            .collect(),
    ))
}

#[derive(Template)]
#[template(path = "two_step_setup.html")]
struct SetupPage<'a> {
    csrf: &'a str,
    secret: &'a str,
    qr_svg: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    csrf: &'a str,
    codes: &'a [String],
    download: &'a str,
}

/// `POST /account/two-step/start`: after the password, a new secret, shown as a QR
/// code and as text.
#[handler]
async fn two_step_start(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: CodeForm = super::read_form(req).await?;
    let password = form.password.expose_secret();
    let account = match accounts::confirm_owner(&user.state, user.asker(req), password, "").await {
        Ok(account) => account,
        Err(err) => return refused(&user, err, res).await,
    };
    match two_factor::start(&user.state, &account).await {
        Ok(enrolment) => render_html(
            res,
            &SetupPage {
                csrf: &user.csrf(),
                secret: &spaced(&enrolment.secret),
                qr_svg: &enrolment.qr_svg,
                error: None,
            },
        ),
        Err(err @ ApiError::MfaAlreadyEnabled) => {
            res.status_code(err.status());
            render_account(&user, Some(&err.to_string()), res).await
        }
        Err(other) => Err(other),
    }
}

/// The base32 secret in groups of four, as people type it.
fn spaced(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: SecretString,
}

/// `POST /account/two-step/confirm`: the first code turns it on; the recovery codes
/// are shown this once.
#[handler]
async fn two_step_confirm(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: CodeForm = super::read_form(req).await?;
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    match two_factor::confirm(&user.state, &account, &form.code).await {
        Ok(codes) => show_codes(&user, res, &codes),
        Err(err @ ApiError::InvalidCode(_)) => {
            // The pending secret stays: show it again with the error.
            let Some(enrolment) = two_factor::pending(&user.state, &account).await? else {
                res.status_code(err.status());
                return render_account(&user, Some(&err.to_string()), res).await;
            };
            res.status_code(err.status());
            render_html(
                res,
                &SetupPage {
                    csrf: &user.csrf(),
                    secret: &spaced(&enrolment.secret),
                    qr_svg: &enrolment.qr_svg,
                    error: Some(
                        "That code is not right. Enter the 6-digit code your app shows now \
                         (codes change every 30 seconds).",
                    ),
                },
            )
        }
        Err(err @ ApiError::MfaAlreadyEnabled) => {
            res.status_code(err.status());
            render_account(&user, Some(&err.to_string()), res).await
        }
        Err(other) => Err(other),
    }
}

fn show_codes(user: &AuthUser, res: &mut Response, codes: &[String]) -> Result<(), ApiError> {
    let text = format!(
        "ImageVault recovery codes\n\nEach code signs you in once when you cannot use your \
         authenticator app.\n\n{}\n",
        codes.join("\n")
    );
    let download = format!("data:text/plain;charset=utf-8,{}", percent(&text));
    render_html(
        res,
        &RecoveryCodesPage {
            csrf: &user.csrf(),
            codes,
            download: &download,
        },
    )
}

/// Percent-encodes everything but unreserved characters (for the `data:` link).
fn percent(text: &str) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

/// The refusals a password-and-code form shows on the account page.
async fn refused(user: &AuthUser, err: ApiError, res: &mut Response) -> Result<(), ApiError> {
    match err {
        ApiError::InvalidCredentials
        | ApiError::InvalidCode(_)
        | ApiError::RateLimited(_)
        | ApiError::AccountLocked(_) => {
            let message = match &err {
                ApiError::InvalidCredentials => "That password is not right.".to_owned(),
                other => other.to_string(),
            };
            res.status_code(err.status());
            render_account(user, Some(&message), res).await
        }
        other => Err(other),
    }
}

/// `POST /account/two-step/disable`: password and a code.
#[handler]
async fn two_step_disable(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: CodeForm = super::read_form(req).await?;
    let asker = user.asker(req);
    match accounts::disable_two_step(
        &user.state,
        asker,
        form.password.expose_secret(),
        &form.code,
    )
    .await
    {
        Ok(()) => render_account_with(&user, None, Some("Two-step sign-in is off."), res).await,
        Err(err) => refused(&user, err, res).await,
    }
}

/// `POST /account/two-step/recovery-codes`: password and a code; new codes shown once.
#[handler]
async fn two_step_new_codes(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: CodeForm = super::read_form(req).await?;
    let asker = user.asker(req);
    match accounts::new_recovery_codes(
        &user.state,
        asker,
        form.password.expose_secret(),
        &form.code,
    )
    .await
    {
        Ok(codes) => show_codes(&user, res, &codes),
        Err(err) => refused(&user, err, res).await,
    }
}

/// `POST /account/sessions/{id}/revoke`: ends one session (this one signs out).
#[handler]
async fn session_revoke(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let id: SessionId = path_id(&req.param::<String>("id").unwrap_or_default())?;
    accounts::revoke_session(&user.state, user.caller.user_id, id).await?;
    if id == user.caller.session_id {
        forget_session_cookie(&user.state, res);
        super::redirect(res, "/login");
        return Ok(());
    }
    render_account_with(&user, None, Some("That session has ended."), res).await
}

/// `POST /account/passkeys/{id}/delete`: that passkey can no longer sign in.
#[handler]
async fn passkey_delete(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let id: PasskeyId = path_id(&req.param::<String>("id").unwrap_or_default())?;
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    passkeys::remove(&user.state, &account, id).await?;
    render_account_with(&user, None, Some("The passkey was removed."), res).await
}

#[derive(Deserialize)]
struct SsoRemoveForm {
    #[serde(default)]
    issuer: String,
}

/// `POST /account/sso/remove`: the provider no longer signs this account in (refused
/// while it is the account's only way in).
#[handler]
async fn sso_remove(user: AuthUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let form: SsoRemoveForm = super::read_form(req).await?;
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    let ip = client_ip(req, &user.state.config);
    match accounts::sso::unlink(&user.state, &account, &form.issuer, ip).await {
        Ok(()) => {
            let notice = "Single sign-on was removed: your identity provider no longer signs \
                you in here.";
            render_account_with(&user, None, Some(notice), res).await
        }
        Err(err @ (ApiError::SsoLastWayIn | ApiError::NotFound)) => {
            res.status_code(err.status());
            render_account(&user, Some(&err.to_string()), res).await
        }
        Err(other) => Err(other),
    }
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
    match accounts::delete_account(&user.state, user.asker(req), password).await {
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
