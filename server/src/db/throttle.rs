//! Fixed-window rate-limit counters kept in the database, so every server instance sees
//! the same counts (a limit held in one process's memory is a limit per instance).

use super::{Db, DbError};

impl Db {
    /// Counts one hit on `bucket` in the window starting at `window_start` and returns the
    /// hits so far in that window. One atomic upsert: concurrent hits never lose counts.
    pub async fn hit(&self, bucket: &str, window_start: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket) DO UPDATE SET \
               hits = CASE WHEN rate_limits.window_start = excluded.window_start \
                           THEN rate_limits.hits + 1 ELSE 1 END, \
               window_start = excluded.window_start \
             RETURNING hits",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_one(self.pool())
        .await?)
    }

    /// Hits so far on `bucket` in the window starting at `window_start`, without counting.
    pub async fn hits(&self, bucket: &str, window_start: i64) -> Result<i64, DbError> {
        let hits: Option<i64> = sqlx::query_scalar(
            "SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_optional(self.pool())
        .await?;
        Ok(hits.unwrap_or(0))
    }
}
