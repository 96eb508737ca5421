//! What each account stores, against its quota. The counters sit on the user's row and
//! move in the transaction that adds or removes an image row: one conditional `UPDATE`
//! takes the row lock, so two instances can never both squeeze an upload into the last
//! bytes of a quota.

use super::ids::UserId;
use super::{AnyExecutor, DbError};

/// An account's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Usage {
    /// Bytes stored (images and thumbnails, as stored).
    pub bytes_used: i64,
    /// The account's own quota; `None` means the server's default.
    pub quota_bytes: Option<i64>,
    /// Images stored.
    pub image_count: i64,
}

/// The account's usage (`None` for an account that is gone).
pub async fn of(db: impl AnyExecutor<'_>, user: UserId) -> Result<Option<Usage>, DbError> {
    Ok(
        sqlx::query_as("SELECT bytes_used, quota_bytes, image_count FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(db)
            .await?,
    )
}

/// Adds `bytes` and one image to the account, only if that stays within its quota
/// (`default_quota` when it has none of its own). Returns whether it fit.
pub async fn take(
    tx: &mut super::Tx,
    user: UserId,
    bytes: i64,
    default_quota: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE users SET bytes_used = bytes_used + $2, image_count = image_count + 1 \
         WHERE id = $1 AND bytes_used + $2 <= COALESCE(quota_bytes, $3)",
    )
    .bind(user)
    .bind(bytes)
    .bind(default_quota)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives back what a deleted image took.
pub async fn give_back(tx: &mut super::Tx, user: UserId, bytes: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE users SET \
         bytes_used = CASE WHEN bytes_used > $2 THEN bytes_used - $2 ELSE 0 END, \
         image_count = CASE WHEN image_count > 0 THEN image_count - 1 ELSE 0 END \
         WHERE id = $1",
    )
    .bind(user)
    .bind(bytes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
