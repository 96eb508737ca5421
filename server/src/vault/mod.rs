//! Encryption at rest: envelope encryption with the keys kept apart from the data.
//!
//! - A versioned **master key** (KEK) lives only in `MASTER_KEY_FILE` ([`keyring`]) or
//!   inside a PKCS#11 token that never lets it out ([`token`]); never in the database.
//! - Each user has a random 256-bit **user key**, stored only wrapped by the current
//!   master key with AES Key Wrap (RFC 3394), together with that master key's version,
//!   so rotation rewraps user keys without touching any image.
//! - Each blob (image or thumbnail) gets its own encryption and MAC keys, derived with
//!   HKDF-SHA256 from the user key, the blob kind and the image id ([`blob`]). It is
//!   AES-256-CBC with a random IV, then HMAC-SHA256 over header, IV, ciphertext, image
//!   id and owner id, checked in constant time before any decryption: a flipped byte,
//!   a blob copied onto another row or user, or a thumbnail served as its image, all
//!   fail cleanly instead of yielding wrong bytes.
//!
//! All primitives come from RustCrypto crates (`aes`, `cbc`, `aes-kw`, `hmac`, `hkdf`,
//! `sha2`); nothing here implements a cipher or mode. Key material is zeroised on drop
//! and never printed.

pub mod blob;
pub mod keyring;
pub mod token;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use keyring::{AuditKey, Keyring, UserKey, WrappedKey};
use token::TokenKeys;

/// The master keys a running server uses, from the key file or a token. `rotate-keys`
/// may add a version while servers run: both follow it without a restart.
#[derive(Debug)]
pub struct MasterKeys(Custody);

#[derive(Debug)]
enum Custody {
    File(FileKeys),
    Token(TokenKeys),
}

impl MasterKeys {
    /// The key file at `path`, already loaded as `ring`.
    pub fn new(path: PathBuf, ring: Keyring) -> Self {
        Self(Custody::File(FileKeys::new(path, ring)))
    }

    /// Keys inside a token.
    pub fn in_token(keys: TokenKeys) -> Self {
        Self(Custody::Token(keys))
    }

    /// What the keys are called in messages: the key file, or the label and token.
    pub fn name(&self) -> String {
        match &self.0 {
            Custody::File(file) => file.path.display().to_string(),
            Custody::Token(token) => token.name().to_owned(),
        }
    }

    /// Wraps a new user key with the newest master key.
    pub fn wrap(&self, key: &UserKey) -> Result<WrappedKey, VaultError> {
        match &self.0 {
            Custody::File(file) => Ok(file.newest()?.wrap(key)),
            Custody::Token(token) => token.wrap(newest_of(&token.versions()?)?, key),
        }
    }

    /// Unwraps a stored user key.
    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<UserKey, VaultError> {
        match &self.0 {
            Custody::File(file) => file.unwrap(wrapped),
            Custody::Token(token) => token.unwrap(wrapped),
        }
    }

    /// The newest master-key version and its audit key: new audit rows are chained
    /// with it, so rows follow a rotation at once.
    pub fn current_audit_key(&self) -> Result<(u32, AuditKey), VaultError> {
        let version = match &self.0 {
            Custody::File(file) => file.newest()?.current_version(),
            Custody::Token(token) => newest_of(&token.versions()?)?,
        };
        Ok((version, self.audit_key(version)?))
    }

    /// The audit key of master-key `version` (kept after the version is retired), for
    /// checking rows chained under it.
    pub fn audit_key(&self, version: u32) -> Result<AuditKey, VaultError> {
        match &self.0 {
            Custody::File(file) => file.audit_key(version),
            Custody::Token(token) => token.audit_key(version),
        }
    }

    /// Versions that can unwrap, ascending, as they are now (the file re-read if it
    /// changed).
    pub fn versions(&self) -> Result<Vec<u32>, VaultError> {
        match &self.0 {
            Custody::File(file) => Ok(file.newest()?.versions()),
            Custody::Token(token) => token.versions(),
        }
    }

    /// `(version, fingerprint)` of every master key that can unwrap.
    pub fn fingerprints(&self) -> Result<Vec<(u32, String)>, VaultError> {
        match &self.0 {
            Custody::File(file) => Ok(file.newest()?.fingerprints()),
            Custody::Token(token) => token.fingerprints(),
        }
    }

    /// Adds a master-key version numbered above every version in use and above `floor`
    /// (versions ever recorded, retired ones included: a number is never reused), and
    /// returns it.
    pub fn rotate(&self, floor: u32) -> Result<u32, VaultError> {
        match &self.0 {
            Custody::File(file) => {
                let ring = Keyring::rotate_above(&file.path, floor)?;
                let version = ring.current_version();
                file.replace(ring);
                Ok(version)
            }
            Custody::Token(token) => {
                let newest = token.versions()?.last().copied().unwrap_or(0);
                let version = newest.max(floor).checked_add(1).ok_or_else(|| {
                    VaultError::Token(format!("{}: no version number left", token.name()))
                })?;
                token.generate(version)?;
                Ok(version)
            }
        }
    }

