//! What every request handler shares: configuration, database, mailer, hasher and the
//! signing key. Cheap to clone (everything inside is shared).

use std::sync::Arc;

use salvo::prelude::*;
use secrecy::SecretString;

use crate::config::Config;
use crate::db::Db;
use crate::email::Mailer;
use crate::passwords::Hasher;
use crate::storage::BlobStore;
use crate::vault::MasterKeys;

/// The application state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The fields of [`AppState`].
pub struct Inner {
    /// Resolved configuration.
    pub config: Config,
    /// The database.
    pub db: Db,
    /// Outgoing email.
    pub mailer: Mailer,
    /// Argon2id, bounded.
    pub hasher: Hasher,
    /// `SECRET_KEY` (configured or generated): signs CSRF tokens.
    pub secret_key: SecretString,
    /// The master keys from `MASTER_KEY_FILE`.
    pub keyring: MasterKeys,
    /// Where encrypted blobs live.
    pub store: BlobStore,
    /// The WebAuthn relying party for passkeys; `None` when `PUBLIC_URL` cannot be
    /// one (an IP address).
    pub passkeys: Option<Arc<webauthn_rs::Webauthn>>,
    /// The OpenID Provider for single sign-on; `None` when `OIDC_ISSUER_URL` is unset.
    pub sso: Option<Arc<crate::sso::Provider>>,
    /// Bounds the CPU-heavy part of uploads (decode, thumbnail, encrypt) to one per
    /// core, so a burst of uploads queues instead of thrashing or exhausting memory.
    pub image_work: Arc<tokio::sync::Semaphore>,
    /// Bounds how many upload bodies are held in memory at once (each up to 5 MiB);
    /// further uploads wait with their bytes still in the kernel's socket buffers.
    pub upload_slots: Arc<tokio::sync::Semaphore>,
    /// The Prometheus registry of this application.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Decrypted images and thumbnails kept in memory for their next fetch.
    pub image_cache: crate::image_cache::ImageCache,
}

impl AppState {
    /// Bundles the parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// Whether the database and the blob store both answer (readiness).
    pub async fn ready(&self) -> bool {
        self.db.ping().await && self.store.ping().await
    }

    /// Fetches the state a hoop put in the depot.
    pub fn from_depot(depot: &Depot) -> &Self {
        match depot.get_typed::<Self>() {
            Ok(state) => state,
            Err(_) => unreachable!("the state hoop runs before every handler"),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

#[async_trait]
impl Handler for AppState {
    async fn handle(
        &self,
        _req: &mut Request,
        depot: &mut Depot,
        _res: &mut Response,
        _ctrl: &mut FlowCtrl,
    ) {
        depot.insert_typed(self.clone());
    }
}
