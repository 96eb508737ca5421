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
        Ok(row.and_then(|(version, wrapped)| {
            Some(WrappedKey {
                kek_version: u32::try_from(version).ok()?,
                bytes: STANDARD.decode(wrapped).ok()?,
            })
        }))
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
        Ok(wrapped.and_then(|w| {
            Some(WrappedKey {
                kek_version: version,
                bytes: STANDARD.decode(w).ok()?,
            })
        }))
    }
}
