//! Configuration from environment variables, with the names and defaults of
//! `shared/design.md`. Anything invalid stops start-up with one line naming the variable,
//! because a server that starts with a half-understood configuration is worse than one
//! that does not start.

use std::net::SocketAddr;

/// Default listen address: loopback only, so a fresh `cargo run` exposes nothing.
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen (`BIND_ADDR`).
    pub bind_addr: SocketAddr,
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A variable is set to something unusable.
    #[error("{variable} is invalid: {reason}")]
    Invalid {
        /// The environment variable.
        variable: &'static str,
        /// Why, for the operator.
        reason: String,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = lookup("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.to_owned());
        let bind_addr = raw.trim().parse().map_err(|_| ConfigError::Invalid {
            variable: "BIND_ADDR",
            reason: format!("{raw:?} is not an address like 127.0.0.1:8080"),
        })?;
        Ok(Self { bind_addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_loopback_8080() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(config.bind_addr.to_string(), DEFAULT_BIND_ADDR);
    }

    #[test]
    fn invalid_bind_addr_names_the_variable() {
        for bad in ["localhost", "127.0.0.1", "1.2.3.4:99999", "", "::1:80"] {
            let err = Config::from_lookup(|_| Some(bad.to_owned())).unwrap_err();
            assert!(err.to_string().starts_with("BIND_ADDR is invalid"), "{err}");
        }
    }
}
