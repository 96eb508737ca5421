//! The one error type of the desktop app's commands.
//!
//! The web view receives it as `{code, message, failed_rules?}`: `code` is the server's
//! [`ErrorCode`] when the server refused, or one of the app's own codes (`unreachable`,
//! `tls`, `session_expired`, ...) when it never got that far; `message` is always a
//! sentence the person can act on. Internal detail (paths aside, which are the user's
//! own) stays in the logs.

use imagevault_common::api::{ErrorCode, FailedRule};
use serde::ser::SerializeStruct;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with one of its documented errors.
    #[error("{message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's machine-readable code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
        /// Every failed password rule, for `weak_password`.
        failed_rules: Vec<FailedRule>,
        /// Seconds the server asked us to wait (`Retry-After`), if any.
        retry_after: Option<u64>,
    },
    /// No connection could be made or it broke.
    #[error("The server could not be reached. Check the address and your connection.")]
    Unreachable,
    /// The server's certificate did not verify. TLS is never turned off; a private CA
    /// can be added in Settings instead.
    #[error(
        "The server's certificate is not trusted ({0}). If the server uses its own \
         certificate authority, add that CA's certificate in Settings."
    )]
    Tls(String),
    /// The server accepted the connection but did not answer in time.
    #[error("The server took too long to answer. Try again in a moment.")]
    Timeout,
    /// The answer was not what the API documents (wrong server, proxy page, ...).
    #[error("The server's answer was not understood ({0}). Is this an ImageVault server?")]
    BadResponse(String),
    /// A setting the person typed is not usable.
    #[error("{0}")]
    InvalidSetting(String),
    /// A command that needs a session was called without one.
    #[error("Please sign in first.")]
    NotSignedIn,
    /// The token in the keychain was revoked or has expired.
    #[error(
        "Your session has ended (it expired or was signed out elsewhere). Please sign in again."
    )]
    SessionExpired,
    /// The second step of a sign-in waited too long or used up its tries (the server
    /// allows five codes in five minutes), so only a new sign-in can go on.
    #[error("This sign-in has expired. Start again with your email and password.")]
    SignInExpired,
    /// Single sign-on did not finish: the provider said why, or the answer that came
    /// back to this computer was not one (the sentence says which).
    #[error("{0}")]
    SsoRefused(String),
    /// Nobody finished at the identity provider in time.
    #[error(
        "Signing in at your identity provider did not finish within ten minutes. Start again \
         when you are ready."
    )]
    SsoTimedOut,
    /// The OS keychain refused or is not running.
    #[error("The system keychain could not be used: {0}.")]
    Keychain(String),
    /// A local file could not be read.
    #[error("{0}")]
    File(String),
}

/// Result of the app's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The code the web view branches on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Server { code, .. } => code.as_str(),
            Self::Unreachable => "unreachable",
            Self::Tls(_) => "tls",
            Self::Timeout => "timeout",
            Self::BadResponse(_) => "bad_response",
            Self::InvalidSetting(_) => "invalid_setting",
            Self::NotSignedIn => "not_signed_in",
            Self::SessionExpired => "session_expired",
            Self::SignInExpired => "sign_in_expired",
            Self::SsoRefused(_) => "sso_refused",
            Self::SsoTimedOut => "sso_timed_out",
            Self::Keychain(_) => "keychain",
            Self::File(_) => "file",
        }
    }

    /// Whether the same request may succeed if simply sent again later: the server was
    /// not reached, or said so itself (429, 502–504, `busy`). Uploads retry only these,
    /// so a refusal is never repeated. A full quota stays full until the person deletes
    /// something, so `quota_exceeded` is never retried, whatever its status.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable | Self::Timeout => true,
            Self::Server { status, code, .. } => match code {
                ErrorCode::QuotaExceeded => false,
                ErrorCode::Busy => true,
                _ => matches!(status, 429 | 502 | 503 | 504),
            },
            _ => false,
        }
    }

    /// Whether the server no longer accepts our token. Only `unauthorized` and
    /// `account_disabled` (an administrator turned the account off) say so: a 401
    /// `invalid_credentials` or `invalid_code` answers a password or code that was
    /// checked again, and must not end the session.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Self::Server {
                status: 401,
                code: ErrorCode::Unauthorized,
                ..
            } | Self::Server {
                code: ErrorCode::AccountDisabled,
                ..
            } | Self::SessionExpired
        )
    }

    /// `Retry-After` from the server, if it sent one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rules: &[FailedRule] = match self {
            Self::Server { failed_rules, .. } => failed_rules,
            _ => &[],
        };
        let mut s = serializer.serialize_struct("Error", 3)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.serialize_field("failed_rules", rules)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_code_message_and_rules() {
        let err = Error::Server {
            status: 422,
            code: ErrorCode::WeakPassword,
            message: "The password is too weak.".into(),
            failed_rules: vec![FailedRule {
                rule: "too_short".into(),
                message: "At least 12 characters.".into(),
            }],
            retry_after: None,
        };
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["code"], "weak_password");
        assert_eq!(json["message"], "The password is too weak.");
        assert_eq!(json["failed_rules"][0]["rule"], "too_short");
        assert_eq!(
            serde_json::to_value(Error::Unreachable).unwrap()["code"],
            "unreachable"
        );
    }

    #[test]
    fn only_unreached_or_overloaded_servers_are_retried() {
        let server = |status| Error::Server {
            status,
            code: ErrorCode::Unavailable,
            message: String::new(),
            failed_rules: Vec::new(),
            retry_after: None,
        };
        assert!(Error::Unreachable.is_transient());
        assert!(Error::Timeout.is_transient());
        assert!(server(503).is_transient());
        assert!(server(429).is_transient());
        assert!(!server(415).is_transient());
        assert!(!server(500).is_transient());
        assert!(!Error::Tls("x".into()).is_transient());
    }

    #[test]
    fn a_busy_server_is_retried_and_a_full_quota_is_not() {
        let server = |status, code| Error::Server {
            status,
            code,
            message: String::new(),
            failed_rules: Vec::new(),
            retry_after: Some(5),
        };
        assert!(server(503, ErrorCode::Busy).is_transient());
        assert!(!server(507, ErrorCode::QuotaExceeded).is_transient());
        assert!(!server(507, ErrorCode::InsufficientStorage).is_transient());
        assert_eq!(
            server(507, ErrorCode::QuotaExceeded).code(),
            "quota_exceeded"
        );
    }

    #[test]
    fn only_a_refused_token_ends_the_session() {
        let server = |code| Error::Server {
            status: 401,
            code,
            message: String::new(),
            failed_rules: Vec::new(),
            retry_after: None,
        };
        assert!(server(ErrorCode::Unauthorized).is_unauthorized());
        assert!(Error::SessionExpired.is_unauthorized());
        // A disabled account has no session to keep.
        let disabled = Error::Server {
            status: 403,
            code: ErrorCode::AccountDisabled,
            message: String::new(),
            failed_rules: Vec::new(),
            retry_after: None,
        };
        assert!(disabled.is_unauthorized());
        // A wrong password or code, checked again while signed in, is not a dead token.
        assert!(!server(ErrorCode::InvalidCredentials).is_unauthorized());
        assert!(!server(ErrorCode::InvalidCode).is_unauthorized());
        assert!(!Error::SignInExpired.is_unauthorized());
        assert_eq!(Error::SignInExpired.code(), "sign_in_expired");
    }
}
