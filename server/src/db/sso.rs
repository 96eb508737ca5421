//! Single sign-on: links between accounts and people at the OpenID Provider, sign-ins
//! waiting at the provider, and links waiting for the account's password.
//!
//! Each "use once" rule is one conditional statement (`DELETE … RETURNING`, or an
//! `UPDATE` that counts a try), so two requests presenting one `state` or one link token
//! cannot both win, on any number of instances.

use super::ids::UserId;
use super::{AnyExecutor, DbError};

/// An account's link to a person at a provider.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Link {
    /// The provider's issuer.
    pub issuer: String,
    /// The person's `sub` there.
    pub subject: String,
    /// The account.
    pub user_id: UserId,
    /// The email the provider last gave.
    pub email: String,
    /// When it was made.
    pub created_at: i64,
    /// When it last signed someone in.
    pub last_used_at: i64,
}

/// The account linked to `subject` at `issuer`, with the email the provider gave now
/// and the time, recorded on the link.
pub async fn use_link(
    db: impl AnyExecutor<'_>,
    issuer: &str,
    subject: &str,
    email: &str,
    now: i64,
) -> Result<Option<UserId>, DbError> {
    Ok(sqlx::query_scalar(
        "UPDATE sso_links SET email = $3, last_used_at = $4 \
         WHERE issuer = $1 AND subject = $2 RETURNING user_id",
    )
    .bind(issuer)
    .bind(subject)
    .bind(email)
    .bind(now)
    .fetch_optional(db)
    .await?)
}

/// Links `subject` at `issuer` to `user`; a unique violation if either side is linked
/// already (for the caller to map).
pub async fn link(
    db: impl AnyExecutor<'_>,
    issuer: &str,
    subject: &str,
    user: UserId,
    email: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO sso_links (issuer, subject, user_id, email, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(issuer)
    .bind(subject)
    .bind(user)
    .bind(email)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// The account's links (one per provider).
pub async fn links_of(db: impl AnyExecutor<'_>, user: UserId) -> Result<Vec<Link>, DbError> {
    Ok(sqlx::query_as(
        "SELECT issuer, subject, user_id, email, created_at, last_used_at \
         FROM sso_links WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// Removes the account's link to `issuer`; `false` if there was none.
pub async fn unlink(db: impl AnyExecutor<'_>, user: UserId, issuer: &str) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM sso_links WHERE user_id = $1 AND issuer = $2")
        .bind(user)
        .bind(issuer)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A browser's sign-in waiting at the provider.
pub struct NewFlow<'a> {
    /// SHA-256 of `state`.
    pub state_hash: &'a str,
    /// SHA-256 of the cookie that binds the flow to its browser.
    pub browser_hash: &'a str,
    /// The nonce the ID token must carry.
    pub nonce: &'a str,
    /// The PKCE verifier for the code.
    pub pkce_verifier: &'a str,
    /// Now.
    pub now: i64,
    /// When it stops counting.
    pub expires_at: i64,
}

/// Stores a waiting sign-in.
pub async fn insert_flow(db: impl AnyExecutor<'_>, flow: &NewFlow<'_>) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO sso_flows (state_hash, browser_hash, nonce, pkce_verifier, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(flow.state_hash)
    .bind(flow.browser_hash)
    .bind(flow.nonce)
    .bind(flow.pkce_verifier)
    .bind(flow.now)
    .bind(flow.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A waiting sign-in, taken.
#[derive(Debug, sqlx::FromRow)]
pub struct Flow {
    /// SHA-256 of the cookie of the browser that started it.
    pub browser_hash: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
}

/// Takes the waiting sign-in `state` names: it is gone afterwards, so a replayed
/// `state` finds nothing. `None` when unknown, used or expired.
pub async fn take_flow(
    db: impl AnyExecutor<'_>,
    state_hash: &str,
    now: i64,
) -> Result<Option<Flow>, DbError> {
    let flow: Option<(Flow, i64)> = sqlx::query_as::<_, (String, String, String, i64)>(
        "DELETE FROM sso_flows WHERE state_hash = $1 \
         RETURNING browser_hash, nonce, pkce_verifier, expires_at",
    )
    .bind(state_hash)
    .fetch_optional(db)
    .await?
    .map(|(browser_hash, nonce, pkce_verifier, expires_at)| {
        let flow = Flow {
            browser_hash,
            nonce,
            pkce_verifier,
        };
        (flow, expires_at)
    });
    Ok(flow.and_then(|(flow, expires_at)| (expires_at > now).then_some(flow)))
}

/// A link waiting for the account's password.
pub struct NewPendingLink<'a> {
    /// SHA-256 of the token shown to the person.
    pub token_hash: &'a str,
    /// The account whose email matched.
    pub user_id: UserId,
    /// The provider.
    pub issuer: &'a str,
    /// The person there.
    pub subject: &'a str,
    /// The email the provider gave.
    pub email: &'a str,
    /// The session to make once confirmed (`cookie` or `bearer`).
    pub session_kind: &'a str,
    /// Now.
    pub now: i64,
    /// When it stops counting.
    pub expires_at: i64,
}

/// Stores a link waiting for the password.
pub async fn insert_pending_link(
    db: impl AnyExecutor<'_>,
    pending: &NewPendingLink<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO sso_pending_links (token_hash, user_id, issuer, subject, email, \
         session_kind, tries, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
    )
    .bind(pending.token_hash)
    .bind(pending.user_id)
    .bind(pending.issuer)
    .bind(pending.subject)
    .bind(pending.email)
    .bind(pending.session_kind)
    .bind(pending.now)
    .bind(pending.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A link waiting for the password, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingLink {
    /// The account.
    pub user_id: UserId,
    /// The provider.
    pub issuer: String,
    /// The person there.
    pub subject: String,
    /// The email the provider gave.
    pub email: String,
    /// The session to make once confirmed.
    pub session_kind: String,
}

/// Spends one try of the waiting link and returns it; `None` when it is unknown, used,
/// expired or out of tries.
pub async fn take_link_try(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    max_tries: i64,
    now: i64,
) -> Result<Option<PendingLink>, DbError> {
    Ok(sqlx::query_as(
        "UPDATE sso_pending_links SET tries = tries + 1 \
         WHERE token_hash = $1 AND expires_at > $2 AND tries < $3 \
         RETURNING user_id, issuer, subject, email, session_kind",
    )
    .bind(token_hash)
    .bind(now)
    .bind(max_tries)
    .fetch_optional(db)
    .await?)
}

/// Uses the waiting link up; `false` if another request did first.
pub async fn finish_pending_link(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM sso_pending_links WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
