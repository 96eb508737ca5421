//! Configuration from environment variables (and a `.env` file), with the names and
//! defaults of `docs/DESIGN.md` ("Configuration"). Anything invalid stops start-up with
//! one line naming the variable, because a server that starts with a half-understood
//! configuration is worse than one that does not start.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use secrecy::SecretString;

/// Default listen address: loopback only, so a fresh `cargo run` exposes nothing.
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";

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
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`, both or neither.
    pub tls: Option<TlsFiles>,
    /// `HTTP_REDIRECT_ADDR`: a plain-HTTP listener that only redirects to `PUBLIC_URL`
    /// (needs the TLS files).
    pub http_redirect_addr: Option<SocketAddr>,
    /// `BEHIND_TLS_PROXY`.
    pub behind_tls_proxy: bool,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// `UPLOAD_TIMEOUT_SECONDS`: longest time one uploaded file may take to arrive, so a
    /// client trickling bytes cannot hold an upload slot (default 120 s: 5 MiB at about
    /// 350 kbit/s).
    pub upload_timeout: std::time::Duration,
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
            email: smtp(&get)?,
            email_from: email_from(get("EMAIL_FROM"))?,
            public_url: public_url(get("PUBLIC_URL"))?,
            bind_addr,
            storage: storage_url(get("STORAGE_URL"), &data_dir, &get)?,
            master_key_file: get("MASTER_KEY_FILE")
                .map_or_else(|| data_dir.join("keys").join("master.key"), PathBuf::from),
            data_dir,
            tls,
            http_redirect_addr,
            behind_tls_proxy,
            trusted_proxies,
            upload_timeout: upload_timeout(get("UPLOAD_TIMEOUT_SECONDS"))?,
        })
    }

    /// Whether clients reach us over HTTPS (directly or through a TLS proxy): decides
    /// HSTS and the `Secure`/`__Host-` cookie attributes.
    pub fn https(&self) -> bool {
        self.tls.is_some() || self.behind_tls_proxy
    }
}

fn flag(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(invalid(name, format!("{other:?} is not True or False"))),
    }
}

fn upload_timeout(raw: Option<String>) -> Result<std::time::Duration, ConfigError> {
    let Some(raw) = raw else {
        return Ok(std::time::Duration::from_mins(2));
    };
    match raw.trim().parse::<u64>() {
        Ok(secs @ 1..=3600) => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(invalid(
            "UPLOAD_TIMEOUT_SECONDS",
            format!("{raw:?} is not a number of seconds from 1 to 3600"),
        )),
    }
}

fn parse_bind_addr(raw: Option<String>) -> Result<SocketAddr, ConfigError> {
    let raw = raw.unwrap_or_else(|| DEFAULT_BIND_ADDR.to_owned());
    raw.parse().map_err(|_| {
        invalid(
            "BIND_ADDR",
            format!("{raw:?} is not an address like 127.0.0.1:8080"),
        )
    })
}

fn redirect_addr(raw: Option<String>, tls: bool) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    if !tls {
        return Err(invalid(
            "HTTP_REDIRECT_ADDR",
            "redirects to HTTPS, so TLS_CERT_FILE and TLS_KEY_FILE must be set too",
        ));
    }
    raw.parse().map(Some).map_err(|_| {
        invalid(
            "HTTP_REDIRECT_ADDR",
            format!("{raw:?} is not an address like 0.0.0.0:80"),
        )
    })
}

fn require_dev_loopback(debug: bool, bind_addr: SocketAddr) -> Result<(), ConfigError> {
    if !debug {
        return Err(invalid(
            "DEBUG",
            "is False, so plain HTTP is refused: set TLS_CERT_FILE and TLS_KEY_FILE, or \
             BEHIND_TLS_PROXY=True, or DEBUG=True for development on loopback",
        ));
    }
    if !bind_addr.ip().is_loopback() {
        return Err(invalid(
            "BIND_ADDR",
            format!(
                "{bind_addr} is not loopback; plain HTTP in DEBUG mode is only served on loopback"
            ),
        ));
    }
    Ok(())
}

fn tls_files(get: &impl Fn(&str) -> Option<String>) -> Result<Option<TlsFiles>, ConfigError> {
    match (get("TLS_CERT_FILE"), get("TLS_KEY_FILE")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid("TLS_KEY_FILE", "must be set when TLS_CERT_FILE is")),
        (None, Some(_)) => Err(invalid("TLS_CERT_FILE", "must be set when TLS_KEY_FILE is")),
        (Some(cert), Some(key)) => {
            for (name, path) in [("TLS_CERT_FILE", &cert), ("TLS_KEY_FILE", &key)] {
                std::fs::File::open(path)
                    .map_err(|e| invalid(name, format!("{path} cannot be read: {e}")))?;
            }
            Ok(Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }))
        }
    }
}

fn secret_key(raw: Option<String>) -> Result<Option<SecretString>, ConfigError> {
    match raw {
        Some(key) if key.len() < 32 => Err(invalid(
            "SECRET_KEY",
            "is shorter than 32 characters; use a long random value",
        )),
        other => Ok(other.map(SecretString::from)),
    }
}

fn database_url(raw: Option<String>, data_dir: &std::path::Path) -> Result<String, ConfigError> {
    let url = raw.unwrap_or_else(|| format!("sqlite://{}/imagevault.db", data_dir.display()));
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(url)
    } else {
        Err(invalid(
            "DATABASE_URL",
            "must start with sqlite: or postgres://",
        ))
    }
}

fn storage_url(
    raw: Option<String>,
    data_dir: &std::path::Path,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<StorageUrl, ConfigError> {
    let Some(raw) = raw else {
        return Ok(StorageUrl::Files(data_dir.join("blobs")));
    };
    if let Some(path) = raw.strip_prefix("file://") {
        if path.is_empty() {
            return Err(invalid(
                "STORAGE_URL",
                "file:// needs a folder, like file:///var/lib/imagevault/blobs",
            ));
        }
        return Ok(StorageUrl::Files(PathBuf::from(path)));
    }
    if let Some(rest) = raw.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid_bucket {
            return Err(invalid(
                "STORAGE_URL",
                format!("{bucket:?} is not an S3 bucket name"),
            ));
        }
        let options = S3_VARIABLES
            .iter()
            .filter_map(|name| get(name).map(|v| (*name, SecretString::from(v))))
            .collect();
        return Ok(StorageUrl::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            options,
        });
    }
    Err(invalid("STORAGE_URL", "must start with file:// or s3://"))
}

fn allowed_hosts(raw: Option<String>) -> Result<Vec<String>, ConfigError> {
    let raw = raw.unwrap_or_else(|| "localhost,127.0.0.1".into());
    let hosts: Vec<String> = raw
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() || hosts.iter().any(|h| h.contains(['/', ' ', '@'])) {
        return Err(invalid(
            "ALLOWED_HOSTS",
            "must be a comma list of host names",
        ));
    }
    Ok(hosts)
}

fn smtp(get: &impl Fn(&str) -> Option<String>) -> Result<Option<SmtpConfig>, ConfigError> {
    let Some(host) = get("EMAIL_HOST") else {
        return Ok(None);
    };
    let use_tls = flag(get, "EMAIL_USE_TLS")?;
    let port = match get("EMAIL_PORT") {
        None => {
            if use_tls {
                587
            } else {
                25
            }
        }
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid("EMAIL_PORT", format!("{p:?} is not a port number")))?,
    };
    if !use_tls && get("EMAIL_HOST_USER").is_some() {
        return Err(invalid(
            "EMAIL_USE_TLS",
            "must be True when EMAIL_HOST_USER is set: the password would cross the network in clear",
        ));
    }
    let credentials = match (get("EMAIL_HOST_USER"), get("EMAIL_HOST_PASSWORD")) {
        (Some(user), Some(password)) => Some((user, SecretString::from(password))),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "EMAIL_HOST_USER",
                "and EMAIL_HOST_PASSWORD must be set together",
            ));
        }
    };
    let ca_file = match get("EMAIL_TLS_CA_FILE") {
        None => None,
        Some(path) => {
            std::fs::File::open(&path)
                .map_err(|e| invalid("EMAIL_TLS_CA_FILE", format!("{path} cannot be read: {e}")))?;
            Some(PathBuf::from(path))
        }
    };
    Ok(Some(SmtpConfig {
        host,
        port,
        use_tls,
        credentials,
        ca_file,
    }))
}

fn email_from(raw: Option<String>) -> Result<String, ConfigError> {
    let from = raw.unwrap_or_else(|| "ImageVault <no-reply@localhost>".into());
    from.parse::<lettre::message::Mailbox>()
        .map_err(|e| invalid("EMAIL_FROM", format!("{from:?} is not a mailbox: {e}")))?;
    Ok(from)
}

fn public_url(raw: Option<String>) -> Result<String, ConfigError> {
    let url = raw.unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("PUBLIC_URL", "must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(invalid("PUBLIC_URL", format!("{url:?} is not a base URL")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn trusted_proxies(raw: Option<String>) -> Result<Vec<IpAddr>, ConfigError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map_err(|_| invalid("TRUSTED_PROXIES", format!("{p:?} is not an IP address")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn dev(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut vars = vec![("DEBUG", "True")];
        vars.extend_from_slice(extra);
        config(&vars)
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = dev(&[]).unwrap();
        assert_eq!(c.bind_addr.to_string(), DEFAULT_BIND_ADDR);
        assert_eq!(
            c.database_url.expose_secret(),
            "sqlite://./data/imagevault.db"
        );
        assert_eq!(c.allowed_hosts, ["localhost", "127.0.0.1"]);
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert!(c.email.is_none());
        assert!(matches!(&c.storage, StorageUrl::Files(p) if p.as_os_str() == "./data/blobs"));
        assert_eq!(c.master_key_file, PathBuf::from("./data/keys/master.key"));
        let s3 = dev(&[("STORAGE_URL", "s3://vault-blobs/prod/images/")]).unwrap();
        assert!(
            matches!(
                &s3.storage,
                StorageUrl::S3 { bucket, prefix, options }
                    if bucket == "vault-blobs" && prefix == "prod/images" && options.is_empty()
            ),
            "{:?}",
            s3.storage
        );
        assert!(!c.https());
    }

    #[test]
    fn plain_http_without_debug_is_refused_with_one_clear_line() {
        let err = config(&[]).unwrap_err();
        assert_eq!(err.variable, "DEBUG");
        assert!(!err.to_string().contains('\n'));
        assert!(err.to_string().contains("TLS_CERT_FILE"));
        assert!(
            config(&[
                ("BEHIND_TLS_PROXY", "True"),
                ("TRUSTED_PROXIES", "10.0.0.1")
            ])
            .is_ok()
        );
    }

    #[test]
    fn debug_plain_http_only_on_loopback() {
        let err = dev(&[("BIND_ADDR", "0.0.0.0:8080")]).unwrap_err();
        assert_eq!(err.variable, "BIND_ADDR");
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&str, &str, &str)] = &[
            ("BIND_ADDR", "localhost", "BIND_ADDR"),
            ("DEBUG", "maybe", "DEBUG"),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
            ("SECRET_KEY", "short", "SECRET_KEY"),
            ("PUBLIC_URL", "ftp://x", "PUBLIC_URL"),
            ("EMAIL_FROM", "not an address", "EMAIL_FROM"),
            ("TRUSTED_PROXIES", "10.0.0.1,nope", "TRUSTED_PROXIES"),
            ("ALLOWED_HOSTS", " , ", "ALLOWED_HOSTS"),
            ("HTTP_REDIRECT_ADDR", "0.0.0.0:80", "HTTP_REDIRECT_ADDR"),
            ("STORAGE_URL", "ftp://x", "STORAGE_URL"),
            ("STORAGE_URL", "file://", "STORAGE_URL"),
            ("STORAGE_URL", "s3://UPPER/x", "STORAGE_URL"),
            ("STORAGE_URL", "s3://ab", "STORAGE_URL"),
            ("TLS_CERT_FILE", "/nonexistent/cert.pem", "TLS_KEY_FILE"),
        ];
        for (name, value, blamed) in cases {
            let err = dev(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, *blamed, "{name}={value}: {err}");
        }
        let err = dev(&[
            ("EMAIL_HOST", "mx"),
            ("EMAIL_TLS_CA_FILE", "/nonexistent/ca.pem"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "EMAIL_TLS_CA_FILE");
        let err = dev(&[("EMAIL_HOST", "smtp.example.com"), ("EMAIL_PORT", "0")]).unwrap_err();
        assert_eq!(err.variable, "EMAIL_PORT");
        let err = dev(&[("EMAIL_HOST", "smtp.example.com"), ("EMAIL_HOST_USER", "u")]).unwrap_err();
        assert_eq!(err.variable, "EMAIL_USE_TLS");
        let err = dev(&[
            ("EMAIL_HOST", "mx"),
            ("EMAIL_USE_TLS", "True"),
            ("EMAIL_HOST_USER", "u"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "EMAIL_HOST_USER");
        let err = dev(&[("DATABASE_URL", "postgres://db/vault")]).unwrap_err();
        assert_eq!(err.variable, "SECRET_KEY");
        let err = config(&[("BEHIND_TLS_PROXY", "True")]).unwrap_err();
        assert_eq!(err.variable, "TRUSTED_PROXIES");
    }

    #[test]
    fn unreadable_tls_files_are_named() {
        let err = dev(&[
            ("TLS_CERT_FILE", "/nonexistent/c.pem"),
            ("TLS_KEY_FILE", "/nonexistent/k.pem"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "TLS_CERT_FILE");
        assert!(err.reason.contains("/nonexistent/c.pem"));
    }

    #[test]
    fn smtp_port_defaults_depend_on_tls() {
        let plain = dev(&[("EMAIL_HOST", "mx")]).unwrap().email.unwrap();
        assert_eq!((plain.port, plain.use_tls), (25, false));
        let tls = dev(&[("EMAIL_HOST", "mx"), ("EMAIL_USE_TLS", "True")])
            .unwrap()
            .email
            .unwrap();
        assert_eq!((tls.port, tls.use_tls), (587, true));
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let c = dev(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef-very-secret"),
            ("EMAIL_HOST", "mx"),
            ("EMAIL_USE_TLS", "True"),
            ("EMAIL_HOST_USER", "u"),
            ("EMAIL_HOST_PASSWORD", "smtp-password-secret"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("smtp-password-secret"));
        let pg = dev(&[
            (
                "DATABASE_URL",
                "postgres://app:db-pass-secret@db:5432/vault",
            ),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef-very-secret"),
        ])
        .unwrap();
        assert_eq!(
            format!("{:?}", pg.database_url),
            "postgres://app:***@db:5432/vault"
        );
    }
}
