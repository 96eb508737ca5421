//! Key custody as a service: finding (or creating) a user's data key, and checking at
//! start-up that the master key file matches what the database holds. The cryptography
//! itself is [`crate::vault`]'s; this module is where it meets the database.

use crate::config::Config;
use crate::db::ids::UserId;
use crate::db::{Db, DbError, user_keys};
use crate::vault::keyring::{Keyring, UserKey};
use crate::vault::{MasterKeys, VaultError};

/// Why a user's key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The key file failed, or the stored key does not unwrap (an integrity failure).
    #[error("user key of {user}: {source}")]
    Vault {
        /// Whose key.
        user: UserId,
        /// What failed.
        source: VaultError,
    },
}

/// The user's data key and the master-key version that wraps it (recorded in each blob
/// header), creating and storing the key on first use.
#[tracing::instrument(skip_all, fields(user.id = %user))]
pub async fn user_key(
    db: &Db,
    master: &MasterKeys,
    user: UserId,
) -> Result<(UserKey, u32), KeyError> {
    let vault_error = |source| KeyError::Vault { user, source };
    let wrapped = if let Some(wrapped) = user_keys::get(db.pool(), user).await? {
        wrapped
    } else {
        let fresh = master.wrap(&UserKey::generate()).map_err(vault_error)?;
        user_keys::insert_if_absent(db.pool(), user, &fresh).await?;
        // Another request may have stored its key first: everyone uses the stored one.
        user_keys::get(db.pool(), user)
            .await?
            .ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))?
    };
    let key = master.unwrap(&wrapped).map_err(|e| {
        tracing::error!(target: "security", event = "integrity", error = %e, "user key does not unwrap");
        vault_error(e)
    })?;
    Ok((key, wrapped.kek_version))
}

/// Records each master-key version's fingerprint the first time any instance sees it,
/// and fails if another instance recorded a different key under the same version.
pub async fn check_fingerprints(db: &Db, ring: &Keyring) -> Result<(), MismatchedKey> {
    for (version, fingerprint) in ring.fingerprints() {
        user_keys::record_fingerprint(db.pool(), version, &fingerprint).await?;
        if user_keys::fingerprint(db.pool(), version).await?.as_ref() != Some(&fingerprint) {
            return Err(MismatchedKey::Version(version));
        }
    }
    Ok(())
}

/// A key file that disagrees with the database.
#[derive(Debug, thiserror::Error)]
pub enum MismatchedKey {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Another instance recorded a different key under this version.
    #[error("master key version {0} differs from the one other instances recorded")]
    Version(u32),
}

/// Loads `MASTER_KEY_FILE`, creating it on first run — but never when the database
/// already holds wrapped keys: a fresh master key could not unwrap them, so a missing
/// file there means a misconfiguration or a lost key, not a first run. Returns a reason
/// naming the file and what to do.
pub async fn load_master_keys(config: &Config, db: &Db) -> Result<Keyring, String> {
    let path = &config.master_key_file;
    let db_error = |e: DbError| e.to_string();
    let in_use = user_keys::kek_versions_in_use(db.pool())
        .await
        .map_err(db_error)?;
    let keyring = match Keyring::load(path).map_err(|e| e.to_string())? {
        Some(keyring) => keyring,
        None if in_use.is_empty() => {
            tracing::info!(path = %path.display(), "created a new master key file");
            Keyring::create(path).map_err(|e| e.to_string())?
        }
        None => {
            return Err(format!(
                "{} does not exist, but the database holds user keys wrapped by master key \
                 version(s) {in_use:?}; restore the key file (a new one cannot decrypt them)",
                path.display()
            ));
        }
    };
    match check_fingerprints(db, &keyring).await {
        Ok(()) => {}
        Err(MismatchedKey::Db(e)) => return Err(db_error(e)),
        Err(MismatchedKey::Version(version)) => {
            return Err(format!(
                "{} holds a different master key version {version} than the one other \
                 instances recorded; every instance needs the same key file",
                path.display()
            ));
        }
    }
    for version in &in_use {
        let unwraps = match user_keys::sample_wrapped(db.pool(), *version)
            .await
            .map_err(db_error)?
        {
            Some(sample) => keyring.unwrap(&sample).is_ok(),
            None => true,
        };
        if !keyring.has_version(*version) || !unwraps {
            return Err(format!(
                "{} does not hold the master key version {version} that wraps stored user keys",
                path.display()
            ));
        }
    }
    Ok(keyring)
}
