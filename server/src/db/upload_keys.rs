//! Upload idempotency keys: which image a user's `Idempotency-Key` first stored.
//!
//! A key counts for [`LIFETIME`] seconds from its first upload. Its row is written in
//! the transaction that commits the image, never before, so a failed upload leaves the
//! key free for the retry, and of two uploads racing with one key only one commits.

use super::ids::{ImageId, UserId};
use super::{AnyExecutor, DbError};

/// How long a key answers with its first image: 24 h (design.md).
pub const LIFETIME: i64 = 24 * 3600;

/// The image `key` stored for `owner`, if it did so less than [`LIFETIME`] ago.
pub async fn find(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    key: &str,
    now: i64,
) -> Result<Option<ImageId>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT image_id FROM upload_keys \
         WHERE owner_id = $1 AND idem_key = $2 AND created_at > $3",
    )
    .bind(owner)
    .bind(key)
    .bind(now - LIFETIME)
    .fetch_optional(db)
    .await?)
}

/// Records that `key` stored `image`, unless a live row already holds the key: `false`
/// then, and the caller must not commit its image. An expired row is taken over.
pub async fn claim(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    key: &str,
    image: ImageId,
    now: i64,
) -> Result<bool, DbError> {
    let claimed = sqlx::query(
        "INSERT INTO upload_keys (owner_id, idem_key, image_id, created_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (owner_id, idem_key) DO UPDATE \
         SET image_id = excluded.image_id, created_at = excluded.created_at \
         WHERE upload_keys.created_at <= $5",
    )
    .bind(owner)
    .bind(key)
    .bind(image)
    .bind(now)
    .bind(now - LIFETIME)
    .execute(db)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}
