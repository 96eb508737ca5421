//! Rate-limit counters kept in the database, so every server instance sees the same
//! counts (a limit held in one process's memory is a limit per instance).

use super::{AnyExecutor, DbError};

/// Counts one hit on `bucket` and returns the hits so far in its current window and when
/// that window started. A window opens at the first hit after the previous one ended and
/// lasts `window` seconds, so a burst is judged the same whenever it starts. One atomic
/// upsert: concurrent hits never lose counts.
pub async fn hit(
    db: impl AnyExecutor<'_>,
    bucket: &str,
    now: i64,
    window: i64,
) -> Result<(i64, i64), DbError> {
    Ok(sqlx::query_as(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket) DO UPDATE SET \
           hits = CASE WHEN rate_limits.window_start > $2 - $3 \
                       THEN rate_limits.hits + 1 ELSE 1 END, \
           window_start = CASE WHEN rate_limits.window_start > $2 - $3 \
                               THEN rate_limits.window_start ELSE $2 END \
         RETURNING hits, window_start",
    )
    .bind(bucket)
    .bind(now)
    .bind(window)
    .fetch_one(db)
    .await?)
}
