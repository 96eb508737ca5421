//! Image rows. Every query that a request can reach is scoped to the owner, so another
//! user's image id behaves exactly like an id that does not exist.

use super::ids::{ImageId, UserId};
use super::{AnyExecutor, DbError};

/// A stored image's metadata.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImageRow {
    /// Random id; the blob names derive from it.
    pub id: ImageId,
    /// The owning account.
    pub owner_id: UserId,
    /// The sanitised display name, sealed under the owner's key of `key_epoch` with
    /// the image id bound in (base64; see `crate::image_names`).
    pub sealed_name: String,
    /// `image/jpeg`, `image/png` or `image/gif`.
    pub content_type: String,
    /// Bytes of the sanitised image (stored as `BIGINT`; a value out of range fails the
    /// query that read it, like a corrupt id).
    #[sqlx(try_from = "i64")]
    pub size: u64,
    /// Display width.
    #[sqlx(try_from = "i64")]
    pub width: u32,
    /// Display height.
    #[sqlx(try_from = "i64")]
    pub height: u32,
    /// Content type of the thumbnail.
    pub thumbnail_type: String,
    /// Upload time in unix microseconds.
    pub created_us: i64,
    /// Which of the owner's keys seals the blobs (and names them): 0 for the first,
    /// one more after each `rotate-user-keys`.
    #[sqlx(try_from = "i64")]
    pub key_epoch: u32,
}

/// The columns of an [`ImageRow`], in its order.
const COLUMNS: &str = "id, owner_id, sealed_name, content_type, size, width, height, thumbnail_type, \
                       created_us, key_epoch";

/// The columns of an [`ImageRow`] from the `images` table under `alias`, for queries of
/// other tables that join it: one list, so a new column reaches them all.
pub(super) fn columns_of(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|column| format!("{alias}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a page of the listing starts: after this `(created_us, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct After {
    /// Upload time of the last image of the previous page.
    pub created_us: i64,
    /// Its id.
    pub id: ImageId,
}

/// Inserts the row of an image whose blobs are already durable (its `filename` column,
/// the clear name of earlier versions, stays empty).
pub async fn insert(
    db: impl AnyExecutor<'_>,
    row: &ImageRow,
    stored_bytes: i64,
) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO images ({COLUMNS}, stored_bytes, filename) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '')"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(row.id)
        .bind(row.owner_id)
        .bind(&row.sealed_name)
        .bind(&row.content_type)
        .bind(i64::try_from(row.size).map_err(|e| DbError::Corrupt(e.to_string()))?)
        .bind(i64::from(row.width))
        .bind(i64::from(row.height))
        .bind(&row.thumbnail_type)
        .bind(row.created_us)
        .bind(i64::from(row.key_epoch))
        .bind(stored_bytes)
        .execute(db)
        .await?;
    Ok(())
}

/// The owner's image with this id.
pub async fn get(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    id: ImageId,
) -> Result<Option<ImageRow>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM images WHERE id = $1 AND owner_id = $2");
    Ok(sqlx::query_as::<_, ImageRow>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(owner)
        .fetch_optional(db)
        .await?)
}

/// Up to `limit` of the owner's images, newest first, after `after`.
pub async fn page(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<ImageRow>, DbError> {
    let query = match after {
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM images WHERE owner_id = $1 \
                 ORDER BY created_us DESC, id DESC LIMIT $2"
            );
            sqlx::query_as::<_, ImageRow>(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(limit)
        }
        Some(after) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM images WHERE owner_id = $1 \
                 AND (created_us < $2 OR (created_us = $2 AND id < $3)) \
                 ORDER BY created_us DESC, id DESC LIMIT $4"
            );
            sqlx::query_as::<_, ImageRow>(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(after.created_us)
                .bind(after.id)
                .bind(limit)
        }
    };
    Ok(query.fetch_all(db).await?)
}

/// Deletes the owner's image row; returns the bytes it held in the blob store and its
/// key epoch (which names its blobs), or `None` if the owner has no such image.
pub async fn delete(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    id: ImageId,
) -> Result<Option<(i64, u32)>, DbError> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "DELETE FROM images WHERE id = $1 AND owner_id = $2 RETURNING stored_bytes, key_epoch",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await?;
    row.map(|(stored, epoch)| Ok((stored, epoch_of(epoch)?)))
        .transpose()
}

fn epoch_of(epoch: i64) -> Result<u32, DbError> {
    u32::try_from(epoch).map_err(|_| DbError::Corrupt(format!("key epoch {epoch}")))
}

fn with_epochs(rows: Vec<(ImageId, i64)>) -> Result<Vec<(ImageId, u32)>, DbError> {
    rows.into_iter()
        .map(|(id, epoch)| Ok((id, epoch_of(epoch)?)))
        .collect()
}

