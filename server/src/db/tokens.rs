//! Single-use email tokens (verification, password reset), stored as hashes.

use super::ids::UserId;
use super::{AnyExecutor, DbError};

/// What a token is for; part of the lookup, so a reset token cannot verify an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Email verification (24 h).
    Verify,
    /// Password reset (1 h).
    Reset,
    /// Past a lockout: makes one browser a known device (24 h).
    Unlock,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::Unlock => "unlock",
        }
    }
}

/// Stores a token hash for `user_id`.
pub async fn insert(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    user_id: UserId,
    purpose: Purpose,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Uses up a token in one statement (so two concurrent uses cannot both win) and
/// returns its user; `None` for unknown, used, expired or wrong-purpose tokens.
pub async fn consume(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<UserId>, DbError> {
    Ok(sqlx::query_scalar(
        "UPDATE email_tokens SET used_at = $3 \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING user_id",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(db)
    .await?)
}

/// The user of a usable token without using it up.
pub async fn peek(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<UserId>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM email_tokens \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(db)
    .await?)
}

/// Uses up every open token of `purpose` for the user (after a reset, older reset
/// links must not work).
pub async fn revoke_all(
    db: impl AnyExecutor<'_>,
    user_id: UserId,
    purpose: Purpose,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = $3 \
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}
