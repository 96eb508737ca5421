//! The audit log's rows and its chain head. The chain itself (what the MAC covers, how
//! a row is checked) is [`crate::audit`]'s; here are only the statements.
//!
//! Rows are read as plain text, never as typed ids: `audit verify` must be able to read
//! (and report) a row someone edited into nonsense.

use super::{AnyExecutor, DbError, Tx};

/// One row as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Row {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// What happened (an [`crate::audit::Kind`] name).
    pub kind: String,
    /// The account concerned, if any.
    pub user_id: Option<String>,
    /// The coarse client address, if there was a client.
    pub address_hint: Option<String>,
    /// A JSON object with the event's particulars (never a secret or a filename).
    pub detail: String,
    /// The master-key version whose audit key made `mac`.
    pub key_version: i64,
    /// Hex HMAC-SHA256 over the previous row's mac and this row.
    pub mac: String,
}

const COLUMNS: &str = "seq, at, kind, user_id, address_hint, detail, key_version, mac";

/// Takes the next `seq` and the previous row's mac. Run first in the appending
/// transaction: the update locks the head row (PostgreSQL) or the database (SQLite's
/// `BEGIN IMMEDIATE`), so appends take turns until the transaction ends.
pub async fn claim_next(tx: &mut Tx) -> Result<(i64, String), DbError> {
    Ok(
        sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, mac")
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// Inserts the row claimed by [`claim_next`] and moves the head to it.
pub async fn append(tx: &mut Tx, row: &Row) -> Result<(), DbError> {
    let sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(row.seq)
        .bind(row.at)
        .bind(&row.kind)
        .bind(&row.user_id)
        .bind(&row.address_hint)
        .bind(&row.detail)
        .bind(row.key_version)
        .bind(&row.mac)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE audit_head SET mac = $1 WHERE id = 1")
        .bind(&row.mac)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The head: the last seq appended and its mac.
pub async fn head(db: impl AnyExecutor<'_>) -> Result<(i64, String), DbError> {
    Ok(
        sqlx::query_as("SELECT seq, mac FROM audit_head WHERE id = 1")
            .fetch_one(db)
            .await?,
    )
}

/// Up to `limit` rows after `after`, oldest first (for verifying and exporting).
pub async fn after(db: impl AnyExecutor<'_>, after: i64, limit: i64) -> Result<Vec<Row>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// What a newest-first listing keeps.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    /// Only this kind.
    pub kind: Option<&'a str>,
    /// Only kinds starting with this (a family, such as `share_`).
    pub kind_prefix: Option<&'a str>,
    /// Only this account's events.
    pub user_id: Option<&'a str>,
    /// Only rows older than this seq (the paging cursor).
    pub before: Option<i64>,
}

/// Up to `limit` rows matching `filter`, newest first.
pub async fn newest(
    db: impl AnyExecutor<'_>,
    filter: &Filter<'_>,
    limit: i64,
) -> Result<Vec<Row>, DbError> {
    // Each condition is switched off by a NULL parameter, so one query text serves
    // every combination of filters.
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log \
         WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR user_id = $2) \
         AND ($3 IS NULL OR seq < $3) AND ($5 IS NULL OR kind LIKE $5 ESCAPE '\\') \
         ORDER BY seq DESC LIMIT $4"
    );
    // `_` and `%` in the prefix are themselves, not wildcards.
    let pattern = filter.kind_prefix.map(|p| {
        let escaped = p
            .replace('\\', "\\\\")
            .replace('_', "\\_")
            .replace('%', "\\%");
        format!("{escaped}%")
    });
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(filter.kind)
        .bind(filter.user_id)
        .bind(filter.before)
        .bind(limit)
        .bind(pattern)
        .fetch_all(db)
        .await?)
}

/// How many events of `kind` happened since `since` (unix seconds).
pub async fn count_since(db: impl AnyExecutor<'_>, kind: &str, since: i64) -> Result<i64, DbError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND at >= $2")
            .bind(kind)
            .bind(since)
            .fetch_one(db)
            .await?,
    )
}
