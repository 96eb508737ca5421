//! Key custody as a service: finding (or creating) a user's data key, and checking at
//! start-up that the master key file matches what the database holds. The cryptography
//! itself is [`crate::vault`]'s; this module is where it meets the database.

use crate::config::Config;
use crate::db::ids::UserId;
use crate::db::user_keys::StoredKeys;
use crate::db::{Db, DbError, user_keys};
use crate::vault::keyring::{Keyring, UserKey, WrappedKey};
use crate::vault::token::{TokenKeys, TokenSettings};
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

/// The user's keys as stored, creating and storing a first key on first use.
async fn stored_keys(db: &Db, master: &MasterKeys, user: UserId) -> Result<StoredKeys, KeyError> {
    let mut stored = user_keys::get_keys(db.pool(), user).await?;
    // A key wrapped just as its master-key version was retired is not stored: the
    // second try wraps with the version that replaced it.
    for _ in 0..2 {
        if stored.is_some() {
            break;
        }
        let fresh = master
            .wrap(&UserKey::generate())
            .map_err(|source| KeyError::Vault { user, source })?;
        user_keys::insert_if_absent(db.pool(), user, &fresh).await?;
        // Another request may have stored its key first: everyone uses the stored one.
        stored = user_keys::get_keys(db.pool(), user).await?;
    }
    Ok(stored.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))?)
}

/// The user's current key, the master-key version that wraps it (recorded in what it
/// seals) and its epoch: for the user's own secrets (the TOTP seed), which a key
/// rotation re-seals in the transaction that makes the next key current.
#[tracing::instrument(skip_all, fields(user.id = %user))]
pub async fn user_key(
    db: &Db,
    master: &MasterKeys,
    user: UserId,
) -> Result<(UserKey, u32, u32), KeyError> {
    let stored = stored_keys(db, master, user).await?;
    let key = unwrap(master, user, &stored.current)?;
    Ok((key, stored.current.kek_version, stored.epoch))
}

/// The key a new image of the user is sealed with, like [`user_key`]; during a
/// `rotate-user-keys` it is the next key, so the images left under the old one only
/// ever grow fewer.
#[tracing::instrument(skip_all, fields(user.id = %user))]
pub async fn sealing_key(
    db: &Db,
    master: &MasterKeys,
    user: UserId,
) -> Result<(UserKey, u32, u32), KeyError> {
    let stored = stored_keys(db, master, user).await?;
    let (wrapped, epoch) = match stored.next {
        Some(next) => (next, stored.epoch + 1),
        None => (stored.current, stored.epoch),
    };
    Ok((unwrap(master, user, &wrapped)?, wrapped.kek_version, epoch))
}

/// The user's key of `epoch` (the current one, or the next during a rotation) and the
/// master-key version that wraps it; `None` when the user has no key of that epoch any
/// more (a rotation moved on: read the row again).
pub async fn user_key_at(
    db: &Db,
    master: &MasterKeys,
    user: UserId,
    epoch: u32,
) -> Result<Option<(UserKey, u32)>, KeyError> {
    let Some(stored) = user_keys::get_keys(db.pool(), user).await? else {
        return Ok(None);
    };
    let wrapped = if epoch == stored.epoch {
        stored.current
    } else if Some(epoch) == stored.epoch.checked_add(1)
        && let Some(next) = stored.next
    {
        next
    } else {
        return Ok(None);
    };
    let key = unwrap(master, user, &wrapped)?;
    Ok(Some((key, wrapped.kek_version)))
}

pub(crate) fn unwrap(
    master: &MasterKeys,
    user: UserId,
    wrapped: &WrappedKey,
) -> Result<UserKey, KeyError> {
    master.unwrap(wrapped).map_err(|source| {
        tracing::error!(target: "security", event = "integrity", error = %source, "user key does not unwrap");
        KeyError::Vault { user, source }
    })
}

/// Records each master-key version's fingerprint the first time any instance sees it,
/// and fails if another instance recorded a different key under the same version.
pub async fn check_fingerprints(db: &Db, keys: &MasterKeys) -> Result<(), MismatchedKey> {
    for (version, fingerprint) in keys.fingerprints()? {
        user_keys::record_fingerprint(db.pool(), version, &fingerprint).await?;
        if user_keys::fingerprint(db.pool(), version).await?.as_ref() != Some(&fingerprint) {
            return Err(MismatchedKey::Version(version));
        }
    }
    Ok(())
}

