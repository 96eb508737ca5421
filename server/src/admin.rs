//! The admin console's rules: administrators manage accounts — find them, see their
//! state and usage, disable or enable them, set their quota, end their sessions — and
//! read the audit log. They never see content: nothing here reads an image, a
//! thumbnail or a filename, so no admin page or endpoint can return one.
//!
//! Whether the caller is an administrator is decided by the extractor in front of every
//! admin route ([`crate::http::extract::AdminUser`]), which answers 404 to everyone else.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use imagevault_common::api::{AdminUser, AdminUserChange, AdminUserList, AuditEvent, AuditList};
use time::OffsetDateTime;

use crate::audit::{self, Event, Kind};
use crate::db::audit::{Filter, Row};
use crate::db::ids::UserId;
use crate::db::users::{self, Overview};
use crate::db::{now, sessions};
use crate::error::ApiError;
use crate::state::AppState;

/// Accounts per page.
const PAGE: i64 = 50;
/// Longest search text: an email address is at most 254 characters.
const MAX_QUERY: usize = 254;

/// `GET /admin/users`: accounts whose address contains `query`, in address order.
pub async fn users(
    state: &AppState,
    query: &str,
    cursor: Option<&str>,
) -> Result<AdminUserList, ApiError> {
    let query = query.trim().to_lowercase();
    if query.chars().count() > MAX_QUERY {
        return Err(ApiError::BadRequest(format!(
            "The search is over {MAX_QUERY} characters."
        )));
    }
    let after = cursor.map(decode_user_cursor).transpose()?;
    let mut found = users::search(state.db.pool(), &query, after.as_deref(), PAGE + 1).await?;
    let page = usize::try_from(PAGE).unwrap_or(usize::MAX);
    let more = found.len() > page;
    found.truncate(page);
    let next_cursor = found
        .last()
        .filter(|_| more)
        .map(|u| URL_SAFE_NO_PAD.encode(u.email.as_bytes()));
    Ok(AdminUserList {
        items: found.iter().map(|u| admin_user(state, u)).collect(),
        next_cursor,
    })
}

fn decode_user_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::BadRequest("The cursor is not one this server gave.".into()))
}

