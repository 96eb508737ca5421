//! Login failures and lockouts per key — a normalised email (kept for addresses with
//! and without an account alike, so lockout reveals nothing about registration), a
//! known device, or a client address. Failures older than a day are forgotten.

use super::{AnyExecutor, DbError};

/// Until when logins for `email` are refused, if a lock was ever set.
pub async fn locked_until(db: impl AnyExecutor<'_>, email: &str) -> Result<Option<i64>, DbError> {
    let until: Option<Option<i64>> =
        sqlx::query_scalar("SELECT locked_until FROM login_failures WHERE email = $1")
            .bind(email)
            .fetch_optional(db)
            .await?;
    Ok(until.flatten())
}

/// A failure this old no longer counts towards a lock.
const FAILURES_FORGOTTEN_AFTER: i64 = 24 * 3600;

/// Counts a failure atomically; returns the recent failures and the lockouts so far.
pub async fn record_failure(
    db: impl AnyExecutor<'_>,
    email: &str,
    now: i64,
) -> Result<(i64, i64), DbError> {
    Ok(sqlx::query_as(
        "INSERT INTO login_failures (email, failures, lockouts, updated_at) VALUES ($1, 1, 0, $2) \
         ON CONFLICT (email) DO UPDATE SET failures = CASE \
         WHEN login_failures.updated_at <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
         updated_at = $2 \
         RETURNING failures, lockouts",
    )
    .bind(email)
    .bind(now)
    .bind(now - FAILURES_FORGOTTEN_AFTER)
    .fetch_one(db)
    .await?)
}

/// Locks `email` until `until` if it still has at least `threshold` failures, and
/// starts counting again. Of several concurrent failures only one sees the count and
/// wins, so one burst is one lockout. Returns whether this call locked.
pub async fn lock(
    db: impl AnyExecutor<'_>,
    email: &str,
    threshold: i64,
    until: i64,
    now: i64,
) -> Result<bool, DbError> {
    let locked = sqlx::query(
        "UPDATE login_failures SET failures = 0, lockouts = lockouts + 1, locked_until = $2, \
         updated_at = $4 WHERE email = $1 AND failures >= $3",
    )
    .bind(email)
    .bind(until)
    .bind(threshold)
    .bind(now)
    .execute(db)
    .await?;
    Ok(locked.rows_affected() == 1)
}

/// A successful login (or a password reset) forgives everything.
pub async fn clear(db: impl AnyExecutor<'_>, email: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1")
        .bind(email)
        .execute(db)
        .await?;
    Ok(())
}
