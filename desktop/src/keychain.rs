//! The session token in the OS keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows) through the `keyring` crate — never in a file and never
//! in the web view.
//!
//! The service name is fixed here, not chosen by the front end, and an entry is named by
//! the account and the server, so the app can only ever read back its own token for the
//! account it remembers. The platform calls block (D-Bus round trips), so callers run
//! them on the blocking pool.

use url::Url;

use crate::client::Token;
use crate::error::{Error, Result};

/// The keychain service every entry of the app is filed under.
pub const SERVICE: &str = "org.imagevault.desktop";

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

    fn entry(&self) -> Result<keyring::Entry> {
        keyring::Entry::new(SERVICE, &self.username).map_err(unavailable)
    }

    /// Saves the token, replacing any earlier one.
    pub fn store(&self, token: &Token) -> Result<()> {
        self.entry()?
            .set_password(token.expose_secret())
            .map_err(unavailable)
    }

    /// The saved token, if there is one.
    pub fn load(&self) -> Result<Option<Token>> {
        match self.entry()?.get_password() {
            Ok(token) => Ok(Some(Token::new(token))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Removes the saved token; removing one that is not there is not an error.
    pub fn delete(&self) -> Result<()> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
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
