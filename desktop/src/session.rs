//! Who is signed in, to which server: settings, the token (kept in the keychain) and
//! the in-memory thumbnail cache that belongs to the session. Signing in — with its
//! second step and the device token — is in [`sign_in`](self::sign_in).
//!
//! Every server call that needs the token goes through [`Session::call`], so a 401 from
//! any of them ends the session the same way: keychain entry deleted, caches dropped, the
//! view told to show sign-in with a clear message.

mod sign_in;
mod sso;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use secrecy::SecretString;
use serde::Serialize;
use uuid::Uuid;

pub use sign_in::SignInOutcome;

use crate::client::{Api, Token};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::keychain;
use crate::settings::{Settings, SettingsFile};

/// What the view learns about the signed-in account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    /// The account's email as the server knows it.
    pub email: String,
    /// The server it is on.
    pub server_url: String,
}

/// A signed-in session; cheap to clone into tasks.
#[derive(Clone)]
pub struct Active {
    /// The API client for the session's server.
    pub api: Api,
    /// The bearer token.
    pub token: Token,
    /// The account.
    pub info: AccountInfo,
    keychain: keychain::Account,
    thumbs: Arc<Mutex<ThumbCache>>,
    recovery_codes: Arc<Mutex<Option<SecretString>>>,
}

/// Most thumbnail bytes kept in memory; the oldest go first beyond this.
const THUMB_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Decrypted thumbnails for this session only: never written to disk.
#[derive(Default)]
struct ThumbCache {
    bytes: usize,
    map: HashMap<Uuid, Bytes>,
    order: VecDeque<Uuid>,
}

impl ThumbCache {
    fn insert(&mut self, id: Uuid, data: Bytes) {
        let len = data.len();
        if self.map.insert(id, data).is_none() {
            self.order.push_back(id);
            self.bytes += len;
        }
        while self.bytes > THUMB_CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.map.remove(&old) {
                self.bytes -= gone.len();
            }
        }
    }

    fn remove(&mut self, id: Uuid) {
        if let Some(gone) = self.map.remove(&id) {
            self.bytes -= gone.len();
            self.order.retain(|x| *x != id);
        }
    }
}

/// The session state of the app.
pub struct Session {
    file: SettingsFile,
    settings: Mutex<Settings>,
    current: Mutex<Option<Active>>,
    pending: Mutex<Option<sign_in::Pending>>,
    events: Arc<dyn Events>,
}

impl Session {
    /// Loads the settings from `file`; nobody is signed in yet.
    pub fn new(file: SettingsFile, events: Arc<dyn Events>) -> Self {
        let settings = file.load();
        Self {
            file,
            settings: Mutex::new(settings),
            current: Mutex::new(None),
            pending: Mutex::new(None),
            events,
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        self.settings.lock().unwrap().clone()
    }

    /// Checks and saves a new server address. Pointing the app at another server ends
    /// the session on the old one (even if the old server cannot be told).
    pub async fn save_server(&self, server_url: &str) -> Result<Settings> {
        let mut next = self.settings();
        next.server_url = crate::settings::parse_server_url(server_url)?.to_string();
        let server_changed = next.server_url != self.settings().server_url;
        if server_changed {
            self.forget_pending();
        }
        if server_changed && self.active().is_ok() {
            if let Err(e) = self.sign_out().await {
                tracing::warn!(error = %e, "the old server was not told about the sign-out");
            }
            self.events
                .signed_out("The server address changed. Sign in to the new server.");
        }
        self.save(next)
    }

    /// Sets (after checking it holds a certificate) or clears the extra CA file. The
    /// path comes from the native picker, never from the web view.
    pub fn save_ca_file(&self, ca_file: Option<std::path::PathBuf>) -> Result<Settings> {
        let mut next = self.settings();
        next.ca_file = ca_file;
        Api::new(&next)?; // the CA file must be usable before it is saved
        self.save(next)
    }

    /// Saves the watched folders and the pause switch. Folders come from the native
    /// picker, never from the web view.
    pub fn save_watching(
        &self,
        folders: Vec<std::path::PathBuf>,
        paused: bool,
    ) -> Result<Settings> {
        let mut next = self.settings();
        next.watched_folders = folders;
        next.watch_paused = paused;
        self.save(next)
    }

    fn save(&self, next: Settings) -> Result<Settings> {
        self.file.save(&next)?;
        *self.settings.lock().unwrap() = next.clone();
        Ok(next)
    }

    /// The signed-in session.
    pub fn active(&self) -> Result<Active> {
        self.current
            .lock()
            .unwrap()
            .clone()
            .ok_or(Error::NotSignedIn)
    }

    /// Signs in silently with the token saved in the keychain, if any. A token the
    /// server no longer accepts is deleted and reported as [`Error::SessionExpired`].
    pub async fn restore(&self) -> Result<Option<AccountInfo>> {
        if let Ok(active) = self.active() {
            return Ok(Some(active.info));
        }
        let settings = self.settings();
        let Some(email) = settings.email.clone() else {
            return Ok(None);
        };
        let api = Api::new(&settings)?;
        let account = keychain::Account::new(&email, api.base());
        let Some(token) = blocking({
            let account = account.clone();
            move || account.load()
        })
        .await?
        else {
            return Ok(None);
        };
        match api.me(&token).await {
            Ok(me) => Ok(Some(self.activate(api, token, me.email, account))),
            Err(e) if e.is_unauthorized() => {
                blocking(move || account.delete()).await?;
                Err(Error::SessionExpired)
            }
            Err(e) => Err(e),
        }
    }

    fn activate(
        &self,
        api: Api,
        token: Token,
        email: String,
        keychain: keychain::Account,
    ) -> AccountInfo {
        let info = AccountInfo {
            email,
            server_url: api.base().to_string(),
        };
        *self.current.lock().unwrap() = Some(Active {
            api,
            token,
            info: info.clone(),
            keychain,
            thumbs: Arc::default(),
            recovery_codes: Arc::default(),
        });
        info
    }

    /// Revokes the token on the server and deletes it from the keychain (the device
    /// token stays, for the next sign-in). If the server cannot be reached the local copy
    /// is still deleted, and the error says the server was not told.
    pub async fn sign_out(&self) -> Result<()> {
        self.forget_pending();
        let Some(active) = self.current.lock().unwrap().take() else {
            return Ok(());
        };
        let revoked = active.api.logout(&active.token).await;
        let keychain = active.keychain.clone();
        blocking(move || keychain.delete()).await?;
        match revoked {
            Ok(()) => Ok(()),
            Err(e) if e.is_unauthorized() => Ok(()),
            Err(e) => Err(Error::File(format!(
                "You are signed out on this computer, but the server could not be told ({e}). \
                 Use \"Sign out everywhere\" in the browser once it is reachable."
            ))),
        }
    }

    /// Ends one of the account's sessions; returns whether it was this device's own.
    /// Ending this one is a sign-out like the button's (revoked, keychain entry
    /// deleted) and the view is told, so the app never keeps a token the server refuses.
    pub async fn revoke_session(&self, id: Uuid) -> Result<bool> {
        let list = self
            .call(|s| async move { s.api.sessions(&s.token).await })
            .await?;
        if !list.items.iter().any(|item| item.id == id && item.current) {
            self.call(|s| async move { s.api.revoke_session(&s.token, id).await })
                .await?;
            return Ok(false);
        }
        let message = match self.sign_out().await {
            Ok(()) => "You signed this computer out.".to_owned(),
            Err(e) => e.to_string(),
        };
        self.events.signed_out(&message);
        Ok(true)
    }

    /// Runs a server call with the current session; a 401 ends the session everywhere
    /// in the app and becomes [`Error::SessionExpired`].
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(Active) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run(self.active()?, f).await
    }