/// `(id, key epoch)` of every image of one owner (for account deletion).
pub async fn ids_of(
    db: impl AnyExecutor<'_>,
    owner: UserId,
) -> Result<Vec<(ImageId, u32)>, DbError> {
    with_epochs(
        sqlx::query_as("SELECT id, key_epoch FROM images WHERE owner_id = $1")
            .bind(owner)
            .fetch_all(db)
            .await?,
    )
}

/// `(id, key epoch)` of every image (for `sweep`, which compares them with the blob
/// store).
pub async fn all_ids(db: impl AnyExecutor<'_>) -> Result<Vec<(ImageId, u32)>, DbError> {
    with_epochs(
        sqlx::query_as("SELECT id, key_epoch FROM images")
            .fetch_all(db)
            .await?,
    )
}

/// Up to `limit` ids of the owner's images sealed under key `epoch`.
pub async fn ids_at_epoch(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    epoch: u32,
    limit: i64,
) -> Result<Vec<ImageId>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM images WHERE owner_id = $1 AND key_epoch = $2 ORDER BY id LIMIT $3",
    )
    .bind(owner)
    .bind(i64::from(epoch))
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// How many of the owner's images are sealed under key `epoch`.
pub async fn count_at_epoch(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    epoch: u32,
) -> Result<i64, DbError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM images WHERE owner_id = $1 AND key_epoch = $2")
            .bind(owner)
            .bind(i64::from(epoch))
            .fetch_one(db)
            .await?,
    )
}

/// Points the row at blobs (and a name) sealed under key `to`, if it still points at
/// `from`; `false` when the image was deleted or moved meanwhile.
pub async fn move_epoch(
    db: impl AnyExecutor<'_>,
    id: ImageId,
    (from, to): (u32, u32),
    sealed_name: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE images SET key_epoch = $1, sealed_name = $2 WHERE id = $3 AND key_epoch = $4",
    )
    .bind(i64::from(to))
    .bind(sealed_name)
    .bind(id)
    .bind(i64::from(from))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A row of an earlier version, its name still in clear.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unsealed {
    /// The image.
    pub id: ImageId,
    /// Its owner.
    pub owner_id: UserId,
    /// The name in clear.
    pub filename: String,
    /// The owner's key that seals its blobs, and so its name.
    #[sqlx(try_from = "i64")]
    pub key_epoch: u32,
}

/// Up to `limit` rows whose names are still in clear, by id after `after`.
pub async fn unsealed(
    db: impl AnyExecutor<'_>,
    after: Option<ImageId>,
    limit: i64,
) -> Result<Vec<Unsealed>, DbError> {
    let after = after.map(|id| id.to_string()).unwrap_or_default();
    Ok(sqlx::query_as(
        "SELECT id, owner_id, filename, key_epoch FROM images \
         WHERE sealed_name = '' AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Stores the sealed name of a row of an earlier version and empties its clear name, if
/// the row is still unsealed at key `epoch`; `false` when it was deleted, moved or
/// sealed meanwhile.
pub async fn seal_name(
    db: impl AnyExecutor<'_>,
    id: ImageId,
    epoch: u32,
    sealed_name: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE images SET sealed_name = $1, filename = '' \
         WHERE id = $2 AND key_epoch = $3 AND sealed_name = ''",
    )
    .bind(sealed_name)
    .bind(id)
    .bind(i64::from(epoch))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ids of images uploaded before `created_us` (for `sweep`).
pub async fn ids_created_before(
    db: impl AnyExecutor<'_>,
    created_us: i64,
) -> Result<Vec<ImageId>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM images WHERE created_us < $1")
            .bind(created_us)
            .fetch_all(db)
            .await?,
    )
}

/// The id of the owner's next image around `at`: the next newer one when `newer`, the
/// next older one otherwise.
pub async fn neighbour(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    at: After,
    newer: bool,
) -> Result<Option<ImageId>, DbError> {
    let sql = if newer {
        "SELECT id FROM images WHERE owner_id = $1 \
         AND (created_us > $2 OR (created_us = $2 AND id > $3)) \
         ORDER BY created_us ASC, id ASC LIMIT 1"
    } else {
        "SELECT id FROM images WHERE owner_id = $1 \
         AND (created_us < $2 OR (created_us = $2 AND id < $3)) \
         ORDER BY created_us DESC, id DESC LIMIT 1"
    };
    Ok(sqlx::query_scalar(sql)
        .bind(owner)
        .bind(at.created_us)
        .bind(at.id)
        .fetch_optional(db)
        .await?)
}