    /// Removes master-key `versions`, keeping their audit keys. The caller checks first
    /// that no user key needs them.
    pub fn retire(&self, versions: &[u32]) -> Result<(), VaultError> {
        match &self.0 {
            Custody::File(file) => {
                file.replace(Keyring::retire(&file.path, versions)?);
                Ok(())
            }
            Custody::Token(token) => versions.iter().try_for_each(|v| token.retire(*v)),
        }
    }
}

fn newest_of(versions: &[u32]) -> Result<u32, VaultError> {
    versions
        .last()
        .copied()
        .ok_or_else(|| VaultError::Token("the token holds no master key".into()))
}

/// The key file's keyring. A wrapped key naming a version this process has not seen
/// makes it re-read the file once, so every instance follows a rotation without a
/// restart.
struct FileKeys {
    path: PathBuf,
    ring: RwLock<Arc<Keyring>>,
    /// The key file's modification time and length when it was last read: every audit
    /// event asks for the newest version, and a `stat` tells whether the file changed
    /// without reading and parsing it each time.
    read_as: Mutex<Option<FileStamp>>,
}

/// What changes when `rotate-keys` replaces the key file (a new file, renamed in).
type FileStamp = (SystemTime, u64);

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl FileKeys {
    fn new(path: PathBuf, ring: Keyring) -> Self {
        Self {
            read_as: Mutex::new(stamp(&path)),
            path,
            ring: RwLock::new(Arc::new(ring)),
        }
    }

    fn current(&self) -> Arc<Keyring> {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, ring: Keyring) {
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
        *self
            .read_as
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stamp(&self.path);
    }

    /// The keyring after re-reading the key file, when the file changed since it was last
    /// read (a rotation, or a retirement). New user keys and audit rows use its newest
    /// version, so a server started before a rotation does not keep using the old one.
    fn newest(&self) -> Result<Arc<Keyring>, VaultError> {
        let now = stamp(&self.path);
        let read_as = || {
            self.read_as
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if now.is_some() && *read_as() == now {
            return Ok(self.current());
        }
        let loaded = Keyring::load(&self.path)?;
        // Only a file that was read counts as seen: a failed read is tried again.
        *read_as() = now;
        if let Some(reloaded) = loaded
            && reloaded.current_version() >= self.current().current_version()
        {
            *self
                .ring
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(reloaded);
        }
        Ok(self.current())
    }

    /// Unwraps a stored user key, re-reading the key file if it names a newer version.
    fn unwrap(&self, wrapped: &WrappedKey) -> Result<UserKey, VaultError> {
        match self.current().unwrap(wrapped) {
            Err(VaultError::UnknownKeyVersion(version)) => {
                let reloaded = Keyring::load(&self.path)?
                    .filter(|ring| ring.has_version(version))
                    .ok_or(VaultError::UnknownKeyVersion(version))?;
                tracing::info!(version, "master key file re-read after a rotation");
                let reloaded = Arc::new(reloaded);
                *self
                    .ring
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = reloaded.clone();
                reloaded.unwrap(wrapped)
            }
            other => other,
        }
    }
}

impl FileKeys {
    fn audit_key(&self, version: u32) -> Result<AuditKey, VaultError> {
        if let Some(key) = self.current().audit_key(version) {
            return Ok(key);
        }
        Keyring::load(&self.path)?
            .and_then(|ring| ring.audit_key(version))
            .ok_or(VaultError::UnknownKeyVersion(version))
    }
}

impl std::fmt::Debug for FileKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeys")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Why a vault operation failed. Integrity failures carry no detail on purpose: which
/// check failed is for the log, not the client.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The blob or wrapped key was altered, truncated, moved, or made with other keys.
    #[error("integrity check failed")]
    Integrity,
    /// A wrapped key names a master-key version the keyring does not have.
    #[error("master key version {0} is not in the key file")]
    UnknownKeyVersion(u32),
    /// The token refused or is not what the configuration says, or the keys disagree
    /// with the database: one sentence naming the variable to fix, never the PIN.
    #[error("{0}")]
    Token(String),
    /// The master key file is unreadable or malformed.
    #[error("master key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_rows_follow_a_rotation_without_a_restart() {
        let dir = std::env::temp_dir().join(format!("iv-master-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let keys = MasterKeys::new(path.clone(), Keyring::create(&path).unwrap());
        let (first, _) = keys.current_audit_key().unwrap();
        // Unchanged file: the same version, read from memory.
        assert_eq!(keys.current_audit_key().unwrap().0, first);
        let rotated = keys.rotate(0).unwrap();
        assert!(rotated > first);
        assert_eq!(keys.current_audit_key().unwrap().0, rotated);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