    /// Runs a server call with a given session (an upload keeps the one it was queued
    /// under). A 401 ends that session, and only if it is still the current one: a late
    /// answer to an old token must not sign out a newer session.
    pub async fn run<T, F, Fut>(&self, active: Active, f: F) -> Result<T>
    where
        F: FnOnce(Active) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = active.token.clone();
        match f(active).await {
            Err(e) if e.is_unauthorized() => {
                self.expire(&token).await;
                Err(Error::SessionExpired)
            }
            other => other,
        }
    }

    /// Ends the session holding `token`, which the server no longer accepts.
    async fn expire(&self, token: &Token) {
        let ended = {
            let mut current = self.current.lock().unwrap();
            match current.as_ref() {
                Some(active) if active.token.same(token) => current.take(),
                _ => None,
            }
        };
        let Some(active) = ended else { return };
        let keychain = active.keychain.clone();
        if let Err(e) = blocking(move || keychain.delete()).await {
            tracing::warn!(error = %e, "could not delete the expired token");
        }
        self.events.signed_out(&Error::SessionExpired.to_string());
    }
}

impl Active {
    /// A thumbnail, from the session's memory cache or the server.
    pub async fn thumbnail(&self, id: Uuid) -> Result<Bytes> {
        if let Some(hit) = self.thumbs.lock().unwrap().map.get(&id) {
            return Ok(hit.clone());
        }
        let data = self.api.image_bytes(&self.token, id, true).await?;
        self.thumbs.lock().unwrap().insert(id, data.clone());
        Ok(data)
    }

    /// Forgets a deleted image's thumbnail.
    pub fn forget(&self, id: Uuid) {
        self.thumbs.lock().unwrap().remove(id);
    }

    /// Keeps the recovery codes just shown, as the text of a file, so "Save…" writes
    /// exactly what the server issued (not what the view sends back). They go with the
    /// session.
    pub fn keep_recovery_codes(&self, codes: &[String]) {
        let text = format!(
            "ImageVault recovery codes for {} on {}\n\
             Each code works once, in place of the code from your authenticator app.\n\n{}\n",
            self.info.email,
            self.info.server_url,
            codes.join("\n")
        );
        *self.recovery_codes.lock().unwrap() = Some(SecretString::from(text));
    }

    /// Drops the kept recovery codes (two-step sign-in was turned off).
    pub fn forget_recovery_codes(&self) {
        self.recovery_codes.lock().unwrap().take();
    }

    /// The recovery codes last shown in this session, as the text of a file.
    pub fn recovery_codes(&self) -> Option<SecretString> {
        self.recovery_codes.lock().unwrap().clone()
    }
}

/// Runs a blocking keychain call off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| Error::Keychain(format!("the keychain call stopped ({e})")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbnail_cache_stays_bounded() {
        let mut cache = ThumbCache::default();
        let chunk = Bytes::from(vec![0u8; 1024 * 1024]);
        let ids: Vec<Uuid> = (0..100).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            cache.insert(*id, chunk.clone());
        }
        assert!(cache.bytes <= THUMB_CACHE_BYTES);
        assert!(!cache.map.contains_key(&ids[0]), "the oldest went first");
        assert!(cache.map.contains_key(&ids[99]));
        cache.remove(ids[99]);
        assert!(!cache.map.contains_key(&ids[99]));
        assert_eq!(
            cache.bytes,
            cache.map.values().map(Bytes::len).sum::<usize>()
        );
    }
}
