//! Email addresses as account identifiers.
//!
//! An address is normalised once, here, so that `Alice@Example.COM ` and
//! `alice@example.com` are the same account everywhere: registration, login, lockout
//! counters and the desktop's remembered sign-in. Syntax checking is delegated to the
//! `email_address` crate (RFC 5321/5322); on top of it we refuse forms that are legal
//! but useless for delivering a verification link (quoted local parts, IP literals,
//! dotless domains).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest address accepted, the SMTP path limit (RFC 5321 §4.5.3.1.3).
pub const MAX_EMAIL_LEN: usize = 254;

/// A syntactically valid, normalised email address.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Enter a valid email address, like name@example.com.")]
pub struct InvalidEmail;

impl EmailAddress {
    /// Trims, lower-cases and checks `raw`.
    ///
    /// The whole address is lower-cased, not just the domain: RFC 5321 lets local parts be
    /// case-sensitive, but no mail provider people use treats them so, and two accounts that
    /// differ only by case would be a phishing gift.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let candidate = raw.trim().to_lowercase();
        if candidate.len() > MAX_EMAIL_LEN || candidate.chars().any(char::is_control) {
            return Err(InvalidEmail);
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            &candidate,
            email_address::Options::default().without_display_text(),
        )
        .map_err(|_| InvalidEmail)?;
        let domain = parsed.domain();
        let local = parsed.local_part();
        let plain_domain = domain.contains('.')
            && !domain.starts_with('[')
            && !domain.starts_with('.')
            && !domain.ends_with('.');
        if !plain_domain || local.starts_with('"') {
            return Err(InvalidEmail);
        }
        Ok(Self(candidate))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, used to stop passwords built from it.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(self.0.as_str(), |(l, _)| l)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.0).finish()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let email = EmailAddress::parse("  Alice@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "alice@example.com");
        assert_eq!(email.local_part(), "alice");
    }

    #[test]
    fn refuses_malformed_and_useless_addresses() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "alice@[127.0.0.1]",
            "\"a b\"@example.com",
            "Alice <alice@example.com>",
            "a@b@example.com",
            "alice@example.com\u{0}",
            "ali\u{7}ce@example.com",
            "alice@.example.com",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
    }

    #[test]
    fn refuses_overlong_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(InvalidEmail));
    }

    #[test]
    fn deserialising_validates() {
        let ok: EmailAddress = serde_json::from_str("\"Bob@Example.org\"").unwrap();
        assert_eq!(ok.as_str(), "bob@example.org");
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
    }
}
