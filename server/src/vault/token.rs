//! Master keys inside a PKCS#11 token (an HSM, a network HSM, a cloud KMS's PKCS#11
//! library, or `SoftHSM2`).
//!
//! Each master-key version is an AES-256 secret key generated in the token, marked
//! sensitive and non-extractable, labelled `PKCS11_KEY_LABEL`, with the version as its
//! `CKA_ID` (4 bytes, big-endian). User keys are wrapped and unwrapped inside the token
//! with `CKM_AES_KEY_WRAP` (RFC 3394, the same format the key file produces), so the
//! master key's bytes never enter this process.
//!
//! The audit chain's key and the fingerprint of a version are AES-CMAC outputs of that
//! key over fixed labels (`CKM_AES_CMAC`; the audit key is NIST SP 800-108 counter mode
//! with CMAC as the PRF). When a version is retired its key object is destroyed and only
//! its audit key stays, as a private data object, so older audit rows still verify.
//!
//! PKCS#11 sessions must not be used by two threads at once: one session behind a mutex
//! serves the process. Its calls are short on a local token; a network HSM adds a round
//! trip to each user-key unwrap.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::VaultError;
use super::keyring::{AuditKey, KEY_BYTES, UserKey, WRAPPED_BYTES, WrappedKey};

/// Where the token is and how to log in (`PKCS11_*`).
#[derive(Clone)]
pub struct TokenSettings {
    /// `PKCS11_MODULE`: the PKCS#11 library.
    pub module: PathBuf,
    /// `PKCS11_TOKEN_LABEL`: which token.
    pub token_label: String,
    /// `PKCS11_PIN` or the contents of `PKCS11_PIN_FILE`: the user PIN.
    pub pin: SecretString,
    /// `PKCS11_KEY_LABEL`: the label of the master-key objects.
    pub key_label: String,
}

impl std::fmt::Debug for TokenSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSettings")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"[redacted]")
            .field("key_label", &self.key_label)
            .finish()
    }
}

/// The master keys in a token, through one logged-in session.
pub struct TokenKeys {
    session: Mutex<Session>,
    /// Handles of the master keys by version, as last enumerated (taken only while the
    /// session is held): finding them anew costs a search per request.
    handles: Mutex<HashMap<u32, ObjectHandle>>,
    key_label: String,
    /// What the keys are called in messages: label and token.
    name: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One library context per module for the whole process: `C_Finalize` on one would end
/// every other's sessions, so contexts are made once and never finalized.
fn context(module: &Path) -> Result<Pkcs11, String> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(pkcs11) = contexts.get(module) {
        return Ok(pkcs11.clone());
    }
    let pkcs11 = Pkcs11::new(module).map_err(|e| format!("cannot be loaded: {e}"))?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        Err(e) if rv(&e) == Some(RvError::CryptokiAlreadyInitialized) => {}
        Err(e) => return Err(format!("does not initialise: {e}")),
    }
    contexts.insert(module.to_path_buf(), pkcs11.clone());
    Ok(pkcs11)
}

