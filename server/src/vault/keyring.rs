//! User keys and the versioned master keys that wrap them.
//!
//! The key file holds one line per master-key version, `v<N>:<base64 key>`; the highest
//! version wraps new user keys, older ones stay to unwrap keys not yet rotated. A retired
//! version leaves only its audit key behind, `a<N>:<base64 audit key>`, so audit rows
//! chained under it still verify while nothing can unwrap with it any more. The
//! file is created 0600, and rewritten through a temporary file, fsync and rename, so a
//! crash never leaves half a key file; it is not read unless it is still 0600 and the
//! server's user's (`imagevault_durable`).

use std::fmt;
use std::path::Path;

use aes_kw::KwAes256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::KeyInit;
use zeroize::Zeroizing;

use super::VaultError;

/// Bytes of every key.
pub const KEY_BYTES: usize = 32;
/// Bytes of a wrapped user key (AES-KW adds 8).
pub const WRAPPED_BYTES: usize = KEY_BYTES + 8;

/// A user's data key. No `Clone`, no `Debug` output of the bytes, zeroised on drop.
pub struct UserKey(Zeroizing<[u8; KEY_BYTES]>);

impl UserKey {
    /// A fresh random key from the OS.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        getrandom::fill(key.as_mut()).expect("the OS random source is available");
        Self(key)
    }

    /// The key bytes, for deriving per-blob keys.
    pub(super) fn expose_secret(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }

    /// A key unwrapped elsewhere (in a token).
    pub(super) fn from_bytes(key: Zeroizing<[u8; KEY_BYTES]>) -> Self {
        Self(key)
    }
}

impl fmt::Debug for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserKey([redacted])")
    }
}

/// The key of the audit log's MAC chain (see [`Keyring::audit_key`]). No `Clone`, no
/// `Debug` output of the bytes, zeroised on drop.
pub struct AuditKey(Zeroizing<[u8; KEY_BYTES]>);

impl AuditKey {
    pub(super) fn from_bytes(key: Zeroizing<[u8; KEY_BYTES]>) -> Self {
        Self(key)
    }

    pub(super) fn expose_secret(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }

    /// `HMAC-SHA256(key, previous ‖ row)`: each row's MAC covers the one before it.
    pub fn chain(&self, previous: &[u8], row: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        self.mac(previous, row).finalize().into_bytes().into()
    }

    /// Whether `mac` is the chain MAC of `previous ‖ row`, compared in constant time.
    pub fn verify(&self, previous: &[u8], row: &[u8], mac: &[u8]) -> bool {
        use hmac::Mac;
        self.mac(previous, row).verify_slice(mac).is_ok()
    }

    fn mac(&self, previous: &[u8], row: &[u8]) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(self.0.as_ref())
            .expect("HMAC takes any key length");
        mac.update(previous);
        mac.update(row);
        mac
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey([redacted])")
    }
}

/// A user key as stored: wrapped, with the version of the master key that wrapped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Master-key version used.
    pub kek_version: u32,
    /// AES-KW output.
    pub bytes: Vec<u8>,
}

struct MasterKey {
    version: u32,
    key: Zeroizing<[u8; KEY_BYTES]>,
}

/// The master keys from `MASTER_KEY_FILE`.
pub struct Keyring {
    /// Ascending by version; never empty.
    keys: Vec<MasterKey>,
    /// Audit keys of retired versions, ascending by version.
    retired: Vec<MasterKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<u32> = self.keys.iter().map(|k| k.version).collect();
        let retired: Vec<u32> = self.retired.iter().map(|k| k.version).collect();
        let mut out = f.debug_struct("Keyring");
        out.field("versions", &versions);
        if !retired.is_empty() {
            out.field("retired", &retired);
        }
        out.finish()
    }
}

