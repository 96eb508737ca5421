//! Login sessions, stored as token hashes with expiry and revocation.

use super::{Db, DbError};

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

impl Db {
    /// Stores a new session.
    pub async fn insert_session(
        &self,
        token_hash: &str,
        user_id: &str,
        kind: SessionKind,
        now: i64,
        expires_at: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, kind, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(kind.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The user of a live session of `kind`: not revoked, not expired.
    pub async fn session_user(
        &self,
        token_hash: &str,
        kind: SessionKind,
        now: i64,
    ) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT user_id FROM sessions WHERE token_hash = $1 AND kind = $2 \
             AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Revokes one session.
    pub async fn revoke_session(&self, token_hash: &str, now: i64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Revokes every session of a user ("log out everywhere", password reset); returns
    /// how many were live.
    pub async fn revoke_all_sessions(&self, user_id: &str, now: i64) -> Result<u64, DbError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