/// Master keys that disagree with the database, or cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MismatchedKey {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The key file or token failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Another instance recorded a different key under this version.
    #[error("master key version {0} differs from the one other instances recorded")]
    Version(u32),
}

/// Opens the master keys `MASTER_KEY_PROVIDER` names, creating the first one on a first
/// run — but never when the database already holds wrapped keys: a fresh master key
/// could not unwrap them, so a missing key there means a misconfiguration or a lost key,
/// not a first run. Then checks them against the database. Returns a reason naming the
/// file or token and what to do.
pub async fn load_master_keys(config: &Config, db: &Db) -> Result<MasterKeys, String> {
    let in_use = user_keys::kek_versions_in_use(db.pool())
        .await
        .map_err(|e| e.to_string())?;
    let (keys, variable) = match &config.pkcs11 {
        None => (
            open_key_file(&config.master_key_file, &in_use)
                .map_err(|reason| format!("MASTER_KEY_FILE: {reason}"))?,
            "MASTER_KEY_FILE",
        ),
        // Opening names the variable at fault itself (module, token, PIN or label).
        Some(settings) => (open_token(settings, db, &in_use).await?, "PKCS11_KEY_LABEL"),
    };
    check_against_database(db, &keys, &in_use)
        .await
        .map_err(|reason| format!("{variable}: {reason}"))?;
    Ok(keys)
}

/// Fails unless every instance recorded the same fingerprints and every master-key
/// version that wraps stored user keys is here and unwraps one of them.
async fn check_against_database(db: &Db, keys: &MasterKeys, in_use: &[u32]) -> Result<(), String> {
    let name = keys.name();
    match check_fingerprints(db, keys).await {
        Ok(()) => {}
        Err(MismatchedKey::Db(e)) => return Err(e.to_string()),
        Err(MismatchedKey::Vault(e)) => return Err(e.to_string()),
        Err(MismatchedKey::Version(version)) => {
            return Err(format!(
                "{name} holds a different master key version {version} than the one other \
                 instances recorded; every instance needs the same key file or token"
            ));
        }
    }
    let versions = keys.versions().map_err(|e| e.to_string())?;
    for version in in_use {
        let unwraps = match user_keys::sample_wrapped(db.pool(), *version)
            .await
            .map_err(|e| e.to_string())?
        {
            Some(sample) => keys.unwrap(&sample).is_ok(),
            None => true,
        };
        if !versions.contains(version) || !unwraps {
            return Err(format!(
                "{name} does not hold the master key version {version} that wraps stored user keys"
            ));
        }
    }
    Ok(())
}

fn open_key_file(path: &std::path::Path, in_use: &[u32]) -> Result<MasterKeys, String> {
    let ring = match Keyring::load(path).map_err(|e| e.to_string())? {
        Some(ring) => ring,
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
    Ok(MasterKeys::new(path.to_path_buf(), ring))
}

async fn open_token(
    settings: &TokenSettings,
    db: &Db,
    in_use: &[u32],
) -> Result<MasterKeys, String> {
    let token = TokenKeys::open(settings).map_err(|e| e.to_string())?;
    let keys = MasterKeys::in_token(token);
    if keys.versions().map_err(|e| e.to_string())?.is_empty() {
        if !in_use.is_empty() {
            return Err(format!(
                "PKCS11_KEY_LABEL: the {} does not exist, but the database holds user keys \
                 wrapped by master key version(s) {in_use:?}; point PKCS11_TOKEN_LABEL and \
                 PKCS11_KEY_LABEL at the token that holds them (a new key cannot decrypt them)",
                keys.name()
            ));
        }
        let floor = user_keys::newest_recorded_version(db.pool())
            .await
            .map_err(|e| e.to_string())?;
        let version = keys.rotate(floor).map_err(|e| e.to_string())?;
        tracing::info!(
            key = keys.name(),
            version,
            "generated a master key in the token"
        );
    }
    Ok(keys)
}