fn rv(e: &P11Error) -> Option<RvError> {
    match e {
        P11Error::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

impl TokenKeys {
    /// Loads the module, finds the token by label and logs in. Every failure is one
    /// sentence naming the variable to fix; the PIN is never part of it.
    pub fn open(settings: &TokenSettings) -> Result<Self, VaultError> {
        let fail =
            |variable: &str, reason: String| VaultError::Token(format!("{variable}: {reason}"));
        let module = &settings.module;
        let pkcs11 = context(module)
            .map_err(|reason| fail("PKCS11_MODULE", format!("{} {reason}", module.display())))?;
        let slots = pkcs11
            .get_slots_with_initialized_token()
            .map_err(|e| fail("PKCS11_MODULE", format!("lists no slots: {e}")))?;
        let slot = slots
            .into_iter()
            .find(|slot| {
                pkcs11
                    .get_token_info(*slot)
                    .is_ok_and(|info| info.label().trim_end() == settings.token_label)
            })
            .ok_or_else(|| {
                fail(
                    "PKCS11_TOKEN_LABEL",
                    format!(
                        "no initialised token is labelled {:?}",
                        settings.token_label
                    ),
                )
            })?;
        let session = pkcs11.open_rw_session(slot).map_err(|e| {
            fail(
                "PKCS11_TOKEN_LABEL",
                format!("no session on the token: {e}"),
            )
        })?;
        let pin = cryptoki::types::AuthPin::from(settings.pin.expose_secret().to_owned());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) => {}
            // Login state belongs to the application: another session of ours did it.
            Err(e) if rv(&e) == Some(RvError::UserAlreadyLoggedIn) => {}
            Err(e) if matches!(rv(&e), Some(RvError::PinIncorrect | RvError::PinLenRange)) => {
                return Err(fail("PKCS11_PIN", "is not the token's user PIN".into()));
            }
            Err(e) if rv(&e) == Some(RvError::PinLocked) => {
                return Err(fail("PKCS11_PIN", "the token's user PIN is locked".into()));
            }
            Err(e) => return Err(fail("PKCS11_PIN", format!("login failed: {e}"))),
        }
        Ok(Self {
            session: Mutex::new(session),
            handles: Mutex::default(),
            key_label: settings.key_label.clone(),
            name: format!(
                "key {:?} in token {:?}",
                settings.key_label, settings.token_label
            ),
        })
    }

    /// What the keys are called in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn failed(&self, what: &str, e: &P11Error) -> VaultError {
        VaultError::Token(format!("{}: {what} failed: {e}", self.name))
    }

    /// `(version, handle)` of every master key, ascending by version.
    fn keys(&self, session: &Session) -> Result<Vec<(u32, ObjectHandle)>, VaultError> {
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(self.key_label.as_bytes().to_vec()),
            ])
            .map_err(|e| self.failed("finding the master keys", &e))?;
        let mut keys = Vec::with_capacity(found.len());
        for handle in found {
            let attributes = session
                .get_attributes(handle, &[AttributeType::Id])
                .map_err(|e| self.failed("reading a master key's id", &e))?;
            let version = attributes.iter().find_map(|a| match a {
                Attribute::Id(id) => <[u8; 4]>::try_from(id.as_slice())
                    .ok()
                    .map(u32::from_be_bytes),
                _ => None,
            });
            match version {
                Some(version) if version > 0 => keys.push((version, handle)),
                _ => {
                    return Err(VaultError::Token(format!(
                        "{}: an object with this label has no 4-byte version as its CKA_ID",
                        self.name
                    )));
                }
            }
        }
        keys.sort_by_key(|(version, _)| *version);
        if keys.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(VaultError::Token(format!(
                "{}: two keys have the same version (two rotations at once?)",
                self.name
            )));
        }
        Ok(keys)
    }

    fn handles(&self) -> std::sync::MutexGuard<'_, HashMap<u32, ObjectHandle>> {
        self.handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The handle of master-key `version`: remembered, or found (and all remembered).
    fn key(&self, session: &Session, version: u32) -> Result<ObjectHandle, VaultError> {
        if let Some(handle) = self.handles().get(&version) {
            return Ok(*handle);
        }
        let keys = self.keys(session)?;
        let found = keys.iter().find(|(v, _)| *v == version).map(|(_, h)| *h);
        *self.handles() = keys.into_iter().collect();
        found.ok_or(VaultError::UnknownKeyVersion(version))
    }

    /// Runs `op` with master-key `version`; a remembered handle the token no longer
    /// knows (another process retired the key, or the token was reloaded) is forgotten
    /// and the key looked up once more.
    fn with_key<T>(
        &self,
        session: &Session,
        version: u32,
        op: impl Fn(ObjectHandle) -> Result<T, P11Error>,
    ) -> Result<Result<T, P11Error>, VaultError> {
        let result = op(self.key(session, version)?);
        match &result {
            Err(e)
                if matches!(
                    rv(e),
                    Some(
                        RvError::KeyHandleInvalid
                            | RvError::ObjectHandleInvalid
                            | RvError::UnwrappingKeyHandleInvalid
                            | RvError::WrappingKeyHandleInvalid
                    )
                ) =>
            {
                self.handles().clear();
                Ok(op(self.key(session, version)?))
            }
            _ => Ok(result),
        }
    }

    /// Versions of the master keys in the token, ascending.
    pub fn versions(&self) -> Result<Vec<u32>, VaultError> {
        let session = self.session();
        Ok(self.keys(&session)?.into_iter().map(|(v, _)| v).collect())
    }

    /// Generates master-key `version` inside the token: sensitive, never extractable,
    /// able to wrap, unwrap and CMAC, and nothing else.
    pub fn generate(&self, version: u32) -> Result<(), VaultError> {
        let session = self.session();
        if self.keys(&session)?.iter().any(|(v, _)| *v == version) {
            return Err(VaultError::Token(format!(
                "{}: version {version} exists already",
                self.name
            )));
        }
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(cryptoki::types::Ulong::from(KEY_BYTES as u64)),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Sign(true),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Derive(false),
            Attribute::Label(self.key_label.as_bytes().to_vec()),
            Attribute::Id(version.to_be_bytes().to_vec()),
        ];
        session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| self.failed("generating a master key", &e))?;
        // Another process may have generated the same version meanwhile: `keys` refuses
        // duplicates, and the caller's fingerprint check catches a different key.
        self.keys(&session).map(|_| ())
    }

    /// Wraps `user_key` with master-key `version`, inside the token.
    pub fn wrap(&self, version: u32, user_key: &UserKey) -> Result<WrappedKey, VaultError> {
        let session = self.session();
        let mut template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Value(user_key.expose_secret().to_vec()),
        ];
        let loaded = session.create_object(&template);
        scrub(&mut template);
        let loaded = loaded.map_err(|e| self.failed("loading a user key", &e))?;
        let wrapped = self.with_key(&session, version, |master| {
            session.wrap_key(&Mechanism::AesKeyWrap, master, loaded)
        });
        let _ = session.destroy_object(loaded);
        let bytes = wrapped?.map_err(|e| self.failed("wrapping a user key", &e))?;
        Ok(WrappedKey {
            kek_version: version,
            bytes,
        })
    }

    /// Unwraps a stored user key inside the token and reads it out; an altered wrapped
    /// key fails the token's integrity check.
    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<UserKey, VaultError> {
        if wrapped.bytes.len() != WRAPPED_BYTES {
            return Err(VaultError::Integrity);
        }
        let session = self.session();
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
        ];
        let handle = self
            .with_key(&session, wrapped.kek_version, |master| {
                session.unwrap_key(&Mechanism::AesKeyWrap, master, &wrapped.bytes, &template)
            })?
            .map_err(|e| match rv(&e) {
                Some(
                    RvError::WrappedKeyInvalid
                    | RvError::WrappedKeyLenRange
                    | RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange,
                ) => VaultError::Integrity,
                _ => self.failed("unwrapping a user key", &e),
            })?;
        let value = self.read_key(&session, handle, "reading an unwrapped user key");
        let _ = session.destroy_object(handle);
        value?.map(UserKey::from_bytes).ok_or(VaultError::Integrity)
    }

    /// The 32-byte `CKA_VALUE` of `handle`; `None` when it has another length.
    fn read_key(
        &self,
        session: &Session,
        handle: ObjectHandle,
        what: &str,
    ) -> Result<Option<Zeroizing<[u8; KEY_BYTES]>>, VaultError> {
        let attributes = session
            .get_attributes(handle, &[AttributeType::Value])
            .map_err(|e| self.failed(what, &e))?;
        Ok(attributes.into_iter().find_map(|attribute| {
            let Attribute::Value(bytes) = attribute else {
                return None;
            };
            let bytes = Zeroizing::new(bytes);
            let mut key = Zeroizing::new([0u8; KEY_BYTES]);
            (bytes.len() == KEY_BYTES).then(|| {
                key.copy_from_slice(&bytes);
                key
            })
        }))
    }

    fn cmac(
        &self,
        session: &Session,
        key: ObjectHandle,
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        session
            .sign(&Mechanism::AesCMac, key, data)
            .map(Zeroizing::new)
            .map_err(|e| self.failed("CMAC", &e))
    }

    /// `(version, fingerprint)` of every master key: AES-CMAC of a fixed label, hex.
    pub fn fingerprints(&self) -> Result<Vec<(u32, String)>, VaultError> {
        let session = self.session();
        self.keys(&session)?
            .into_iter()
            .map(|(version, handle)| {
                let mac = self.cmac(&session, handle, b"imagevault master key fingerprint v1")?;
                Ok((version, hex::encode(mac.as_slice())))
            })
            .collect()
    }

    /// The audit key of `version`: derived from its master key while it exists, read
    /// from the data object kept when it was retired otherwise.
    pub fn audit_key(&self, version: u32) -> Result<AuditKey, VaultError> {
        let session = self.session();
        match self.key(&session, version) {
            Ok(handle) => self.derive_audit_key(&session, handle),
            Err(VaultError::UnknownKeyVersion(_)) => self.kept_audit_key(&session, version),
            Err(e) => Err(e),
        }
    }

    /// SP 800-108 counter mode, CMAC as the PRF: two blocks of `i ‖ label ‖ 0 ‖ 256`.
    fn derive_audit_key(
        &self,
        session: &Session,
        handle: ObjectHandle,
    ) -> Result<AuditKey, VaultError> {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        for (i, chunk) in key.chunks_mut(16).enumerate() {
            let mut input = vec![u8::try_from(i + 1).unwrap_or(u8::MAX)];
            input.extend_from_slice(b"imagevault audit chain mac key v1");
            input.push(0);
            input.extend_from_slice(&256u32.to_be_bytes());
            chunk.copy_from_slice(&self.cmac(session, handle, &input)?);
        }
        Ok(AuditKey::from_bytes(key))
    }

    /// A data object has no `CKA_ID`: the version is in its label.
    fn kept_template(&self, version: u32) -> [Attribute; 3] {
        [
            Attribute::Class(ObjectClass::DATA),
            Attribute::Label(format!("{}/audit-v{version}", self.key_label).into_bytes()),
            Attribute::Application(b"imagevault retired audit key".to_vec()),
        ]
    }

    fn kept_audit_key(&self, session: &Session, version: u32) -> Result<AuditKey, VaultError> {
        let found = session
            .find_objects(&self.kept_template(version))
            .map_err(|e| self.failed("finding a retired audit key", &e))?;
        let handle = *found
            .first()
            .ok_or(VaultError::UnknownKeyVersion(version))?;
        self.read_key(session, handle, "reading a retired audit key")?
            .map(AuditKey::from_bytes)
            .ok_or_else(|| {
                VaultError::Token(format!(
                    "{}: the retired audit key of version {version} is damaged",
                    self.name
                ))
            })
    }

    /// Destroys master-key `version`, first keeping its audit key as a private data
    /// object (older audit rows are chained with it).
    pub fn retire(&self, version: u32) -> Result<(), VaultError> {
        let session = self.session();
        let handle = self.key(&session, version)?;
        let audit = self.derive_audit_key(&session, handle)?;
        if self.kept_audit_key(&session, version).is_err() {
            let mut template = self.kept_template(version).to_vec();
            template.extend([
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Modifiable(false),
                Attribute::Value(audit.expose_secret().to_vec()),
            ]);
            let kept = session.create_object(&template);
            scrub(&mut template);
            kept.map_err(|e| self.failed("keeping a retired audit key", &e))?;
        }
        self.handles().clear();
        session
            .destroy_object(handle)
            .map_err(|e| self.failed("destroying a master key", &e))
    }
}

/// Zeroes key bytes a template carried to the token.
fn scrub(template: &mut [Attribute]) {
    use zeroize::Zeroize as _;
    for attribute in template {
        if let Attribute::Value(bytes) = attribute {
            bytes.zeroize();
        }
    }
}
