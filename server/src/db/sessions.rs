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
    fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Cookie => "cookie",
        }
    }
}

/// A live session as authentication finds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveSession {
    /// The session.
    pub id: SessionId,
    /// Its account.
    pub user_id: UserId,
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
    /// Expiry time.
    pub expires_at: i64,
}

/// Stores a new session and returns its id.
pub async fn insert(db: impl AnyExecutor<'_>, new: &NewSession<'_>) -> Result<SessionId, DbError> {
    let id = SessionId::random();
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, kind, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(new.token_hash)
    .bind(new.user_id)
    .bind(new.kind.as_str())
    .bind(new.now)
    .bind(new.expires_at)
    .execute(db)
    .await?;
    Ok(id)
}

/// The live session of `kind` with this token hash: not revoked, not expired.
pub async fn live(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    kind: SessionKind,
    now: i64,
) -> Result<Option<LiveSession>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id FROM sessions WHERE token_hash = $1 AND kind = $2 \
         AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .bind(now)
    .fetch_optional(db)
    .await?)
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
