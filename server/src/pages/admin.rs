//! The admin console's browser pages: accounts (search, paging, disable or enable, set
//! the quota, sign out everywhere) and the audit log (filtered by kind or account).
//! Behind a hoop that answers 404 to everyone but administrators, like the JSON API;
//! they show accounts and events, never content.

use askama::Template;
use imagevault_common::api::{AdminUser, AdminUserChange, AuditEvent};
use salvo::prelude::*;
use serde::Deserialize;

use super::gallery::date_text;
use super::{read_form, render_html};
use crate::admin;
use crate::audit::Kind;
use crate::db::ids::UserId;
use crate::error::{ApiError, human_bytes};
use crate::http::auth::same;
use crate::http::extract::{Admin, SignedIn, path_id, sign_in_first};

/// Bytes in a GiB, as the quota form counts.
const GIB: f64 = 1_073_741_824.0;

pub(super) fn router() -> Router {
    Router::with_path("admin")
        .hoop(sign_in_first::<Admin>())
        .get(users_page)
        .push(Router::with_path("audit").get(audit_page))
        .push(Router::with_path("users/{id}").post(user_submit))
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    csrf: &'a str,
    /// The administrator's own id: they are not offered to disable themselves.
    me: String,
    query: &'a str,
    users: Vec<UserRow>,
    next: Option<String>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

/// One account as the users page lists it.
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts the page shows"
)]
struct UserRow {
    id: String,
    email: String,
    created: String,
    verified: bool,
    disabled: bool,
    is_admin: bool,
    mfa: bool,
    images: u64,
    used: String,
    quota: String,
    quota_gib: String,
    per_mille: u64,
    last_sign_in: String,
}

impl From<AdminUser> for UserRow {
    fn from(u: AdminUser) -> Self {
        Self {
            id: u.id.to_string(),
            created: date_text(u.created_at),
            verified: u.verified,
            disabled: u.disabled,
            is_admin: u.is_admin,
            mfa: u.mfa,
            images: u.image_count,
            used: human_bytes(u.bytes_used),
            quota: human_bytes(u.quota_bytes),
            quota_gib: gib_text(u.quota_bytes),
            per_mille: (u.bytes_used.saturating_mul(1000) / u.quota_bytes.max(1)).min(1000),
            last_sign_in: u.last_sign_in_at.map_or_else(|| "never".into(), date_text),
            email: u.email,
        }
    }
}

#[handler]
async fn users_page(
    admin: SignedIn<Admin>,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let query = req.query::<String>("query").unwrap_or_default();
    let cursor = req.query::<String>("cursor");
    render_users(&admin, &query, cursor.as_deref(), None, None, res).await
}

async fn render_users(
    admin: &Admin,
    query: &str,
    cursor: Option<&str>,
    error: Option<&str>,
    notice: Option<&str>,
    res: &mut Response,
) -> Result<(), ApiError> {
    let (users, next, error) = match admin::users(&admin.state, query, cursor).await {
        Ok(page) => (page.items, page.next_cursor, error.map(str::to_owned)),
        Err(ApiError::BadRequest(why)) => (Vec::new(), None, Some(why)),
        Err(other) => return Err(other),
    };
    render_html(
        res,
        &UsersPage {
            csrf: &admin.csrf(),
            me: admin.caller.user_id.to_string(),
            query,
            users: users.into_iter().map(UserRow::from).collect(),
            next,
            error: error.as_deref(),
            notice,
        },
    )
}

/// One form of the users page: which action, on whose account.
#[derive(Deserialize)]
struct UserForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    quota_gib: String,
    #[serde(default)]
    query: String,
}

#[handler]
async fn user_submit(
    admin: SignedIn<Admin>,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let id: UserId = path_id(&req.param::<String>("id").unwrap_or_default())?;
    let form: UserForm = read_form(req).await?;
    if !same(&form.csrf_token, &admin.csrf()) {
        return Err(ApiError::Forbidden(
            "This form expired. Reload the page and try again.".into(),
        ));
    }
    let outcome = act(&admin, admin.acting(req), id, &form).await;
    let query = form.query.trim();
    match outcome {
        Ok(notice) => render_users(&admin, query, None, None, Some(&notice), res).await,
        Err(ApiError::BadRequest(why)) => {
            render_users(&admin, query, None, Some(&why), None, res).await
        }
        Err(other) => Err(other),
    }
}

