//! The session token and the device token in the OS keychain (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) through the `keyring` crate — never
//! in a file and never in the web view.
//!
//! The service names are fixed here, not chosen by the front end, and an entry is named
//! by the account and the server, so the app can only ever read back its own secrets for
//! the account it remembers. The two secrets live apart because they live differently:
//! the session token goes at sign-out, while the device token (which tells the server
//! this computer signed in before, so strangers' failures never lock it out) stays for
//! every later sign-in to that account. The platform calls block (D-Bus round trips), so
//! callers run them on the blocking pool.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::client::Token;
use crate::error::{Error, Result};

/// The keychain service the session tokens are filed under.
pub const SERVICE: &str = "org.imagevault.desktop";
/// The keychain service the device tokens are filed under (same entry names).
pub const DEVICE_SERVICE: &str = "org.imagevault.desktop.device";

/// The keychain entry of one account on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name the entry is stored under: `email on https://server/`.
    username: String,
}

impl Account {
    /// The entry for `email` on `server`.
    pub fn new(email: &str, server: &Url) -> Self {
        Self {
            username: format!("{email} on {server}"),
        }
    }

    /// The entry's user name (what `secret-tool lookup service … username …` takes).
    pub fn username(&self) -> &str {
        &self.username
    }

    fn entry(&self, service: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(service, &self.username).map_err(unavailable)
    }

    fn get(&self, service: &str) -> Result<Option<String>> {
        match self.entry(service)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Saves the session token, replacing any earlier one.
    pub fn store(&self, token: &Token) -> Result<()> {
        self.entry(SERVICE)?
            .set_password(token.expose_secret())
            .map_err(unavailable)
    }

    /// The saved session token, if there is one.
    pub fn load(&self) -> Result<Option<Token>> {
        Ok(self.get(SERVICE)?.map(Token::new))
    }

    /// Removes the saved session token (the device token stays); removing one that is
    /// not there is not an error.
    pub fn delete(&self) -> Result<()> {
        match self.entry(SERVICE)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Saves the device token the server gave at sign-in, replacing any earlier one.
    pub fn store_device(&self, device: &SecretString) -> Result<()> {
        self.entry(DEVICE_SERVICE)?
            .set_password(device.expose_secret())
            .map_err(unavailable)
    }

    /// The saved device token, if this computer signed in to the account before.
    pub fn load_device(&self) -> Result<Option<SecretString>> {
        Ok(self.get(DEVICE_SERVICE)?.map(SecretString::from))
    }
}

#[allow(clippy::needless_pass_by_value)] // `map_err` hands the error over by value
fn unavailable(err: keyring::Error) -> Error {
    tracing::warn!(error = %err, "keychain call failed");
    let hint = match err {
        keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) => {
            "is a keyring service (such as GNOME Keyring) running and unlocked?"
        }
        _ => "try again, or unlock the keyring",
    };
    Error::Keychain(format!("{err}; {hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_named_by_account_and_server() {
        let server = Url::parse("https://photos.example.com/").unwrap();
        let a = Account::new("ann@example.com", &server);
        assert_eq!(
            a.username(),
            "ann@example.com on https://photos.example.com/"
        );
        let other = Url::parse("http://127.0.0.1:8080/").unwrap();
        assert_ne!(a, Account::new("ann@example.com", &other));
    }
}