fn key_file_error(path: &Path, reason: impl Into<String>) -> VaultError {
    VaultError::KeyFile {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

impl Keyring {
    /// Reads the key file; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, VaultError> {
        // Refused unless the file is 0600 and this user's: see `imagevault_durable`.
        let bytes = match imagevault_durable::read_private(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(key_file_error(path, e.to_string())),
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| key_file_error(path, "stream did not contain valid UTF-8"))?;
        let (mut keys, mut retired) = (Vec::new(), Vec::new());
        for (n, line) in text
            .lines()
            .map(str::trim)
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
        {
            let bad = || {
                key_file_error(
                    path,
                    format!("line {} is not `v<N>:<base64 of 32 bytes>`", n + 1),
                )
            };
            match line.split_at_checked(1) {
                Some(("v", rest)) => keys.push(parse_line(rest).ok_or_else(bad)?),
                Some(("a", rest)) => retired.push(parse_line(rest).ok_or_else(bad)?),
                _ => return Err(bad()),
            }
        }
        keys.sort_by_key(|k| k.version);
        retired.sort_by_key(|k| k.version);
        if keys.is_empty() {
            return Err(key_file_error(path, "holds no key"));
        }
        let mut all: Vec<u32> = keys.iter().chain(&retired).map(|k| k.version).collect();
        all.sort_unstable();
        if all.windows(2).any(|w| w[0] == w[1]) {
            return Err(key_file_error(path, "lists a version twice"));
        }
        Ok(Some(Self { keys, retired }))
    }

    /// Creates the key file with a fresh version-1 key; fails if it exists (even when
    /// another process creates it at the same moment).
    pub fn create(path: &Path) -> Result<Self, VaultError> {
        let ring = Self {
            keys: vec![MasterKey {
                version: 1,
                key: random_key(),
            }],
            retired: Vec::new(),
        };
        ring.write(path, true)?;
        Ok(ring)
    }

    /// Adds a new master-key version and rewrites the file atomically. Runs under an
    /// exclusive lock and re-reads the file first, so two rotations at once (two
    /// instances, two operators) add two versions instead of losing one.
    pub fn rotate(path: &Path) -> Result<Self, VaultError> {
        Self::rotate_above(path, 0)
    }

    /// [`Keyring::rotate`] to a version above `floor` too (versions recorded elsewhere).
    pub fn rotate_above(path: &Path, floor: u32) -> Result<Self, VaultError> {
        let _lock = lock(path)?;
        let mut ring = Self::load(path)?.ok_or_else(|| key_file_error(path, "does not exist"))?;
        let retired = ring.retired.last().map_or(0, |k| k.version);
        let version = ring
            .current_version()
            .max(retired)
            .max(floor)
            .checked_add(1)
            .ok_or_else(|| key_file_error(path, "has no version number left"))?;
        ring.keys.push(MasterKey {
            version,
            key: random_key(),
        });
        ring.write(path, false)?;
        Ok(ring)
    }

    /// Removes master-key `versions` from the file, keeping each one's audit key; the
    /// newest version is never removed. Under the same lock as [`Keyring::rotate`].
    pub fn retire(path: &Path, versions: &[u32]) -> Result<Self, VaultError> {
        let _lock = lock(path)?;
        let mut ring = Self::load(path)?.ok_or_else(|| key_file_error(path, "does not exist"))?;
        let newest = ring.current_version();
        for version in versions {
            if *version == newest {
                return Err(key_file_error(path, "the newest version cannot be retired"));
            }
            let Some(at) = ring.keys.iter().position(|k| k.version == *version) else {
                continue;
            };
            let audit = ring
                .audit_key(*version)
                .expect("the version is in the file");
            ring.keys.remove(at);
            ring.retired.push(MasterKey {
                version: *version,
                key: audit.0,
            });
        }
        ring.retired.sort_by_key(|k| k.version);
        ring.write(path, false)?;
        Ok(ring)
    }

    /// Versions that can unwrap, ascending.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.iter().map(|k| k.version).collect()
    }

    /// `(version, fingerprint)` of every master key: HMAC-SHA256 of a fixed label under
    /// the key, hex. Equal fingerprints mean equal keys; nothing about a key can be
    /// learned from one.
    pub fn fingerprints(&self) -> Vec<(u32, String)> {
        use hmac::{Hmac, Mac};
        self.keys
            .iter()
            .map(|k| {
                let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(k.key.as_ref())
                    .expect("HMAC takes any key length");
                mac.update(b"imagevault master key fingerprint v1");
                (k.version, hex::encode(mac.finalize().into_bytes()))
            })
            .collect()
    }

    /// Whether the file holds master-key `version`.
    pub fn has_version(&self, version: u32) -> bool {
        self.keys.iter().any(|k| k.version == version)
    }

    /// The version new keys are wrapped with.
    pub fn current_version(&self) -> u32 {
        self.keys.last().map_or(0, |k| k.version)
    }

    /// Wraps `user_key` with the current master key.
    pub fn wrap(&self, user_key: &UserKey) -> WrappedKey {
        let master = self.keys.last().expect("a keyring is never empty");
        let kek = KwAes256::new((&*master.key).into());
        let mut out = vec![0u8; WRAPPED_BYTES];
        kek.wrap_key(user_key.expose_secret(), &mut out)
            .expect("the output buffer has the wrapped size");
        WrappedKey {
            kek_version: master.version,
            bytes: out,
        }
    }

    /// Unwraps a stored user key; any alteration fails the AES-KW integrity check.
    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<UserKey, VaultError> {
        let master = self
            .keys
            .iter()
            .find(|k| k.version == wrapped.kek_version)
            .ok_or(VaultError::UnknownKeyVersion(wrapped.kek_version))?;
        if wrapped.bytes.len() != WRAPPED_BYTES {
            return Err(VaultError::Integrity);
        }
        let kek = KwAes256::new((&*master.key).into());
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        kek.unwrap_key(&wrapped.bytes, key.as_mut())
            .map_err(|_| VaultError::Integrity)?;
        Ok(UserKey(key))
    }

    /// The audit-log key of master-key `version`: HKDF-SHA256 of that master key under
    /// a label of its own, so the audit chain's MAC key is never the key that wraps user
    /// keys, and anyone holding the key file (and no one else) can check the chain.
    pub fn audit_key(&self, version: u32) -> Option<AuditKey> {
        let Some(master) = self.keys.iter().find(|k| k.version == version) else {
            let kept = self.retired.iter().find(|k| k.version == version)?;
            return Some(AuditKey(kept.key.clone()));
        };
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"imagevault audit"), master.key.as_ref());
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        hkdf.expand(b"audit chain mac key v1", key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Some(AuditKey(key))
    }

    /// Writes the file through a uniquely named temporary file, fsynced: published
    /// without clobbering when creating (which fails if the file appeared meanwhile),
    /// with a rename otherwise; then the folder is fsynced.
    fn write(&self, path: &Path, create_new: bool) -> Result<(), VaultError> {
        let mut text = Zeroizing::new(String::with_capacity(self.keys.len() * 64));
        let lines = self.keys.iter().map(|k| ('v', k));
        for (kind, key) in lines.chain(self.retired.iter().map(|k| ('a', k))) {
            use std::fmt::Write as _;
            let encoded = Zeroizing::new(STANDARD.encode(key.key.as_ref()));
            let _ = writeln!(text, "{kind}{}:{}", key.version, encoded.as_str());
        }
        let written = if create_new {
            imagevault_durable::create_private(path, text.as_bytes())
        } else {
            imagevault_durable::write_private(path, text.as_bytes())
        };
        written.map_err(|e| key_file_error(path, e.to_string()))
    }
}

