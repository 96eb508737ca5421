//! Wrapped user keys (base64 of the AES-KW output) and the master-key versions in use.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::ids::UserId;
use super::{AnyExecutor, DbError};
use crate::vault::keyring::WrappedKey;

/// Stores `wrapped` for `user_id` unless the user already has a key (so concurrent
/// first uploads agree on one key: read it back with [`get`] afterwards) or its master
/// key version is being retired (then nothing is stored: wrap again with the newest).
pub async fn insert_if_absent(
    db: impl AnyExecutor<'_>,
    user_id: UserId,
    wrapped: &WrappedKey,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO user_keys (user_id, kek_version, wrapped) SELECT $1, $2, $3 \
         WHERE NOT EXISTS (SELECT 1 FROM master_key_checks \
                           WHERE version = $2 AND retired_at IS NOT NULL) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(i64::from(wrapped.kek_version))
    .bind(STANDARD.encode(&wrapped.bytes))
    .execute(db)
    .await?;
    Ok(())
}

/// A user's keys as stored: the current one and, while `rotate-user-keys` moves the
/// user's images, the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKeys {
    /// How many keys the user had before the current one.
    pub epoch: u32,
    /// The key of images at `epoch`.
    pub current: WrappedKey,
    /// The key of images at `epoch + 1`, during a rotation.
    pub next: Option<WrappedKey>,
}

/// The user's keys, if any.
pub async fn get_keys(
    db: impl AnyExecutor<'_>,
    user_id: UserId,
) -> Result<Option<StoredKeys>, DbError> {
    type Row = (i64, i64, String, Option<i64>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT epoch, kek_version, wrapped, next_kek_version, next_wrapped \
         FROM user_keys WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    let Some((epoch, version, wrapped, next_version, next_wrapped)) = row else {
        return Ok(None);
    };
    let user = user_id.to_string();
    let next = match (next_version, next_wrapped) {
        (Some(version), Some(wrapped)) => Some(decode(&user, version, &wrapped)?),
        _ => None,
    };
    Ok(Some(StoredKeys {
        epoch: u32::try_from(epoch).map_err(|_| DbError::Corrupt(format!("epoch of {user}")))?,
        current: decode(&user, version, &wrapped)?,
        next,
    }))
}

/// Stores the key the user's images move to, unless one is stored already or the key
/// epoch moved on; read back with [`get_keys`].
pub async fn set_next(
    db: impl AnyExecutor<'_>,
    user_id: UserId,
    epoch: u32,
    next: &WrappedKey,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE user_keys SET next_kek_version = $1, next_wrapped = $2 \
         WHERE user_id = $3 AND epoch = $4 AND next_wrapped IS NULL",
    )
    .bind(i64::from(next.kek_version))
    .bind(STANDARD.encode(&next.bytes))
    .bind(user_id)
    .bind(i64::from(epoch))
    .execute(db)
    .await?;
    Ok(())
}

/// Makes the next key the current one (destroying the old one) if the user is still at
/// `epoch` with a next key; `false` otherwise. Run it in the transaction that checks no
/// image is left at `epoch`: the update locks the row first, so an upload committing an
/// image at `epoch` at the same time is seen (see [`hold`]).
pub async fn promote(
    db: impl AnyExecutor<'_>,
    user_id: UserId,
    epoch: u32,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE user_keys SET kek_version = next_kek_version, wrapped = next_wrapped, \
         epoch = epoch + 1, next_kek_version = NULL, next_wrapped = NULL \
         WHERE user_id = $1 AND epoch = $2 AND next_wrapped IS NOT NULL",
    )
    .bind(user_id)
    .bind(i64::from(epoch))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a key of `epoch` may still seal a new image: it is the current key or the
/// next one. Inside the upload's transaction; on PostgreSQL it share-locks the key row,
/// so a concurrent [`promote`] waits for the upload to commit (SQLite transactions are
/// serial already).
pub async fn epoch_is_live(
    tx: &mut super::Tx,
    engine: super::Engine,
    user_id: UserId,
    epoch: u32,
) -> Result<bool, DbError> {
    let sql = match engine {
        super::Engine::Sqlite => "SELECT epoch, next_wrapped FROM user_keys WHERE user_id = $1",
        super::Engine::Postgres => {
            "SELECT epoch, next_wrapped FROM user_keys WHERE user_id = $1 FOR SHARE"
        }
    };
    let row: Option<(i64, Option<String>)> = sqlx::query_as(sql)
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some_and(|(current, next)| {
        let epoch = i64::from(epoch);
        epoch == current || (next.is_some() && epoch == current + 1)
    }))
}

/// The master-key versions that wrap stored user keys (current and next).
pub async fn kek_versions_in_use(db: impl AnyExecutor<'_>) -> Result<Vec<u32>, DbError> {
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT kek_version FROM user_keys UNION \
         SELECT next_kek_version FROM user_keys WHERE next_kek_version IS NOT NULL",
    )
    .fetch_all(db)
    .await?;
    Ok(versions
        .into_iter()
        .filter_map(|v| u32::try_from(v).ok())
        .collect())
}

