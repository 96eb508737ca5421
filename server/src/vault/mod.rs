//! Encryption at rest: envelope encryption with the keys kept apart from the data.
//!
//! - A versioned **master key** (KEK) lives only in `MASTER_KEY_FILE`, never in the
//!   database ([`keyring`]).
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

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use keyring::{AuditKey, Keyring, UserKey, WrappedKey};

/// The keyring a running server uses. `rotate-keys` may add a master-key version while
/// servers run; a wrapped key naming a version this process has not seen makes it
/// re-read the key file once, so every instance follows a rotation without a restart.
pub struct MasterKeys {
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

impl MasterKeys {
    /// Starts from `ring`, loaded from `path`.
    pub fn new(path: PathBuf, ring: Keyring) -> Self {
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

    /// Wraps a new user key with the newest master key in the key file. The file is
    /// re-read first (once per new user, cheap), so a server started before a rotation
    /// does not keep wrapping with the old version after it.
    pub fn wrap(&self, key: &UserKey) -> Result<WrappedKey, VaultError> {
        Ok(self.newest()?.wrap(key))
    }

    /// The keyring after re-reading the key file, when the file changed since it was last
    /// read and holds a newer version.
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
            && reloaded.current_version() > self.current().current_version()
        {
            *self
                .ring
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(reloaded);
        }
        Ok(self.current())
    }

    /// Unwraps a stored user key, re-reading the key file if it names a newer version.
    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<UserKey, VaultError> {
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

impl MasterKeys {
    /// The newest master-key version and its audit key: new audit rows are chained
    /// with it. The key file is re-read first when it changed, like
    /// [`MasterKeys::wrap`], so rows follow a rotation at once.
    pub fn current_audit_key(&self) -> Result<(u32, AuditKey), VaultError> {
        let ring = self.newest()?;
        let version = ring.current_version();
        let key = ring
            .audit_key(version)
            .ok_or(VaultError::UnknownKeyVersion(version))?;
        Ok((version, key))
    }

    /// The audit key of master-key `version`, for checking rows chained under it.
    pub fn audit_key(&self, version: u32) -> Result<AuditKey, VaultError> {
        if let Some(key) = self.current().audit_key(version) {
            return Ok(key);
        }
        Keyring::load(&self.path)?
            .and_then(|ring| ring.audit_key(version))
            .ok_or(VaultError::UnknownKeyVersion(version))
    }
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
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
        let rotated = Keyring::rotate(&path).unwrap().current_version();
        assert!(rotated > first);
        assert_eq!(keys.current_audit_key().unwrap().0, rotated);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
