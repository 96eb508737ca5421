//! Building the application separately from running it: configuration is checked, the
//! database migrated and the listener bound (its real port known) before the first
//! request. Tests bind port 0 and ask.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use salvo::catcher::Catcher;
use salvo::conn::rustls::RustlsListener;
use salvo::conn::rustls::{Keycert, RustlsConfig};
use salvo::conn::tcp::{DynTcpAcceptor, DynTcpAcceptors};
use salvo::conn::{Acceptor, Listener};
use salvo::fuse::FuseConfig;
use salvo::prelude::*;
use salvo::server::ServerHandle;

use crate::accounts;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::email::{EmailError, Mailer};
use crate::error::uniform_errors;
use crate::http::{head, headers, hosts, listen, trace};
use crate::keys;
use crate::passwords::Hasher;
use crate::routes;
use crate::secret::load_or_create_key_file;
use crate::state::{AppState, Inner};
use crate::storage::BlobStore;

/// Largest request head (request line and headers) accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// A bound, not yet running, server.
pub struct Application {
    server: Server<DynTcpAcceptors>,
    service: Service,
    local_addr: SocketAddr,
    redirect: Option<(Server<DynTcpAcceptors>, SocketAddr)>,
    state: AppState,
}

/// Why the application could not be built; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The listen address is taken or not ours.
    #[error("BIND_ADDR: cannot listen on {addr}: {source}")]
    Bind {
        /// The address from `BIND_ADDR`.
        addr: SocketAddr,
        /// The operating system's reason.
        source: Box<salvo::Error>,
    },
    /// The database could not be reached or migrated.
    #[error("DATABASE_URL: {0}")]
    Database(#[from] DbError),
    /// The email configuration could not be used.
    #[error("EMAIL_*: {0}")]
    Email(#[from] EmailError),
    /// The generated secret key could not be read or written.
    #[error("SECRET_KEY: {0}")]
    SecretKey(std::io::Error),
    /// The master keys (key file or token) are missing when they must exist, unreadable,
    /// incomplete or not the ones the database knows; the reason names the variable.
    #[error("{0}")]
    MasterKey(String),
    /// The blob store could not be opened.
    #[error("STORAGE_URL: {0}")]
    Storage(crate::storage::StorageError),
    /// The TLS files are not a usable certificate and key.
    #[error("TLS_CERT_FILE/TLS_KEY_FILE: {0}")]
    Tls(std::io::Error),
    /// The single sign-on client could not be made.
    #[error("OIDC_ISSUER_URL: {0}")]
    Sso(#[from] crate::sso::SsoError),
}

impl Application {
    /// Connects, migrates and binds as `config` says.
    pub async fn build(config: Config) -> Result<Self, BuildError> {
        let db = Db::connect(config.database_url.expose_secret()).await?;
        db.migrate().await?;
        let state = state(config, db).await?;
        let acceptor = bind(&state.config).await?;
        let local_addr = Acceptor::holdings(&acceptor)
            .first()
            .and_then(|h| h.local_addr.clone().into_std())
            .unwrap_or(state.config.bind_addr);
        let mut server = Server::new(acceptor).fuse_config(
            FuseConfig::default()
                .with_http1_header_timeout(Duration::from_secs(10))
                .with_request_body_timeout(Duration::from_secs(30))
                .with_connection_idle_timeout(Duration::from_secs(75)),
        );
        // Queued writes: without them hyper copies every body into its own buffer
        // before sending (salvo's boxed streams do not say they can write vectors), a
        // fifth of the CPU of a 1 MB image fetch (docs/PERFORMANCE.md).
        server
            .http1_mut()
            .max_buf_size(MAX_HEADER_BYTES.max(8192))
            .max_headers(64)
            .writev(true);
        let service = service(state.clone());
        let redirect = match state.config.http_redirect_addr {
            Some(addr) => {
                let acceptor = listen::bind(addr).map_err(|source| BuildError::Bind {
                    addr,
                    source: Box::new(source.into()),
                })?;
                let bound = acceptor.local_addr().unwrap_or(addr);
                Some((
                    Server::new(DynTcpAcceptors::new(vec![acceptor.into_boxed()])),
                    bound,
                ))
            }
            None => None,
        };
        Ok(Self {
            server,
            service,
            local_addr,
            redirect,
            state,
        })
    }

    /// The address actually bound (the real port when `BIND_ADDR` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the HTTP→HTTPS redirect listener, when configured.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().map(|(_, addr)| *addr)
    }

    /// The shared state (for the command line and tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`] (the redirect listener, if
    /// any, stops with it).
    pub async fn run(self) {
        tracing::info!(addr = %self.local_addr, https = self.state.config.tls.is_some(), "listening");
        let redirect = self.redirect.map(|(server, addr)| {
            tracing::info!(%addr, "redirecting plain HTTP to HTTPS");
            let handle = server.handle();
            let service = Service::new(
                Router::with_path("{**}")
                    .goal(RedirectToHttps(self.state.config.public_url.clone())),
            );
            tokio::spawn(server.serve(service));
            handle
        });
        let purge = tokio::spawn(purge_periodically(self.state.db.clone()));
        self.server.serve(self.service).await;
        purge.abort();
        if let Some(handle) = redirect {
            handle.stop_forceful();
        }
    }
}

/// Keeps the shared tables small: stale rate-limit windows, sessions and tokens go
/// hourly. Every instance may do it; the deletes are idempotent.
async fn purge_periodically(db: crate::db::Db) {
    let mut tick = tokio::time::interval(Duration::from_hours(1));
    loop {
        tick.tick().await;
        match db.purge_stale(crate::db::now()).await {
            Ok(0) => {}
            Ok(rows) => {
                tracing::info!(rows, "purged stale sessions, tokens and rate-limit windows");
            }
            Err(e) => tracing::warn!(error = %e, "purge of stale rows failed; will retry"),
        }
    }
}

/// Answers every plain-HTTP request with a permanent redirect to the same path under
/// `PUBLIC_URL` — never to the request's own `Host`, which the client controls.
struct RedirectToHttps(String);

#[async_trait]
impl Handler for RedirectToHttps {
    async fn handle(
        &self,
        req: &mut Request,
        _depot: &mut Depot,
        res: &mut Response,
        _ctrl: &mut FlowCtrl,
    ) {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!("{}{path}", self.0);
        match salvo::http::HeaderValue::from_str(&location) {
            Ok(value) => {
                res.status_code(StatusCode::PERMANENT_REDIRECT);
                res.headers_mut()
                    .insert(salvo::http::header::LOCATION, value);
            }
            Err(_) => {
                res.status_code(StatusCode::BAD_REQUEST);
            }
        }
    }
}

/// Everything but the listener: what the command line needs too.
pub async fn state(config: Config, db: Db) -> Result<AppState, BuildError> {
    let secret_key = match &config.secret_key {
        Some(key) => key.clone(),
        None => load_or_create_key_file(&config.data_dir.join("secret.key"))
            .map_err(BuildError::SecretKey)?,
    };
    let mailer = Mailer::new(&config)?;
    let keyring = match keys::load_master_keys(&config, &db).await {
        Ok(keys) => keys,
        Err(reason) => {
            crate::alerts::master_key_mismatch(&db, &mailer, &reason).await;
            return Err(BuildError::MasterKey(reason));
        }
    };
    crate::image_names::seal_legacy(&db, &keyring).await?;
    let store = BlobStore::open(&config.storage).map_err(BuildError::Storage)?;
    let cores = cores();
    let passkeys = accounts::passkeys::relying_party(&config).map(Arc::new);
    let sso = match &config.oidc {
        Some(settings) => Some(Arc::new(crate::sso::Provider::new(settings.clone())?)),
        None => None,
    };
    Ok(AppState::new(Inner {
        passkeys,
        sso,
        db,
        mailer,
        hasher: Hasher::new(cores),
        secret_key,
        keyring,
        store,
        image_work: Arc::new(tokio::sync::Semaphore::new(cores)),
        upload_slots: Arc::new(tokio::sync::Semaphore::new(upload_slots())),
        metrics: Arc::new(crate::metrics::Metrics::new()),
        image_cache: crate::image_cache::ImageCache::new(config.image_cache_bytes),
        config,
    }))
}

/// Upload bodies held in memory per core: enough to keep every core decoding while the
/// next bodies arrive, few enough that a burst of 5 MiB uploads stays within a few
/// hundred MiB.
const UPLOAD_SLOTS_PER_CORE: usize = 4;

/// How many uploads may be read at once; public so the slow-client test can fill them.
#[must_use]
pub fn upload_slots() -> usize {
    UPLOAD_SLOTS_PER_CORE * cores()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// The router with the hoops every response goes through, 404s included.
pub fn service(state: AppState) -> Service {
    Service::new(routes::router())
        .hoop(trace::request_span)
        .hoop(head::restore_head)
        .hoop(state)
        .hoop(crate::metrics::observe)
        .hoop(headers::security_headers)
        .hoop(hosts::allowed_hosts)
        .catcher(Catcher::default().hoop(uniform_errors))
}

async fn bind(config: &Config) -> Result<DynTcpAcceptors, BuildError> {
    let addr = config.bind_addr;
    let bind_error = |source| BuildError::Bind {
        addr,
        source: Box::new(source),
    };
    let bound = listen::bind(addr).map_err(|e| bind_error(e.into()))?;
    let acceptor: Box<dyn DynTcpAcceptor> = match &config.tls {
        None => bound.into_boxed(),
        Some(files) => {
            let cert = std::fs::read(&files.cert).map_err(BuildError::Tls)?;
            let key = std::fs::read(&files.key).map_err(BuildError::Tls)?;
            let tls = RustlsConfig::new(Keycert::new().cert(cert).key(key));
            RustlsListener::new(tls, listen::Bound(bound))
                .try_bind()
                .await
                .map_err(bind_error)?
                .into_boxed()
        }
    };
    Ok(DynTcpAcceptors::new(vec![acceptor]))
}
