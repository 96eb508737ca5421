//! Configuration from environment variables (and a `.env` file), with the names and
//! defaults of `docs/DESIGN.md` ("Configuration"). Anything invalid stops start-up with
//! one line naming the variable, because a server that starts with a half-understood
//! configuration is worse than one that does not start.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use secrecy::SecretString;

mod parse;
#[cfg(test)]
mod tests;

use parse::{
    allowed_hosts, bounded_number, database_url, email_from, flag, key_provider, metrics_token,
    oidc, parse_bind_addr, public_url, redirect_addr, require_dev_loopback, secret_key,
    session_lifetimes, small_number, smtp, storage_url, tls_files, trusted_proxies, upload_timeout,
};

/// Default listen address: loopback only, so a fresh `cargo run` exposes nothing.
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
/// Largest `IMAGE_CACHE_BYTES` accepted (1 TiB): anything above is a typo, not a plan.
const MAX_IMAGE_CACHE_BYTES: u64 = 1 << 40;

/// The resolved configuration. Secrets are wrapped so logging this is safe.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SECRET_KEY`; `None` means "generate into `DATA_DIR` on first run".
    pub secret_key: Option<SecretString>,
    /// `DEBUG`: plain HTTP allowed on loopback.
    pub debug: bool,
    /// `DATABASE_URL`: `sqlite:` or `postgres:`.
    pub database_url: DatabaseUrl,
    /// `ALLOWED_HOSTS`, lower-cased, without ports.
    pub allowed_hosts: Vec<String>,
    /// `EMAIL_*`: `None` writes messages to `DATA_DIR/outbox`.
    pub email: Option<SmtpConfig>,
    /// `EMAIL_FROM`.
    pub email_from: String,
    /// `PUBLIC_URL` without a trailing slash.
    pub public_url: String,
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `DATA_DIR`.
    pub data_dir: PathBuf,
    /// `STORAGE_URL`: where encrypted blobs live.
    pub storage: StorageUrl,
    /// `MASTER_KEY_FILE`: the key-encryption keys, never in the database.
    pub master_key_file: PathBuf,
    /// `MASTER_KEY_PROVIDER=pkcs11` and its `PKCS11_*` settings: the master keys live in
    /// a token instead of `MASTER_KEY_FILE`.
    pub pkcs11: Option<crate::vault::token::TokenSettings>,
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`, both or neither.
    pub tls: Option<TlsFiles>,
    /// `HTTP_REDIRECT_ADDR`: a plain-HTTP listener that only redirects to `PUBLIC_URL`
    /// (needs the TLS files).
    pub http_redirect_addr: Option<SocketAddr>,
    /// `BEHIND_TLS_PROXY`.
    pub behind_tls_proxy: bool,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// `UPLOAD_TIMEOUT_SECONDS`: longest time an upload body — one file, or a whole form
    /// of them — may take to arrive, so a client trickling bytes cannot hold an upload
    /// slot (default 120 s: 5 MiB at about 350 kbit/s).
    pub upload_timeout: std::time::Duration,
    /// `SESSION_IDLE_DAYS` (default 14) and `SESSION_MAX_DAYS` (default 90), in seconds.
    pub sessions: crate::db::sessions::Lifetimes,
    /// `DEFAULT_QUOTA_BYTES`: what an account may store (images and thumbnails as
    /// stored) unless an administrator set its own quota; default 10 GiB.
    pub default_quota_bytes: u64,
    /// `UPLOAD_RATE_PER_MINUTE`: uploads one account may start a minute (default 120),
    /// so one account cannot keep every upload slot busy for long.
    pub upload_rate_per_minute: u32,
    /// `UPLOADS_PER_USER`: uploads one account may have in progress at once, over every
    /// instance (default 2), so one account cannot hold every upload slot.
    pub uploads_per_user: u32,
    /// `IMAGE_CACHE_BYTES`: memory for decrypted images and thumbnails kept for their
    /// next fetch (default 256 MiB; 0 turns the cache off). Never on disk.
    pub image_cache_bytes: u64,
    /// `ALERT_LOCKOUTS_PER_HOUR`: more lockouts than this in an hour, over every account,
    /// is a storm, and administrators are emailed (default 50).
    pub alert_lockouts_per_hour: u32,
    /// `METRICS_TOKEN`: the bearer token `GET /metrics` asks for; unset, there is no
    /// `/metrics` (404).
    pub metrics_token: Option<SecretString>,
    /// `OIDC_*`: sign-in through an OpenID Provider; `None` when `OIDC_ISSUER_URL` is
    /// unset.
    pub oidc: Option<OidcSettings>,
}

/// The OpenID Provider people may sign in with, and the client registered there.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// `OIDC_ISSUER_URL`, exactly as given (issuers are compared as strings).
    pub issuer: String,
    /// `OIDC_CLIENT_ID`.
    pub client_id: String,
    /// `OIDC_CLIENT_SECRET`, or the contents of `OIDC_CLIENT_SECRET_FILE`.
    pub client_secret: SecretString,
    /// `OIDC_BUTTON_TEXT`: the sign-in button's words.
    pub button_text: String,
    /// `OIDC_AUTO_REGISTER` (default `True`): a first sign-in with a new verified email
    /// makes an account.
    pub auto_register: bool,
}

/// `DATABASE_URL`, whose `Debug` hides the password so the start-up log can show it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, password included.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // scheme://user:password@host/… → scheme://user:***@host/…
        let redacted = match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let credentials = &self.0[scheme + 3..at];
                match credentials.split_once(':') {
                    Some((user, _)) => {
                        format!("{}{user}:***{}", &self.0[..scheme + 3], &self.0[at..])
                    }
                    None => self.0.clone(),
                }
            }
            _ => self.0.clone(),
        };
        f.write_str(&redacted)
    }
}

/// Where blobs are stored.
#[derive(Debug, Clone)]
pub enum StorageUrl {
    /// `file:///path`: a folder on a local disk (the embedded default).
    Files(PathBuf),
    /// `s3://bucket/prefix`: an S3-compatible object store (credentials and endpoint
    /// from the usual `AWS_*` variables).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix, without leading or trailing slashes (may be empty).
        prefix: String,
        /// The `AWS_*` settings that were set (credentials redacted in `Debug`).
        options: Vec<(&'static str, SecretString)>,
    },
}