/// Carries out one form's action; the sentence that says it was done.
async fn act(
    admin: &Admin,
    by: admin::Acting,
    id: UserId,
    form: &UserForm,
) -> Result<String, ApiError> {
    let state = &admin.state;
    let change = |disabled, quota_bytes| AdminUserChange {
        disabled,
        quota_bytes,
    };
    match form.action.as_str() {
        "disable" => {
            let u = admin::change(state, by, id, &change(Some(true), None)).await?;
            Ok(format!(
                "{} is disabled and signed out everywhere.",
                u.email
            ))
        }
        "enable" => {
            let u = admin::change(state, by, id, &change(Some(false), None)).await?;
            Ok(format!("{} can sign in again.", u.email))
        }
        "quota" => {
            let bytes = parse_gib(&form.quota_gib)?;
            let u = admin::change(state, by, id, &change(None, Some(Some(bytes)))).await?;
            let quota = human_bytes(u.quota_bytes);
            Ok(format!("The quota of {} is now {quota}.", u.email))
        }
        "sign-out" => {
            admin::sign_out(state, by, id).await?;
            Ok("Every session of that account has ended.".to_owned())
        }
        _ => Err(ApiError::BadRequest(
            "That action is not one this page offers.".into(),
        )),
    }
}

/// Bytes as GiB to one decimal, for the quota field (integer arithmetic: exact).
fn gib_text(bytes: u64) -> String {
    let tenths = (u128::from(bytes) * 10 + (1 << 29)) >> 30;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// A quota typed in GiB (a decimal point allowed), as bytes.
fn parse_gib(typed: &str) -> Result<u64, ApiError> {
    let invalid = || ApiError::BadRequest("Enter the quota in GiB, from 0 to 1048576.".into());
    let gib: f64 = typed.trim().parse().map_err(|_| invalid())?;
    if !gib.is_finite() || !(0.0..=1_048_576.0).contains(&gib) {
        return Err(invalid());
    }
    // In range, so the product fits a u64 (2^50 bytes at most).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((gib * GIB).round() as u64)
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage<'a> {
    csrf: &'a str,
    kinds: Vec<(&'static str, &'static str)>,
    kind: &'a str,
    user_id: &'a str,
    events: Vec<EventRow>,
    next: Option<String>,
    error: Option<String>,
}

/// One event as the audit page lists it.
struct EventRow {
    seq: i64,
    at: String,
    kind: String,
    label: &'static str,
    user_id: Option<String>,
    address: String,
    detail: String,
}

impl From<AuditEvent> for EventRow {
    fn from(e: AuditEvent) -> Self {
        Self {
            seq: e.seq,
            at: date_text(e.at),
            label: Kind::parse(&e.kind).map_or("", Kind::describe),
            kind: e.kind,
            user_id: e.user_id,
            address: e.address_hint.unwrap_or_default(),
            detail: e.detail.to_string(),
        }
    }
}

#[handler]
async fn audit_page(
    admin: SignedIn<Admin>,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let kind = req.query::<String>("kind").unwrap_or_default();
    let user_id = req.query::<String>("user_id").unwrap_or_default();
    let cursor = req.query::<String>("cursor");
    let (events, next, error) = match admin::audit_log(
        &admin.state,
        Some(&kind),
        Some(&user_id),
        cursor.as_deref(),
    )
    .await
    {
        Ok(page) => (page.items, page.next_cursor, None),
        Err(ApiError::BadRequest(why)) => (Vec::new(), None, Some(why)),
        Err(other) => return Err(other),
    };
    render_html(
        res,
        &AuditPage {
            csrf: &admin.csrf(),
            kinds: Kind::ALL
                .iter()
                .map(|k| (k.as_str(), k.describe()))
                .collect(),
            kind: &kind,
            user_id: &user_id,
            events: events.into_iter().map(EventRow::from).collect(),
            next,
            error,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_in_gib_read_and_show_alike() {
        assert_eq!(parse_gib("2").unwrap(), 2 << 30);
        assert_eq!(parse_gib(" 0.5 ").unwrap(), 1 << 29);
        assert_eq!(gib_text(10 << 30), "10.0");
        assert_eq!(gib_text(1 << 29), "0.5");
        assert_eq!(gib_text(u64::MAX), "17179869184.0");
        for bad in ["", "-1", "abc", "NaN", "inf", "1048577", "1e400"] {
            assert!(parse_gib(bad).is_err(), "{bad}");
        }
    }
}
