//! One parser per variable: each returns the value or the one-line error naming it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use secrecy::SecretString;

use super::{
    ConfigError, DEFAULT_BIND_ADDR, OidcSettings, S3_VARIABLES, SmtpConfig, StorageUrl, TlsFiles,
    invalid,
};

pub(super) fn flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<bool, ConfigError> {
    match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(invalid(name, format!("{other:?} is not True or False"))),
    }
}

pub(super) fn upload_timeout(raw: Option<String>) -> Result<std::time::Duration, ConfigError> {
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

/// A whole number within `range`, or `default` when unset.
pub(super) fn bounded_number(
    variable: &'static str,
    raw: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            variable,
            format!(
                "{raw:?} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// [`bounded_number`] for counts that fit a `u32`.
pub(super) fn small_number(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let wide = u64::from(*range.start())..=u64::from(*range.end());
    let n = bounded_number(variable, get(variable), u64::from(default), wide)?;
    Ok(u32::try_from(n).unwrap_or(default))
}

/// `METRICS_TOKEN`: long enough not to be guessed.
pub(super) fn metrics_token(raw: Option<String>) -> Result<Option<SecretString>, ConfigError> {
    match raw {
        Some(token) if token.len() < 32 || token.len() > 256 || !token.is_ascii() => Err(invalid(
            "METRICS_TOKEN",
            "must be 32 to 256 ASCII characters; use a long random value",
        )),
        other => Ok(other.map(SecretString::from)),
    }
}

/// `SESSION_IDLE_DAYS` and `SESSION_MAX_DAYS`: whole days, the idle limit no longer
/// than the absolute one.
pub(super) fn session_lifetimes(
    idle: Option<String>,
    max: Option<String>,
) -> Result<crate::db::sessions::Lifetimes, ConfigError> {
    let days = |variable: &'static str, raw: Option<String>, default: i64| match raw {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(days @ 1..=3650) => Ok(days),
            _ => Err(invalid(
                variable,
                format!("{raw:?} is not a whole number of days from 1 to 3650"),
            )),
        },
    };
    let idle = days("SESSION_IDLE_DAYS", idle, 14)?;
    let max = days("SESSION_MAX_DAYS", max, 90)?;
    if idle > max {
        return Err(invalid(
            "SESSION_IDLE_DAYS",
            format!("{idle} days is longer than SESSION_MAX_DAYS ({max} days)"),
        ));
    }
    Ok(crate::db::sessions::Lifetimes {
        idle: idle * 86_400,
        max: max * 86_400,
    })
}

pub(super) fn parse_bind_addr(raw: Option<String>) -> Result<SocketAddr, ConfigError> {
    let raw = raw.unwrap_or_else(|| DEFAULT_BIND_ADDR.to_owned());
    raw.parse().map_err(|_| {
        invalid(
            "BIND_ADDR",
            format!("{raw:?} is not an address like 127.0.0.1:8080"),
        )
    })
}

pub(super) fn redirect_addr(
    raw: Option<String>,
    tls: bool,
) -> Result<Option<SocketAddr>, ConfigError> {
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

pub(super) fn require_dev_loopback(debug: bool, bind_addr: SocketAddr) -> Result<(), ConfigError> {
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

pub(super) fn tls_files(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<TlsFiles>, ConfigError> {
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

pub(super) fn secret_key(raw: Option<String>) -> Result<Option<SecretString>, ConfigError> {
    match raw {
        Some(key) if key.len() < 32 => Err(invalid(
            "SECRET_KEY",
            "is shorter than 32 characters; use a long random value",
        )),
        other => Ok(other.map(SecretString::from)),
    }
}

pub(super) fn database_url(
    raw: Option<String>,
    data_dir: &std::path::Path,
) -> Result<String, ConfigError> {
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

pub(super) fn storage_url(
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

pub(super) fn allowed_hosts(raw: Option<String>) -> Result<Vec<String>, ConfigError> {
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

pub(super) fn smtp(
    get: &impl Fn(&str) -> Option<String>,
    debug: bool,
) -> Result<Option<SmtpConfig>, ConfigError> {
    let Some(host) = get("EMAIL_HOST") else {
        return Ok(None);
    };
    let use_tls = flag(get, "EMAIL_USE_TLS")?;
    if !debug && !use_tls && !is_loopback_host(&host) {
        return Err(invalid(
            "EMAIL_USE_TLS",
            format!(
                "must be True for the relay {host:?} outside DEBUG: emails carry sign-in and \
                 reset links, and plain SMTP is allowed only to a relay on this machine"
            ),
        ));
    }
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

pub(super) fn email_from(raw: Option<String>) -> Result<String, ConfigError> {
    let from = raw.unwrap_or_else(|| "ImageVault <no-reply@localhost>".into());
    from.parse::<lettre::message::Mailbox>()
        .map_err(|e| invalid("EMAIL_FROM", format!("{from:?} is not a mailbox: {e}")))?;
    Ok(from)
}

/// Emailed links carry single-use tokens, so outside `DEBUG` they must be `https://`.
/// The default names loopback as `localhost`, not `127.0.0.1`: WebAuthn refuses IP
/// addresses, so only a name lets passkeys work on the embedded default.
pub(super) fn public_url(raw: Option<String>, debug: bool) -> Result<String, ConfigError> {
    let url = raw.unwrap_or_else(|| "http://localhost:8080".into());
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("PUBLIC_URL", "must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(invalid("PUBLIC_URL", format!("{url:?} is not a base URL")));
    }
    if !debug && !url.starts_with("https://") {
        return Err(invalid(
            "PUBLIC_URL",
            format!(
                "{url:?} must be an https:// address outside DEBUG: the links emailed from it \
                 carry sign-in and reset tokens"
            ),
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Whether an SMTP relay's host name is this machine (where plain SMTP crosses no network).
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(super) fn trusted_proxies(raw: Option<String>) -> Result<Vec<IpAddr>, ConfigError> {
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

/// The label master keys get in a token unless `PKCS11_KEY_LABEL` says otherwise.
pub(super) const DEFAULT_PKCS11_KEY_LABEL: &str = "imagevault-master-key";

/// `MASTER_KEY_PROVIDER` (`file` or `pkcs11`) and, for `pkcs11`, the `PKCS11_*` settings.
pub(super) fn key_provider(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::vault::token::TokenSettings>, ConfigError> {
    const TOKEN_VARIABLES: [&str; 5] = [
        "PKCS11_MODULE",
        "PKCS11_TOKEN_LABEL",
        "PKCS11_PIN",
        "PKCS11_PIN_FILE",
        "PKCS11_KEY_LABEL",
    ];
    match get("MASTER_KEY_PROVIDER").as_deref() {
        None | Some("file") => {
            return match TOKEN_VARIABLES.into_iter().find(|name| get(name).is_some()) {
                Some(name) => Err(invalid(
                    "MASTER_KEY_PROVIDER",
                    format!("must be pkcs11 when {name} is set (it is file)"),
                )),
                None => Ok(None),
            };
        }
        Some("pkcs11") => {}
        Some(other) => {
            return Err(invalid(
                "MASTER_KEY_PROVIDER",
                format!("{other:?} is neither file nor pkcs11"),
            ));
        }
    }
    let required = |name: &'static str| {
        get(name).ok_or_else(|| invalid(name, "must be set when MASTER_KEY_PROVIDER=pkcs11"))
    };
    let module = PathBuf::from(required("PKCS11_MODULE")?);
    if !module.is_file() {
        return Err(invalid(
            "PKCS11_MODULE",
            format!(
                "{} is not a file (the token's PKCS#11 library)",
                module.display()
            ),
        ));
    }
    let token_label = required("PKCS11_TOKEN_LABEL")?;
    let pin = secret_or_file(
        get,
        ("PKCS11_PIN", "PKCS11_PIN_FILE"),
        "MASTER_KEY_PROVIDER=pkcs11",
    )?;
    let key_label = get("PKCS11_KEY_LABEL").unwrap_or_else(|| DEFAULT_PKCS11_KEY_LABEL.into());
    if key_label.len() > 64 || key_label.chars().any(char::is_control) {
        return Err(invalid(
            "PKCS11_KEY_LABEL",
            "must be at most 64 bytes without control characters",
        ));
    }
    Ok(Some(crate::vault::token::TokenSettings {
        module,
        token_label,
        pin,
        key_label,
    }))
}

/// A secret given in the first variable, or read from the file the second names (its
/// trailing newline dropped, so `echo secret > file` works): one of them, not both, so
/// an operator never wonders which one is used.
fn secret_or_file(
    get: &impl Fn(&str) -> Option<String>,
    (name, file_name): (&'static str, &'static str),
    needed_when: &str,
) -> Result<SecretString, ConfigError> {
    match (get(name), get(file_name)) {
        (Some(secret), None) => Ok(SecretString::from(secret)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| invalid(file_name, format!("{path} cannot be read: {e}")))?;
            let secret = text.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                return Err(invalid(file_name, format!("{path} is empty")));
            }
            Ok(SecretString::from(secret))
        }
        (Some(_), Some(_)) => Err(invalid(
            name,
            format!("and {file_name} are both set: keep one"),
        )),
        (None, None) => Err(invalid(
            name,
            format!("or {file_name} must be set when {needed_when}"),
        )),
    }
}

/// The words of the sign-in button unless `OIDC_BUTTON_TEXT` says otherwise.
pub(super) const DEFAULT_OIDC_BUTTON_TEXT: &str = "Sign in with single sign-on";
/// `OIDC_BUTTON_TEXT` is a button's label, not a paragraph.
const MAX_OIDC_BUTTON_CHARS: usize = 60;

/// `OIDC_*`: single sign-on. The issuer is kept exactly as given, because OpenID
/// Connect compares it with the provider's `issuer` and the ID token's `iss` character
/// for character.
pub(super) fn oidc(
    get: &impl Fn(&str) -> Option<String>,
    debug: bool,
) -> Result<Option<OidcSettings>, ConfigError> {
    const OTHERS: [&str; 5] = [
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
        "OIDC_CLIENT_SECRET_FILE",
        "OIDC_BUTTON_TEXT",
        "OIDC_AUTO_REGISTER",
    ];
    let Some(issuer) = get("OIDC_ISSUER_URL") else {
        return match OTHERS.into_iter().find(|name| get(name).is_some()) {
            Some(name) => Err(invalid(
                "OIDC_ISSUER_URL",
                format!("must be set when {name} is set (the provider to sign in with)"),
            )),
            None => Ok(None),
        };
    };
    oidc_issuer(&issuer, debug)?;
    let client_id = get("OIDC_CLIENT_ID")
        .ok_or_else(|| invalid("OIDC_CLIENT_ID", "must be set when OIDC_ISSUER_URL is set"))?;
    if client_id.len() > 255 || client_id.chars().any(char::is_control) {
        return Err(invalid(
            "OIDC_CLIENT_ID",
            "must be at most 255 bytes without control characters",
        ));
    }
    let client_secret = secret_or_file(
        get,
        ("OIDC_CLIENT_SECRET", "OIDC_CLIENT_SECRET_FILE"),
        "OIDC_ISSUER_URL is set",
    )?;
    let button_text =
        get("OIDC_BUTTON_TEXT").unwrap_or_else(|| DEFAULT_OIDC_BUTTON_TEXT.to_owned());
    if button_text.chars().count() > MAX_OIDC_BUTTON_CHARS
        || button_text.chars().any(char::is_control)
    {
        return Err(invalid(
            "OIDC_BUTTON_TEXT",
            format!("must be at most {MAX_OIDC_BUTTON_CHARS} characters on one line"),
        ));
    }
    let auto_register = match get("OIDC_AUTO_REGISTER") {
        None => true,
        Some(_) => flag(get, "OIDC_AUTO_REGISTER")?,
    };
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret,
        button_text,
        auto_register,
    }))
}

/// Outside `DEBUG` the provider must be reached over TLS: its answers sign people in.
/// With `DEBUG`, a provider on this machine may speak plain HTTP (the tests run one).
fn oidc_issuer(issuer: &str, debug: bool) -> Result<(), ConfigError> {
    let url = url::Url::parse(issuer)
        .map_err(|e| invalid("OIDC_ISSUER_URL", format!("{issuer:?} is not a URL: {e}")))?;
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(invalid(
            "OIDC_ISSUER_URL",
            format!("{issuer:?} must be a plain address, without a query, fragment or user"),
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if debug && loopback => Ok(()),
        _ => Err(invalid(
            "OIDC_ISSUER_URL",
            format!(
                "{issuer:?} must be an https:// address (plain http:// only for a provider \
                 on this machine, with DEBUG=True): the provider's answers sign people in"
            ),
        )),
    }
}
