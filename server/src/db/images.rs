//! Image rows. Every query that a request can reach is scoped to the owner, so another
//! user's image id behaves exactly like an id that does not exist.

use super::{Db, DbError};

/// A stored image's metadata.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImageRow {
    /// Random id (UUID text); the blob names derive from it.
    pub id: String,
    /// The owning account.
    pub owner_id: String,
    /// Sanitised display name.
    pub filename: String,
    /// `image/jpeg`, `image/png` or `image/gif`.
    pub content_type: String,
    /// Bytes of the sanitised image.
    pub size: i64,
    /// Display width.
    pub width: i64,
    /// Display height.
    pub height: i64,
    /// Content type of the thumbnail.
    pub thumbnail_type: String,
    /// Upload time in unix microseconds.
    pub created_us: i64,
}

const COLUMNS: &str =
    "id, owner_id, filename, content_type, size, width, height, thumbnail_type, created_us";

/// Where a page of the listing starts: after this `(created_us, id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// Upload time of the last image of the previous page.
    pub created_us: i64,
    /// Its id.
    pub id: String,
}

impl Db {
    /// Inserts the row of an image whose blobs are already durable.
    pub async fn insert_image(&self, row: &ImageRow) -> Result<(), DbError> {
        let sql =
            format!("INSERT INTO images ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&row.id)
            .bind(&row.owner_id)
            .bind(&row.filename)
            .bind(&row.content_type)
            .bind(row.size)
            .bind(row.width)
            .bind(row.height)
            .bind(&row.thumbnail_type)
            .bind(row.created_us)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The owner's image with this id.
    pub async fn image(&self, owner_id: &str, id: &str) -> Result<Option<ImageRow>, DbError> {
        let sql = format!("SELECT {COLUMNS} FROM images WHERE id = $1 AND owner_id = $2");
        Ok(sqlx::query_as::<_, ImageRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(owner_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Up to `limit` of the owner's images, newest first, after `after`.
    pub async fn images_page(
        &self,
        owner_id: &str,
        after: Option<&After>,
        limit: i64,
    ) -> Result<Vec<ImageRow>, DbError> {
        let query = match after {
            None => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM images WHERE owner_id = $1 \
                     ORDER BY created_us DESC, id DESC LIMIT $2"
                );
                sqlx::query_as::<_, ImageRow>(sqlx::AssertSqlSafe(sql))
                    .bind(owner_id)
                    .bind(limit)
            }
            Some(after) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM images WHERE owner_id = $1 \
                     AND (created_us < $2 OR (created_us = $2 AND id < $3)) \
                     ORDER BY created_us DESC, id DESC LIMIT $4"
                );
                sqlx::query_as::<_, ImageRow>(sqlx::AssertSqlSafe(sql))
                    .bind(owner_id)
                    .bind(after.created_us)
                    .bind(after.id.clone())
                    .bind(limit)
            }
        };
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Deletes the owner's image row; `false` when there was none.
    pub async fn delete_image(&self, owner_id: &str, id: &str) -> Result<bool, DbError> {
        let done = sqlx::query("DELETE FROM images WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ids of every image of one owner (for account deletion).
    pub async fn image_ids_of(&self, owner_id: &str) -> Result<Vec<String>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM images WHERE owner_id = $1")
                .bind(owner_id)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Ids of every image (for `sweep`, which compares them with the blob store).
    pub async fn all_image_ids(&self) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT id FROM images")
            .fetch_all(self.pool())
            .await?)
    }

    /// Ids of images uploaded before `created_us` (for `sweep`).
    pub async fn image_ids_created_before(&self, created_us: i64) -> Result<Vec<String>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM images WHERE created_us < $1")
                .bind(created_us)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// The ids of the owner's next newer and next older image around `at`.
    pub async fn image_neighbours(
        &self,
        owner_id: &str,
        at: &After,
    ) -> Result<(Option<String>, Option<String>), DbError> {
        let newer = sqlx::query_scalar(
            "SELECT id FROM images WHERE owner_id = $1 \
             AND (created_us > $2 OR (created_us = $2 AND id > $3)) \
             ORDER BY created_us ASC, id ASC LIMIT 1",
        )
        .bind(owner_id)
        .bind(at.created_us)
        .bind(&at.id)
        .fetch_optional(self.pool())
        .await?;
        let older = sqlx::query_scalar(
            "SELECT id FROM images WHERE owner_id = $1 \
             AND (created_us < $2 OR (created_us = $2 AND id < $3)) \
             ORDER BY created_us DESC, id DESC LIMIT 1",
        )
        .bind(owner_id)
        .bind(at.created_us)
        .bind(&at.id)
        .fetch_optional(self.pool())
        .await?;
        Ok((newer, older))
    }
}
