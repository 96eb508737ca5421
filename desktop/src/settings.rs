//! What the app remembers between runs: the server address, an optional extra CA
//! certificate, and the email of the last sign-in (so the keychain entry can be found).
//!
//! None of it is secret — the token lives only in the OS keychain — so it is a small
//! JSON file in the app's config folder, written with a temp file, fsync and a rename
//! (`imagevault_durable`) so a crash never leaves half a file. Addresses are checked when saved: `https://`, or plain
//! `http://` only to this computer, since anything else would send the password and the
//! token across the network in the clear.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};

/// The embedded-default server started by `scripts/run`.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8080/";

/// The remembered settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Base address of the ImageVault server, ending in `/`.
    pub server_url: String,
    /// A PEM file of extra CA certificates to trust for this server.
    pub ca_file: Option<PathBuf>,
    /// Email of the last successful sign-in (names the keychain entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Folders whose new photos are uploaded by themselves, in the order added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watched_folders: Vec<PathBuf>,
    /// Watching is paused (the folders stay listed).
    #[serde(default)]
    pub watch_paused: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server_url: DEFAULT_SERVER_URL.into(),
            ca_file: None,
            email: None,
            watched_folders: Vec::new(),
            watch_paused: false,
        }
    }
}

impl Settings {
    /// The parsed server address (it was checked when saved).
    pub fn server(&self) -> Result<Url> {
        parse_server_url(&self.server_url)
    }
}

/// Checks a server address as typed and normalises it (`https://host/base/`).
pub fn parse_server_url(input: &str) -> Result<Url> {
    let invalid = |why: &str| Error::InvalidSetting(format!("The server address {why}."));
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(invalid("is empty"));
    }
    let mut url = Url::parse(trimmed).map_err(|e| {
        invalid(&format!(
            "is not a web address ({e}); it looks like https://photos.example.com"
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "must start with https:// (plain http:// is only allowed for this computer, \
                 such as http://127.0.0.1:8080)",
            ));
        }
        _ => return Err(invalid("must start with https://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not contain a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not contain ? or #"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Reads and checks an extra CA file: it must hold at least one PEM certificate.
pub fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let shown = path.display();
    let pem = std::fs::read(path)
        .map_err(|e| Error::InvalidSetting(format!("The CA file {shown} cannot be read ({e}).")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
        Error::InvalidSetting(format!("The CA file {shown} is not a PEM certificate."))
    })?;
    if certs.is_empty() {
        return Err(Error::InvalidSetting(format!(
            "The CA file {shown} holds no certificate (expected -----BEGIN CERTIFICATE-----)."
        )));
    }
    Ok(certs)
}

/// The settings file in a config folder.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    /// The file `settings.json` in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("settings.json"),
        }
    }

    /// The saved settings, or the defaults when there are none or they are unreadable
    /// (a damaged file must not keep the app from starting; it is logged and replaced
    /// on the next save).
    pub fn load(&self) -> Settings {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %self.path.display(), error = %e, "settings unreadable; using defaults");
                Settings::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "settings unreadable; using defaults");
                Settings::default()
            }
        }
    }

    /// Writes the settings atomically and durably (owner-only, like the folder when it
    /// has to be made).
    pub fn save(&self, settings: &Settings) -> Result<()> {
        let failed = |e: std::io::Error| {
            Error::File(format!(
                "The settings could not be saved to {} ({e}).",
                self.path.display()
            ))
        };
        let json = serde_json::to_vec_pretty(settings).expect("settings serialise");
        imagevault_durable::write_private(&self.path, &json).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http_and_normalises() {
        assert_eq!(
            parse_server_url(" https://photos.example.com ")
                .unwrap()
                .as_str(),
            "https://photos.example.com/"
        );
        assert_eq!(
            parse_server_url("https://example.com/vault")
                .unwrap()
                .as_str(),
            "https://example.com/vault/"
        );
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9/",
        ] {
            parse_server_url(ok).unwrap();
        }
    }

    #[test]
    fn refuses_cleartext_to_other_hosts_and_odd_addresses() {
        for (bad, says) in [
            ("", "is empty"),
            ("photos.example.com", "is not a web address"),
            ("http://photos.example.com", "must start with https://"),
            ("http://10.0.0.2:8080", "must start with https://"),
            ("ftp://example.com", "must start with https://"),
            ("file:///etc/passwd", "must start with https://"),
            ("javascript:alert(1)", "must start with https://"),
            ("https://user:pw@example.com", "user name or password"),
            ("https://example.com/?next=x", "? or #"),
        ] {
            let err = parse_server_url(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn settings_survive_a_round_trip_and_damage_falls_back_to_defaults() {
        let dir = std::env::temp_dir().join(format!("iv-settings-{}", uuid::Uuid::new_v4()));
        let file = SettingsFile::in_dir(&dir);
        assert_eq!(file.load(), Settings::default());
        let saved = Settings {
            server_url: "https://example.com/".into(),
            ca_file: Some("/tmp/ca.pem".into()),
            email: Some("a@example.com".into()),
            watched_folders: vec!["/home/a/Pictures".into(), "/media/camera".into()],
            watch_paused: true,
        };
        file.save(&saved).unwrap();
        assert_eq!(file.load(), saved);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["settings.json"], "no temporary file is left");
        std::fs::write(dir.join("settings.json"), b"{not json").unwrap();
        assert_eq!(file.load(), Settings::default());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ca_files_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("iv-ca-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = read_ca_file(&dir.join("none.pem")).unwrap_err().to_string();
        assert!(missing.contains("cannot be read"), "{missing}");
        std::fs::write(dir.join("text.pem"), "hello").unwrap();
        let empty = read_ca_file(&dir.join("text.pem")).unwrap_err().to_string();
        assert!(
            empty.contains("no certificate") || empty.contains("not a PEM"),
            "{empty}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