/// One stored key wrapped by master-key `version`, to check the key file against.
pub async fn sample_wrapped(
    db: impl AnyExecutor<'_>,
    version: u32,
) -> Result<Option<WrappedKey>, DbError> {
    let wrapped: Option<String> =
        sqlx::query_scalar("SELECT wrapped FROM user_keys WHERE kek_version = $1 LIMIT 1")
            .bind(i64::from(version))
            .fetch_optional(db)
            .await?;
    wrapped
        .map(|w| decode("(sample)", i64::from(version), &w))
        .transpose()
}

fn decode(user: &str, version: i64, wrapped: &str) -> Result<WrappedKey, DbError> {
    let corrupt = || DbError::Corrupt(format!("user_keys row of {user}"));
    Ok(WrappedKey {
        kek_version: u32::try_from(version).map_err(|_| corrupt())?,
        bytes: STANDARD.decode(wrapped).map_err(|_| corrupt())?,
    })
}

/// Records the fingerprint of master-key `version` unless one is recorded already; read
/// the recorded one back with [`fingerprint`], so every instance can check it holds the
/// same key as the others.
pub async fn record_fingerprint(
    db: impl AnyExecutor<'_>,
    version: u32,
    fingerprint: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO master_key_checks (version, fingerprint) VALUES ($1, $2) \
         ON CONFLICT (version) DO NOTHING",
    )
    .bind(i64::from(version))
    .bind(fingerprint)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks master-key `version` as being retired: no new user key wrapped by it is stored.
pub async fn mark_retired(db: impl AnyExecutor<'_>, version: u32) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE master_key_checks SET retired_at = $1 WHERE version = $2 AND retired_at IS NULL",
    )
    .bind(super::now())
    .bind(i64::from(version))
    .execute(db)
    .await?;
    Ok(())
}

/// The newest master-key version ever recorded (0 when none): retired versions stay
/// recorded, so their numbers are never given to a new key.
pub async fn newest_recorded_version(db: impl AnyExecutor<'_>) -> Result<u32, DbError> {
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM master_key_checks")
        .fetch_one(db)
        .await?;
    Ok(newest.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
}

/// The fingerprint recorded for master-key `version`.
pub async fn fingerprint(
    db: impl AnyExecutor<'_>,
    version: u32,
) -> Result<Option<String>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT fingerprint FROM master_key_checks WHERE version = $1")
            .bind(i64::from(version))
            .fetch_optional(db)
            .await?,
    )
}

/// Which of a user's wrapped keys: the current one, or the next during a
/// `rotate-user-keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `kek_version`, `wrapped`.
    Current,
    /// `next_kek_version`, `next_wrapped`.
    Next,
}

impl Slot {
    /// Its columns: the master-key version and the wrapped key.
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Self::Current => ("kek_version", "wrapped"),
            Self::Next => ("next_kek_version", "next_wrapped"),
        }
    }
}

/// Up to `limit` stored keys in `slot` wrapped by a master-key version older than
/// `version` (for rotation; keys a newer, concurrent rotation already rewrapped are left
/// alone).
pub async fn older_than(
    db: impl AnyExecutor<'_>,
    slot: Slot,
    version: u32,
    limit: i64,
) -> Result<Vec<(UserId, WrappedKey)>, DbError> {
    let (kek, wrapped) = slot.columns();
    let sql = format!(
        "SELECT user_id, {kek}, {wrapped} FROM user_keys WHERE {kek} < $1 \
         ORDER BY user_id LIMIT $2"
    );
    let rows: Vec<(UserId, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(version))
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.into_iter()
        .map(|(user, version, wrapped)| Ok((user, decode(&user.to_string(), version, &wrapped)?)))
        .collect()
}

/// Replaces a user's wrapped key in `slot` if it is still `old`; `false` if someone
/// changed it meanwhile (another rotation), which is never an error.
pub async fn rewrap(
    db: impl AnyExecutor<'_>,
    slot: Slot,
    user_id: UserId,
    old: &WrappedKey,
    new: &WrappedKey,
) -> Result<bool, DbError> {
    let (kek, wrapped) = slot.columns();
    let sql = format!(
        "UPDATE user_keys SET {kek} = $1, {wrapped} = $2 \
         WHERE user_id = $3 AND {kek} = $4 AND {wrapped} = $5"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(new.kek_version))
        .bind(STANDARD.encode(&new.bytes))
        .bind(user_id)
        .bind(i64::from(old.kek_version))
        .bind(STANDARD.encode(&old.bytes))
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every user that has a key, in a stable order.
pub async fn users_with_keys(db: impl AnyExecutor<'_>) -> Result<Vec<UserId>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT user_id FROM user_keys ORDER BY user_id")
            .fetch_all(db)
            .await?,
    )
}

/// Destroys a user's key: every blob sealed under it becomes unreadable at once.
pub async fn delete(db: impl AnyExecutor<'_>, user_id: UserId) -> Result<(), DbError> {
    sqlx::query("DELETE FROM user_keys WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}
