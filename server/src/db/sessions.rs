//! Sign-in sessions, stored as token hashes with an id, expiry and revocation.

use super::ids::{SessionId, UserId};
use super::{AnyExecutor, DbError};

/// How the session's token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// `Authorization: Bearer` (desktop, API clients).
    Bearer,
    /// Browser cookie (needs CSRF protection).
    Cookie,
}

impl SessionKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Cookie => "cookie",
        }
    }

    /// The stored name back; `None` for anything the code never wrote.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "bearer" => Some(Self::Bearer),
            "cookie" => Some(Self::Cookie),
            _ => None,
        }
    }
}

/// Last-used times are written at most this often per session (seconds): a list of
/// sessions needs "when, roughly", and a write per request would double the load.
pub const TOUCH_EVERY: i64 = 60;

/// A live session as authentication finds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveSession {
    /// The session.
    pub id: SessionId,
    /// Its account.
    pub user_id: UserId,
    /// The device that holds it (`None` for sessions made before devices were named).
    pub device_id: Option<String>,
    /// When it was last used (to [`TOUCH_EVERY`]).
    pub last_seen_at: i64,
    /// The account's `users.listing_version` (raised by `db::usage` with every insert and
    /// delete of its images), read with the session so that a cached listing page costs
    /// no second round trip.
    pub listing_version: i64,
}

/// When sessions die: an absolute expiry stored with each, and an idle limit.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Unused this many seconds, a session ends.
    pub idle: i64,
    /// A session ends this many seconds after it was made, however busy.
    pub max: i64,
}

/// A session to store.
pub struct NewSession<'a> {
    /// SHA-256 of the token (the token itself is never stored).
    pub token_hash: &'a str,
    /// The account.
    pub user_id: UserId,
    /// Bearer or cookie.
    pub kind: SessionKind,
    /// Creation time.
    pub now: i64,
    /// Absolute expiry time.
    pub expires_at: i64,
    /// The device it is issued to.
    pub device_id: &'a str,
    /// The client's `User-Agent`, shortened.
    pub user_agent: Option<&'a str>,
    /// A coarse client address (see `http::client::address_hint`).
    pub address_hint: Option<&'a str>,
}

/// Stores a new session and returns its id.
pub async fn insert(db: impl AnyExecutor<'_>, new: &NewSession<'_>) -> Result<SessionId, DbError> {
    let id = SessionId::random();
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, kind, created_at, expires_at, \
         device_id, last_seen_at, user_agent, address_hint) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $5, $8, $9)",
    )
    .bind(id)
    .bind(new.token_hash)
    .bind(new.user_id)
    .bind(new.kind.as_str())
    .bind(new.now)
    .bind(new.expires_at)
    .bind(new.device_id)
    .bind(new.user_agent)
    .bind(new.address_hint)
    .execute(db)
    .await?;
    Ok(id)
}

/// The live session of `kind` with this token hash: not revoked, not expired, not
/// idle longer than `idle` seconds.
pub async fn live(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    kind: SessionKind,
    now: i64,
    idle: i64,
) -> Result<Option<LiveSession>, DbError> {
    Ok(sqlx::query_as(
        "SELECT s.id, s.user_id, s.device_id, s.last_seen_at, u.listing_version \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.kind = $2 \
         AND s.revoked_at IS NULL AND s.expires_at > $3 AND s.last_seen_at > $4",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .bind(now)
    .bind(now - idle)
    .fetch_optional(db)
    .await?)
}

/// Records that the session was used now, unless that was recorded in the last
/// [`TOUCH_EVERY`] seconds (one conditional write, so concurrent requests do not pile up
/// writes).
pub async fn touch(db: impl AnyExecutor<'_>, id: SessionId, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at <= $3")
        .bind(id)
        .bind(now)
        .bind(now - TOUCH_EVERY)
        .execute(db)
        .await?;
    Ok(())
}

/// A session as its owner sees it in the list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// `bearer` or `cookie`.
    pub kind: String,
    /// When it was made.
    pub created_at: i64,
    /// When it was last used.
    pub last_seen_at: i64,
    /// The client's `User-Agent`, shortened.
    pub user_agent: Option<String>,
    /// A coarse client address.
    pub address_hint: Option<String>,
}

/// The user's live sessions, most recently used first.
pub async fn list(
    db: impl AnyExecutor<'_>,
    user: UserId,
    now: i64,
    idle: i64,
) -> Result<Vec<SessionInfo>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, kind, created_at, last_seen_at, user_agent, address_hint FROM sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND last_seen_at > $3 \
         ORDER BY last_seen_at DESC, created_at DESC LIMIT 200",
    )
    .bind(user)
    .bind(now)
    .bind(now - idle)
    .fetch_all(db)
    .await?)
}

/// Revokes one of the user's own sessions; `false` when it is not theirs or not live.
pub async fn revoke_own(
    db: impl AnyExecutor<'_>,
    user: UserId,
    id: SessionId,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(user)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes one session.
pub async fn revoke(db: impl AnyExecutor<'_>, id: SessionId, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Revokes the browser session with this token hash (a browser signing in again
/// replaces its session).
pub async fn revoke_cookie(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $2 \
         WHERE token_hash = $1 AND kind = 'cookie' AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes every session of a user ("sign out everywhere", password reset); returns how
/// many were live.
pub async fn revoke_all(
    db: impl AnyExecutor<'_>,
    user_id: UserId,
    now: i64,
) -> Result<u64, DbError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Gives an id to each session stored before sessions had one.
pub(super) async fn backfill_ids(pool: &sqlx::AnyPool) -> Result<(), DbError> {
    let unnamed: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM sessions WHERE id IS NULL")
            .fetch_all(pool)
            .await?;
    for token_hash in unnamed {
        sqlx::query("UPDATE sessions SET id = $1 WHERE token_hash = $2 AND id IS NULL")
            .bind(SessionId::random())
            .bind(token_hash)
            .execute(pool)
            .await?;
    }
    Ok(())
}
