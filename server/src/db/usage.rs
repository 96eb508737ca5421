//! What each account stores, against its quota. The counters sit on the user's row and
//! move in the transaction that adds or removes an image row: one conditional `UPDATE`
//! takes the row lock, so two instances can never both squeeze an upload into the last
//! bytes of a quota. The same statements count the changes to the account's list of
//! images (`listing_version`, read with the session), which is what a cached listing
//! page is valid for.

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
        "UPDATE users SET bytes_used = bytes_used + $2, image_count = image_count + 1, \
         listing_version = listing_version + 1 \
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
         image_count = CASE WHEN image_count > 0 THEN image_count - 1 ELSE 0 END, \
         listing_version = listing_version + 1 \
         WHERE id = $1",
    )
    .bind(user)
    .bind(bytes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes one of the account's `max` concurrent upload leases, valid until `expires_at`;
/// `false` when all are taken. Expired leases (an instance that died mid-upload) are
/// cleared first. The no-op update takes the account's row lock on PostgreSQL (SQLite's
/// `BEGIN IMMEDIATE` serialises anyway), so two instances cannot both take the last one.
pub async fn lease(
    tx: &mut super::Tx,
    user: UserId,
    lease_id: &str,
    max: i64,
    now: i64,
    expires_at: i64,
) -> Result<bool, DbError> {
    sqlx::query("UPDATE users SET image_count = image_count WHERE id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM upload_leases WHERE user_id = $1 AND expires_at <= $2")
        .bind(user)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload_leases WHERE user_id = $1")
        .bind(user)
        .fetch_one(&mut **tx)
        .await?;
    if held >= max {
        return Ok(false);
    }
    sqlx::query("INSERT INTO upload_leases (id, user_id, expires_at) VALUES ($1, $2, $3)")
        .bind(lease_id)
        .bind(user)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Gives a lease back.
pub async fn release(db: impl AnyExecutor<'_>, lease_id: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM upload_leases WHERE id = $1")
        .bind(lease_id)
        .execute(db)
        .await?;
    Ok(())
}
