//! Wrapped user keys (base64 of the AES-KW output) and the master-key versions in use.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Db, DbError};
use crate::vault::keyring::WrappedKey;

impl Db {
    /// Stores `wrapped` for `user_id` unless the user already has a key; returns the key
    /// that is stored afterwards (so concurrent first uploads agree on one key).
    pub async fn insert_user_key_if_absent(
        &self,
        user_id: &str,
        wrapped: &WrappedKey,
    ) -> Result<WrappedKey, DbError> {
        sqlx::query(
            "INSERT INTO user_keys (user_id, kek_version, wrapped) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(i64::from(wrapped.kek_version))
        .bind(STANDARD.encode(&wrapped.bytes))
        .execute(self.pool())
        .await?;
        self.user_key(user_id)
            .await?
            .ok_or_else(|| DbError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// The user's wrapped key, if any.
    pub async fn user_key(&self, user_id: &str) -> Result<Option<WrappedKey>, DbError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT kek_version, wrapped FROM user_keys WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|(version, wrapped)| decode(user_id, version, &wrapped))
            .transpose()
    }

    /// The master-key versions that wrap stored user keys.
    pub async fn kek_versions_in_use(&self) -> Result<Vec<u32>, DbError> {
        let versions: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT kek_version FROM user_keys")
            .fetch_all(self.pool())
            .await?;
        Ok(versions
            .into_iter()
            .filter_map(|v| u32::try_from(v).ok())
            .collect())
    }

    /// One stored key wrapped by master-key `version`, to check the key file against.
    pub async fn sample_wrapped_key(&self, version: u32) -> Result<Option<WrappedKey>, DbError> {
        let wrapped: Option<String> =
            sqlx::query_scalar("SELECT wrapped FROM user_keys WHERE kek_version = $1 LIMIT 1")
                .bind(i64::from(version))
                .fetch_optional(self.pool())
                .await?;
        wrapped
            .map(|w| decode("(sample)", i64::from(version), &w))
            .transpose()
    }
}

fn decode(user_id: &str, version: i64, wrapped: &str) -> Result<WrappedKey, DbError> {
    let corrupt = || DbError::Corrupt(format!("user_keys row of {user_id}"));
    Ok(WrappedKey {
        kek_version: u32::try_from(version).map_err(|_| corrupt())?,
        bytes: STANDARD.decode(wrapped).map_err(|_| corrupt())?,
    })
}

impl Db {
    /// Records the fingerprint of master-key `version` the first time any instance sees
    /// it and returns the recorded one, so every instance can check it holds the same
    /// key as the others.
    pub async fn master_key_fingerprint(
        &self,
        version: u32,
        fingerprint: &str,
    ) -> Result<String, DbError> {
        sqlx::query(
            "INSERT INTO master_key_checks (version, fingerprint) VALUES ($1, $2) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(i64::from(version))
        .bind(fingerprint)
        .execute(self.pool())
        .await?;
        Ok(
            sqlx::query_scalar("SELECT fingerprint FROM master_key_checks WHERE version = $1")
                .bind(i64::from(version))
                .fetch_one(self.pool())
                .await?,
        )
    }
}

impl Db {
    /// Up to `limit` stored keys wrapped by a master-key version older than `version`
    /// (for rotation; keys a newer, concurrent rotation already rewrapped are left alone).
    pub async fn user_keys_older_than(
        &self,
        version: u32,
        limit: i64,
    ) -> Result<Vec<(String, WrappedKey)>, DbError> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT user_id, kek_version, wrapped FROM user_keys WHERE kek_version < $1 \
             ORDER BY user_id LIMIT $2",
        )
        .bind(i64::from(version))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(user, version, wrapped)| Ok((user.clone(), decode(&user, version, &wrapped)?)))
            .collect()
    }

    /// Replaces a user's wrapped key if it is still `old`; `false` if someone changed
    /// it meanwhile (another rotation), which is never an error.
    pub async fn rewrap_user_key(
        &self,
        user_id: &str,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE user_keys SET kek_version = $1, wrapped = $2 \
             WHERE user_id = $3 AND kek_version = $4 AND wrapped = $5",
        )
        .bind(i64::from(new.kek_version))
        .bind(STANDARD.encode(&new.bytes))
        .bind(user_id)
        .bind(i64::from(old.kek_version))
        .bind(STANDARD.encode(&old.bytes))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Destroys a user's key: every blob sealed under it becomes unreadable at once.
    pub async fn delete_user_key(&self, user_id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM user_keys WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