/// One account as the console shows it.
pub async fn user(state: &AppState, id: UserId) -> Result<AdminUser, ApiError> {
    let found = users::overview(state.db.pool(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(admin_user(state, &found))
}

fn admin_user(state: &AppState, u: &Overview) -> AdminUser {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    AdminUser {
        id: u.id.uuid(),
        email: u.email.clone(),
        created_at: time_of(u.created_at),
        verified: u.email_verified_at.is_some(),
        disabled: u.disabled_at.is_some(),
        is_admin: u.is_admin == 1,
        mfa: u.totp == 1,
        image_count: count(u.image_count),
        bytes_used: count(u.bytes_used),
        quota_bytes: u
            .quota_bytes
            .map_or(state.config.default_quota_bytes, count),
        last_sign_in_at: u.last_sign_in_at.map(time_of),
    }
}

fn time_of(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Who is acting, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Acting {
    /// The administrator.
    pub admin: UserId,
    /// Their client address.
    pub ip: IpAddr,
}

/// `PATCH /admin/users/{id}`: disables (ending every session at once) or enables the
/// account, and sets its quota, in one transaction; each change is an audit event.
pub async fn change(
    state: &AppState,
    by: Acting,
    id: UserId,
    change: &AdminUserChange,
) -> Result<AdminUser, ApiError> {
    if change.disabled == Some(true) && id == by.admin {
        return Err(ApiError::BadRequest(
            "You cannot disable your own account; another administrator can.".into(),
        ));
    }
    let quota = match change.quota_bytes {
        Some(Some(bytes)) => Some(Some(i64::try_from(bytes).map_err(|_| {
            ApiError::BadRequest(format!("quota_bytes is over {}.", i64::MAX))
        })?)),
        Some(None) => Some(None),
        None => None,
    };
    let now = now();
    let mut events = Vec::new();
    let mut tx = state.db.begin().await?;
    if users::by_id(&mut *tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    if let Some(disabled) = change.disabled {
        users::set_disabled(&mut *tx, id, disabled.then_some(now)).await?;
        if disabled {
            let ended = sessions::revoke_all(&mut *tx, id, now).await?;
            events.push(Event::new(Kind::AdminDisabled).with("sessions_ended", ended));
        } else {
            events.push(Event::new(Kind::AdminEnabled));
        }
    }
    if let Some(quota) = quota {
        users::set_quota(&mut *tx, id, quota).await?;
        events.push(Event::new(Kind::AdminQuotaSet).with("quota_bytes", quota));
    }
    tx.commit().await?;
    for event in events {
        audit::record(state, by.stamp(event, id)).await;
    }
    user(state, id).await
}

/// `POST /admin/users/{id}/sign-out`: ends every session of the account at once.
pub async fn sign_out(state: &AppState, by: Acting, id: UserId) -> Result<(), ApiError> {
    if users::by_id(state.db.pool(), id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let ended = sessions::revoke_all(state.db.pool(), id, now()).await?;
    let event = Event::new(Kind::AdminSignedOut).with("sessions_ended", ended);
    audit::record(state, by.stamp(event, id)).await;
    Ok(())
}

impl Acting {
    /// The event about `user`, saying which administrator did it and from where.
    fn stamp(self, event: Event, user: UserId) -> Event {
        event
            .user(user)
            .from(self.ip)
            .with("by", self.admin.to_string())
    }
}

/// `GET /admin/audit`: events, newest first, optionally of one kind or one account.
pub async fn audit_log(
    state: &AppState,
    kind: Option<&str>,
    user_id: Option<&str>,
    cursor: Option<&str>,
) -> Result<AuditList, ApiError> {
    let kind = kind.map(str::trim).filter(|k| !k.is_empty());
    if let Some(kind) = kind
        && Kind::parse(kind).is_none()
    {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(ApiError::BadRequest(format!(
            "kind must be one of: {}.",
            known.join(", ")
        )));
    }
    let user_id = user_id
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<UserId>()
                .map_err(|_| ApiError::BadRequest("user_id is not an account id.".into()))
        })
        .transpose()?
        .map(|u| u.to_string());
    let filter = Filter {
        kind,
        user_id: user_id.as_deref(),
        before: cursor.map(decode_seq_cursor).transpose()?,
        ..Filter::default()
    };
    events(state, &filter).await
}

/// The newest events about the account's share links, for its list of links: filtered
/// in the query, so other activity (many sign-ins) never crowds them out. None is an
/// administrator's, so nothing needs hiding.
pub async fn share_activity(state: &AppState, user: UserId) -> Result<AuditList, ApiError> {
    let user = user.to_string();
    let filter = Filter {
        user_id: Some(&user),
        kind_prefix: Some("share_"),
        ..Filter::default()
    };
    events(state, &filter).await
}

/// `GET /me/activity`: the caller's own recent security events, newest first.
pub async fn activity(
    state: &AppState,
    user: UserId,
    cursor: Option<&str>,
) -> Result<AuditList, ApiError> {
    let user = user.to_string();
    let filter = Filter {
        user_id: Some(&user),
        before: cursor.map(decode_seq_cursor).transpose()?,
        ..Filter::default()
    };
    let mut list = events(state, &filter).await?;
    // What an administrator did is shown; which administrator, and from where, is not.
    for event in list
        .items
        .iter_mut()
        .filter(|e| e.kind.starts_with("admin_"))
    {
        event.address_hint = None;
        if let Some(detail) = event.detail.as_object_mut() {
            detail.remove("by");
        }
    }
    Ok(list)
}

async fn events(state: &AppState, filter: &Filter<'_>) -> Result<AuditList, ApiError> {
    let (rows, next) = audit::page(&state.db, filter).await?;
    Ok(AuditList {
        items: rows.iter().map(event).collect(),
        next_cursor: next.map(|seq| seq.to_string()),
    })
}

fn decode_seq_cursor(cursor: &str) -> Result<i64, ApiError> {
    cursor
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|seq| *seq > 0)
        .ok_or_else(|| ApiError::BadRequest("The cursor is not one this server gave.".into()))
}

fn event(row: &Row) -> AuditEvent {
    AuditEvent {
        seq: row.seq,
        at: time_of(row.at),
        kind: row.kind.clone(),
        user_id: row.user_id.clone(),
        address_hint: row.address_hint.clone(),
        detail: audit::detail(row),
    }
}