/// The `AWS_*` variables passed to the S3 client: the usual credential, region and
/// endpoint names, read through the same lookup as everything else (so tests can give
/// each server its own bucket without touching the process environment).
pub const S3_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
];

/// An SMTP relay.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `EMAIL_HOST`.
    pub host: String,
    /// `EMAIL_PORT` (default 587 with TLS, 25 without).
    pub port: u16,
    /// `EMAIL_USE_TLS`: STARTTLS required.
    pub use_tls: bool,
    /// `EMAIL_HOST_USER` and `EMAIL_HOST_PASSWORD`.
    pub credentials: Option<(String, SecretString)>,
    /// `EMAIL_TLS_CA_FILE`: an extra CA (PEM) to trust for a relay with a private CA;
    /// verification is never turned off.
    pub ca_file: Option<PathBuf>,
}

/// Certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `TLS_CERT_FILE`.
    pub cert: PathBuf,
    /// `TLS_KEY_FILE`.
    pub key: PathBuf,
}

/// A configuration value that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong and what to do, for the operator.
    pub reason: String,
}

fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

impl Config {
    /// Reads `.env` (if present in the working directory) and the process environment;
    /// real environment variables win over `.env`.
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(invalid(".env", format!("cannot be read: {e}"))),
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let debug = flag(&get, "DEBUG")?;
        let bind_addr = parse_bind_addr(get("BIND_ADDR"))?;
        let tls = tls_files(&get)?;
        let behind_tls_proxy = flag(&get, "BEHIND_TLS_PROXY")?;
        let http_redirect_addr = redirect_addr(get("HTTP_REDIRECT_ADDR"), tls.is_some())?;
        if tls.is_none() && !behind_tls_proxy {
            require_dev_loopback(debug, bind_addr)?;
        }
        let database_url = DatabaseUrl(database_url(get("DATABASE_URL"), &data_dir)?);
        let secret_key = secret_key(get("SECRET_KEY"))?;
        if secret_key.is_none() && !database_url.0.starts_with("sqlite:") {
            return Err(invalid(
                "SECRET_KEY",
                "must be set when DATABASE_URL is PostgreSQL: every instance must share it",
            ));
        }
        let trusted_proxies = trusted_proxies(get("TRUSTED_PROXIES"))?;
        if behind_tls_proxy && trusted_proxies.is_empty() {
            return Err(invalid(
                "TRUSTED_PROXIES",
                "must list the proxy addresses when BEHIND_TLS_PROXY=True \
                 (otherwise every client looks like the proxy to rate limits)",
            ));
        }
        Ok(Self {
            secret_key,
            debug,
            database_url,
            allowed_hosts: allowed_hosts(get("ALLOWED_HOSTS"))?,
            email: smtp(&get, debug)?,
            email_from: email_from(get("EMAIL_FROM"))?,
            public_url: public_url(get("PUBLIC_URL"), debug)?,
            bind_addr,
            storage: storage_url(get("STORAGE_URL"), &data_dir, &get)?,
            master_key_file: get("MASTER_KEY_FILE")
                .map_or_else(|| data_dir.join("keys").join("master.key"), PathBuf::from),
            pkcs11: key_provider(&get)?,
            data_dir,
            tls,
            http_redirect_addr,
            behind_tls_proxy,
            trusted_proxies,
            upload_timeout: upload_timeout(get("UPLOAD_TIMEOUT_SECONDS"))?,
            sessions: session_lifetimes(get("SESSION_IDLE_DAYS"), get("SESSION_MAX_DAYS"))?,
            default_quota_bytes: bounded_number(
                "DEFAULT_QUOTA_BYTES",
                get("DEFAULT_QUOTA_BYTES"),
                10 * 1024 * 1024 * 1024,
                0..=i64::MAX.unsigned_abs(),
            )?,
            upload_rate_per_minute: small_number(&get, "UPLOAD_RATE_PER_MINUTE", 120, 1..=100_000)?,
            uploads_per_user: small_number(&get, "UPLOADS_PER_USER", 2, 1..=1000)?,
            image_cache_bytes: bounded_number(
                "IMAGE_CACHE_BYTES",
                get("IMAGE_CACHE_BYTES"),
                256 * 1024 * 1024,
                0..=MAX_IMAGE_CACHE_BYTES,
            )?,
            alert_lockouts_per_hour: small_number(
                &get,
                "ALERT_LOCKOUTS_PER_HOUR",
                50,
                1..=1_000_000,
            )?,
            metrics_token: metrics_token(get("METRICS_TOKEN"))?,
            oidc: oidc(&get, debug)?,
        })
    }

    /// Whether clients reach us over HTTPS (directly or through a TLS proxy): decides
    /// HSTS and the `Secure`/`__Host-` cookie attributes.
    pub fn https(&self) -> bool {
        self.tls.is_some() || self.behind_tls_proxy
    }
}
