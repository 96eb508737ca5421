//! The data-access layer: one set of queries for SQLite (embedded default) and
//! PostgreSQL (production), through sqlx's `Any` driver.
//!
//! The schema sticks to `TEXT` and `BIGINT` (flags as 0/1; times in unix seconds, except
//! `images.created_us`, which is microseconds so uploads within one second still list in
//! order) so a single migration folder and a single query text serve both engines;
//! placeholders are `$N`, which both accept. Every piece of shared state lives here,
//! never in process memory, so any number of server instances can share one database.
//!
//! Queries are free functions over any [`AnyExecutor`]: the pool, where each statement
//! commits alone, or a [`Tx`] from [`Db::begin`], so a flow that writes more than once
//! commits all of its writes or none. Ids are decoded into the types of [`ids`].

pub mod audit;
pub mod ids;
pub mod images;
pub mod lockout;
pub mod mfa;
pub mod passkeys;
pub mod sessions;
pub mod shares;
pub mod sso;
pub mod throttle;
pub mod tokens;
pub mod upload_keys;
pub mod usage;
pub mod user_keys;
pub mod users;

use std::time::Duration;

use sqlx::any::{Any, AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use sqlx::any::AnyExecutor;

/// An open transaction: pass `&mut *tx` to the query functions, then
/// [`commit`](sqlx::Transaction::commit). Dropped without a commit, it rolls back.
pub type Tx = sqlx::Transaction<'static, Any>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Which engine a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A connection pool plus the engine behind it.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
}

/// Database failures, kept apart from client errors: these are logged and answered as
/// 503/500, never shown.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value is not what the code wrote (damaged or edited by hand).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The SQLite file's folder could not be created.
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Db {
    /// Connects to `url` (`sqlite:…` or `postgres://…`), creating the SQLite file and
    /// its folder when needed.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        let url = match engine {
            Engine::Sqlite => prepare_sqlite(url)?,
            Engine::Postgres => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == Engine::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers run during a write; FULL makes a commit
                        // survive a crash the moment it returns (acknowledged = durable).
                        // `secure_delete` zeroes what a delete or update frees, so a
                        // destroyed user key does not live on in a free page.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                             PRAGMA secure_delete = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Self { pool, engine })
    }

    /// Applies pending migrations, then gives every session an id (sessions made before
    /// sessions had ids get one here; ids are random, which SQL cannot portably make).
    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.pool).await?;
        sessions::backfill_ids(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads and then writes can fail with
    /// "database is locked" when another one did the same, whatever the busy timeout.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }

    /// The pool, for the query modules.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine behind the pool.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// On SQLite, copies the write-ahead log into the database file and truncates it.
    /// `secure_delete` zeroes the file's copy of a deleted row, but older frames of the
    /// log still hold the page as it was; after this, neither file does. `false` when
    /// readers kept part of the log in use (the next checkpoint finishes the job).
    /// PostgreSQL keeps dead rows until `VACUUM`, which this does not attempt.
    pub async fn scrub_deleted(&self) -> Result<bool, DbError> {
        if self.engine != Engine::Sqlite {
            return Ok(true);
        }
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await?;
        Ok(busy == 0)
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

impl Db {
    /// Deletes what no rule needs any more: rate-limit windows closed for a day, sessions
    /// and email tokens a day past their expiry or revocation, upload idempotency keys a
    /// day old. Returns rows deleted. Each delete stands alone (a failure midway leaves
    /// only less purged, nothing inconsistent), so no transaction holds the write lock
    /// for all of them.
    pub async fn purge_stale(&self, now: i64) -> Result<u64, DbError> {
        const GRACE: i64 = 24 * 3600;
        let mut deleted = 0;
        for sql in [
            "DELETE FROM rate_limits WHERE window_start < $1",
            "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1",
            "DELETE FROM email_tokens WHERE expires_at < $1",
            "DELETE FROM login_failures WHERE updated_at < $1 \
             AND (locked_until IS NULL OR locked_until < $1)",
            // Their grace is their lifetime: a day-old key answers nothing any more.
            "DELETE FROM upload_keys WHERE created_at < $1",
            "DELETE FROM sso_flows WHERE expires_at < $1",
            "DELETE FROM sso_pending_links WHERE expires_at < $1",
        ] {
            deleted += sqlx::query(sql)
                .bind(now - GRACE)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }
}

/// Ensures the SQLite file's folder exists and the URL asks to create the file.
fn prepare_sqlite(url: &str) -> Result<String, DbError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if let Some(parent) = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists())
    {
        // A folder we create for the database is the owner's alone.
        imagevault_durable::private_dir(parent).map_err(|source| DbError::Folder {
            path: parent.display().to_string(),
            source,
        })?;
    }
    Ok(if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Now, in unix seconds: the unit of every time column but `images.created_us`.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Whether `err` is a unique-constraint violation (a duplicate email, a reused token).
pub fn is_unique_violation(err: &DbError) -> bool {
    matches!(err, DbError::Sqlx(e) if e
        .as_database_error()
        .is_some_and(sqlx::error::DatabaseError::is_unique_violation))
}