/// An exclusive lock on `<key file>.lock`, held while the file is read and rewritten.
fn lock(path: &Path) -> Result<std::fs::File, VaultError> {
    let fail = |e: std::io::Error| key_file_error(path, e.to_string());
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::path::PathBuf::from(name))
        .map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(file)
}

fn random_key() -> Zeroizing<[u8; KEY_BYTES]> {
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    getrandom::fill(key.as_mut()).expect("the OS random source is available");
    key
}

/// `<N>:<base64 of 32 bytes>`, after the line's `v` or `a`.
fn parse_line(line: &str) -> Option<MasterKey> {
    let (version, encoded) = line.split_once(':')?;
    let version: u32 = version.parse().ok().filter(|v| *v > 0)?;
    let bytes = Zeroizing::new(STANDARD.decode(encoded.trim()).ok()?);
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    if bytes.len() != KEY_BYTES {
        return None;
    }
    key.copy_from_slice(&bytes);
    Some(MasterKey { version, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path() -> std::path::PathBuf {
        std::env::temp_dir()
            .join(format!("iv-keys-{}", uuid::Uuid::new_v4()))
            .join("master.key")
    }

    /// Writes a key file by hand, owner-only as the server requires.
    fn write_by_hand(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    #[test]
    fn user_keys_wrap_and_unwrap_across_rotations() {
        let path = temp_path();
        let ring = Keyring::create(&path).unwrap();
        let user = UserKey::generate();
        let wrapped_v1 = ring.wrap(&user);
        assert_eq!(wrapped_v1.kek_version, 1);
        assert_eq!(wrapped_v1.bytes.len(), WRAPPED_BYTES);

        drop(ring);
        let ring = Keyring::rotate(&path).unwrap();
        assert_eq!(ring.current_version(), 2);
        let reloaded = Keyring::load(&path).unwrap().unwrap();
        let from_v1 = reloaded.unwrap(&wrapped_v1).unwrap();
        assert_eq!(from_v1.expose_secret(), user.expose_secret());
        let wrapped_v2 = reloaded.wrap(&from_v1);
        assert_eq!(wrapped_v2.kek_version, 2);
        assert_ne!(wrapped_v2.bytes, wrapped_v1.bytes);
        assert_eq!(
            reloaded.unwrap(&wrapped_v2).unwrap().expose_secret(),
            user.expose_secret()
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn altered_or_foreign_wrapped_keys_are_refused() {
        let (a, b) = (temp_path(), temp_path());
        let ring = Keyring::create(&a).unwrap();
        let other = Keyring::create(&b).unwrap();
        let wrapped = ring.wrap(&UserKey::generate());
        assert!(matches!(other.unwrap(&wrapped), Err(VaultError::Integrity)));
        for i in 0..wrapped.bytes.len() {
            let mut bad = wrapped.clone();
            bad.bytes[i] ^= 0x01;
            assert!(
                matches!(ring.unwrap(&bad), Err(VaultError::Integrity)),
                "byte {i}"
            );
        }
        let mut short = wrapped.clone();
        short.bytes.pop();
        assert!(matches!(ring.unwrap(&short), Err(VaultError::Integrity)));
        let unknown = WrappedKey {
            kek_version: 9,
            ..wrapped
        };
        assert!(matches!(
            ring.unwrap(&unknown),
            Err(VaultError::UnknownKeyVersion(9))
        ));
        for p in [a, b] {
            std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn the_key_file_is_private_and_never_overwritten_by_create() {
        let path = temp_path();
        Keyring::create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(Keyring::create(&path).is_err());
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".master.key."))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert!(
            Keyring::load(&temp_path()).unwrap().is_none(),
            "missing file is None"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn malformed_key_files_name_the_problem() {
        for (text, reason) in [
            ("", "holds no key"),
            ("v1:not-base64!!\n", "line 1"),
            ("v1:AAAA\n", "line 1"),
            (
                "x1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                "line 1",
            ),
            (
                "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nv1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                "twice",
            ),
            (
                "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\na1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                "twice",
            ),
            (
                "a1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                "holds no key",
            ),
            (
                "v2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\na1:AAAA\n",
                "line 2",
            ),
        ] {
            let path = temp_path();
            write_by_hand(&path, text);
            let err = Keyring::load(&path).unwrap_err().to_string();
            assert!(err.contains(reason), "{text:?}: {err}");
            std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn retiring_keeps_only_the_audit_key_and_never_the_newest() {
        let path = temp_path();
        let first = Keyring::create(&path).unwrap();
        let wrapped = first.wrap(&UserKey::generate());
        let audit_v1 = first.audit_key(1).unwrap().chain(b"", b"row");
        Keyring::rotate(&path).unwrap();
        let ring = Keyring::retire(&path, &[1]).unwrap();
        assert_eq!(ring.versions(), vec![2]);
        assert!(matches!(
            ring.unwrap(&wrapped),
            Err(VaultError::UnknownKeyVersion(1))
        ));
        let reloaded = Keyring::load(&path).unwrap().unwrap();
        assert_eq!(
            format!("{reloaded:?}"),
            "Keyring { versions: [2], retired: [1] }"
        );
        assert_eq!(reloaded.audit_key(1).unwrap().chain(b"", b"row"), audit_v1);
        assert!(Keyring::retire(&path, &[2]).is_err(), "the newest stays");
        // A number once used is never given again, retired or not.
        assert_eq!(
            Keyring::rotate_above(&path, 0).unwrap().current_version(),
            3
        );
        assert_eq!(
            Keyring::rotate_above(&path, 9).unwrap().current_version(),
            10
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn the_last_version_number_cannot_wrap_around() {
        let path = temp_path();
        write_by_hand(
            &path,
            "v4294967295:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        );
        let err = Keyring::rotate(&path).unwrap_err().to_string();
        assert!(err.contains("no version number left"), "{err}");
        assert!(
            Keyring::load(&path).unwrap().is_some(),
            "the file is untouched"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_path();
        Keyring::create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        for err in [
            Keyring::load(&path).unwrap_err(),
            Keyring::rotate(&path).unwrap_err(),
        ] {
            let err = err.to_string();
            assert!(err.starts_with("master key file "), "{err}");
            assert!(
                err.contains(&format!("chmod 600 {}", path.display())),
                "{err}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Keyring::load(&path).unwrap().unwrap().current_version(), 1);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn debug_output_shows_versions_not_keys() {
        let path = temp_path();
        let ring = Keyring::create(&path).unwrap();
        assert_eq!(format!("{ring:?}"), "Keyring { versions: [1] }");
        assert_eq!(format!("{:?}", UserKey::generate()), "UserKey([redacted])");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
