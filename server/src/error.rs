//! The one API error type, and the one place errors become HTTP responses.
//!
//! Client errors carry their code and a sentence for the person; everything else
//! (database, email, hashing, bugs) is logged with its whole cause chain and answered
//! with an opaque message naming the request's id (the `X-Request-Id` of every answer
//! and of every log line of the request) — internal details never reach the client.

use imagevault_common::api::{ErrorBody, ErrorCode};
use imagevault_common::password::WeakPassword;
use salvo::http::StatusCode;
use salvo::http::header::{HeaderValue, RETRY_AFTER};
use salvo::prelude::*;

use crate::db::DbError;
use crate::http::trace::RequestId;
use crate::keys::KeyError;
use crate::maintenance::JobError;
use crate::passwords::HashError;
use crate::storage::StorageError;

/// An unexpected failure and its causes, kept whole for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Every answer other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// Body over its route's limit.
    #[error("{0}")]
    TooLarge(String),
    /// Body of the wrong content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Unusable email address.
    #[error("Enter a valid email address, like name@example.com.")]
    InvalidEmail,
    /// Password policy failures.
    #[error("{0}")]
    WeakPassword(WeakPassword),
    /// Unknown, used or expired email token.
    #[error("This link is invalid or has expired. Ask for a new one.")]
    InvalidToken,
    /// Wrong email or password (deliberately not saying which).
    #[error("The email or password is wrong.")]
    InvalidCredentials,
    /// Correct password, unverified address.
    #[error("Confirm your email address first: follow the link we sent you.")]
    EmailNotVerified,
    /// Too many requests; retry after this many seconds.
    #[error("Too many attempts. Try again in {0} seconds.")]
    RateLimited(i64),
    /// Locked after failed logins; retry after this many seconds.
    #[error("Too many wrong passwords: sign-in is blocked for {0} seconds.")]
    AccountLocked(i64),
    /// The password was right; two-step sign-in asks for a code next.
    #[error("Enter the code from your authenticator app to finish signing in.")]
    MfaRequired(String),
    /// The second step of a sign-in failed: a wrong or reused code, or a step that
    /// expired or ran out of tries (401, so clients start over from the password).
    #[error("That code is not right, or this sign-in expired. Try again.")]
    SecondStepFailed,
    /// A two-step code that is wrong, reused or not expected here.
    #[error("{0}")]
    InvalidCode(String),
    /// Two-step sign-in is already on.
    #[error("Two-step sign-in is already on. Turn it off first to set it up again.")]
    MfaAlreadyEnabled,
    /// A passkey's answer that cannot be used (malformed, for no waiting ceremony, or a
    /// passkey registered already).
    #[error("{0}")]
    InvalidCredential(String),
    /// No valid session.
    #[error("Sign in to continue.")]
    Unauthorized,
    /// Authenticated but not allowed (bad CSRF token).
    #[error("{0}")]
    Forbidden(String),
    /// Missing, or someone else's.
    #[error("Not found.")]
    NotFound,
    /// The upload is not a JPEG, PNG or GIF.
    #[error("{0}")]
    UnsupportedType(String),
    /// The upload claims to be an image but is not an acceptable one.
    #[error("{0}")]
    InvalidImage(String),
    /// The blob store is full.
    #[error("Storage is full; the upload was not saved. Try again later.")]
    InsufficientStorage,
    /// The account's quota would be exceeded (the quota in bytes).
    #[error("This upload would take your storage over its quota of {}; nothing was saved. Delete some photos to make room.", human_bytes(*.0))]
    QuotaExceeded(u64),
    /// The account has this many uploads in progress already (`UPLOADS_PER_USER`).
    #[error("You already have {0} uploads in progress. Wait for one to finish, then try again.")]
    TooManyUploads(u32),
    /// Every upload slot stayed taken past the wait's deadline.
    #[error("The server is busy with other uploads. Try again in a few seconds.")]
    Busy,
    /// A share link's settings cannot be used.
    #[error("{0}")]
    InvalidShare(String),
    /// The share link has a password; unlock it first.
    #[error("This link has a password. Enter it to see the photos.")]
    PasswordRequired,
    /// An administrator disabled the account (said only after the password was right).
    #[error("This account is disabled. Contact the administrator of this server.")]
    AccountDisabled,
    /// A stored blob failed its integrity check or is missing: it is not served.
    #[error("This image could not be read safely")]
    Integrity(String),
    /// A `Host` header not in `ALLOWED_HOSTS`.
    #[error("This server does not answer for that host name.")]
    InvalidHost,
    /// A single sign-on that cannot be used; the sentence says why, for the person.
    #[error("{0}")]
    SsoFailed(&'static str),
    /// The provider's email has no account here and none is made at single sign-on.
    #[error(
        "No ImageVault account uses this email address, and this server does not make \
        accounts at single sign-on. Ask its administrator for one."
    )]
    SsoNoAccount,
    /// An account has the provider's email: its password is asked once (the token names
    /// the waiting link).
    #[error(
        "An ImageVault account already uses this email address. Enter its password \
        once to link it to your identity provider."
    )]
    SsoLinkRequired(String),
    /// The last way into the account would go.
    #[error(
        "This is the only way into your account. Set a password (use “Forgot your \
        password?” on the sign-in page) or add a passkey first."
    )]
    SsoLastWayIn,
    /// A dependency is down; the request can be retried.
    #[error("The service is temporarily unavailable. Try again shortly.")]
    Unavailable(#[source] Cause),
    /// A bug or unexpected failure.
    #[error("{0}")]
    Internal(#[source] Cause),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use ErrorCode as C;
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, C::BadRequest),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, C::TooLarge),
            Self::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, C::BadRequest),
            Self::InvalidEmail => (StatusCode::UNPROCESSABLE_ENTITY, C::InvalidEmail),
            Self::WeakPassword(_) => (StatusCode::UNPROCESSABLE_ENTITY, C::WeakPassword),
            Self::InvalidToken => (StatusCode::BAD_REQUEST, C::InvalidToken),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, C::InvalidCredentials),
            Self::EmailNotVerified => (StatusCode::FORBIDDEN, C::EmailNotVerified),
            Self::RateLimited(_) | Self::TooManyUploads(_) => {
                (StatusCode::TOO_MANY_REQUESTS, C::RateLimited)
            }
            Self::AccountLocked(_) => (StatusCode::LOCKED, C::AccountLocked),
            Self::MfaRequired(_) => (StatusCode::UNAUTHORIZED, C::MfaRequired),
            Self::SecondStepFailed => (StatusCode::UNAUTHORIZED, C::InvalidCode),
            Self::InvalidCode(_) => (StatusCode::BAD_REQUEST, C::InvalidCode),
            Self::MfaAlreadyEnabled => (StatusCode::CONFLICT, C::MfaAlreadyEnabled),
            Self::InvalidCredential(_) => (StatusCode::BAD_REQUEST, C::InvalidCredential),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, C::Unauthorized),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, C::Forbidden),
            Self::NotFound => (StatusCode::NOT_FOUND, C::NotFound),
            Self::UnsupportedType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, C::UnsupportedType),
            Self::InvalidImage(_) => (StatusCode::UNPROCESSABLE_ENTITY, C::InvalidImage),
            Self::InsufficientStorage => (StatusCode::INSUFFICIENT_STORAGE, C::InsufficientStorage),
            Self::QuotaExceeded(_) => (StatusCode::INSUFFICIENT_STORAGE, C::QuotaExceeded),
            Self::Busy => (StatusCode::SERVICE_UNAVAILABLE, C::Busy),
            Self::AccountDisabled => (StatusCode::FORBIDDEN, C::AccountDisabled),
            Self::InvalidShare(_) => (StatusCode::UNPROCESSABLE_ENTITY, C::InvalidShare),
            Self::PasswordRequired => (StatusCode::UNAUTHORIZED, C::PasswordRequired),
            Self::InvalidHost => (StatusCode::BAD_REQUEST, C::InvalidHost),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, C::Unavailable),
            Self::SsoFailed(_) => (StatusCode::BAD_REQUEST, C::SsoFailed),
            Self::SsoNoAccount => (StatusCode::FORBIDDEN, C::SsoNoAccount),
            Self::SsoLinkRequired(_) => (StatusCode::CONFLICT, C::SsoLinkRequired),
            Self::SsoLastWayIn => (StatusCode::CONFLICT, C::LastSignInMethod),
            Self::Internal(_) | Self::Integrity(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, C::Internal)
            }
        }
    }

    /// The code this error is answered with.
    pub fn code(&self) -> ErrorCode {
        self.status_and_code().1
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    /// A bug or unexpected failure, with its cause chain.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    /// The body to send, after logging what must not be sent.
    fn body(&self, id: &str) -> ErrorBody {
        let (_, code) = self.status_and_code();
        match self {
            Self::Integrity(cause) => {
                tracing::error!(target: "security", event = "integrity", cause = %cause, "stored data failed its integrity check");
            }
            Self::Internal(cause) | Self::Unavailable(cause) => {
                tracing::error!(cause = %chain(cause.as_ref()), code = code.as_str(), "request failed");
            }
            _ => {}
        }
        match self {
            Self::Internal(_) | Self::Unavailable(_) | Self::Integrity(_) => {
                let message = if matches!(self, Self::Internal(_)) {
                    format!("Something went wrong on our side (request {id}).")
                } else {
                    format!("{self} (request {id}).")
                };
                ErrorBody::new(code, message)
            }
            Self::WeakPassword(weak) => {
                let mut body = ErrorBody::new(code, "Choose a stronger password.");
                body.error.failed_rules = weak.failed_rules();
                body
            }
            Self::MfaRequired(token) => {
                let mut body = ErrorBody::new(code, self.to_string());
                body.error.mfa_token = Some(token.clone());
                body
            }
            Self::SsoLinkRequired(token) => {
                let mut body = ErrorBody::new(code, self.to_string());
                body.error.link_token = Some(token.clone());
                body
            }
            other => ErrorBody::new(code, other.to_string()),
        }
    }

    fn retry_after(&self) -> Option<i64> {
        match self {
            Self::RateLimited(s) | Self::AccountLocked(s) => Some((*s).max(1)),
            Self::Busy | Self::TooManyUploads(_) => Some(BUSY_RETRY_AFTER),
            _ => None,
        }
    }

    /// Writes this error as the response; a 5xx body names the request's id.
    pub fn render(&self, depot: &Depot, res: &mut Response) {
        let (status, _) = self.status_and_code();
        res.status_code(status);
        if let Some(seconds) = self.retry_after() {
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Self::Integrity(cause) = self
            && let Ok(state) = depot.get_typed::<crate::state::AppState>()
        {
            crate::alerts::integrity_failure(state, cause);
        }
        res.render(Json(self.body(RequestId::of(depot).as_str())));
    }
}

/// `error: cause: cause of the cause…`, for the log.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let more = cause.to_string();
        // Many errors repeat their source in their own message; say each once.
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = cause.source();
    }
    text
}

/// Documents the error answers of every endpoint that can fail, with the one body shape.
impl salvo_oapi::EndpointOutRegister for ApiError {
    fn register(components: &mut salvo_oapi::Components, operation: &mut salvo_oapi::Operation) {
        use salvo_oapi::ToSchema;
        for (code, description) in [
            (
                "400",
                "Malformed request, an invalid token or host, a wrong two-step code (`invalid_code`), or a single sign-on that cannot be used (`sso_failed`)",
            ),
            (
                "401",
                "Not signed in, wrong email or password, `mfa_required` (with `mfa_token`), or a failed second step (`invalid_code`)",
            ),
            (
                "403",
                "Email not verified, account disabled (`account_disabled`), CSRF token missing, or no account for the provider's email (`sso_no_account`)",
            ),
            ("404", "No such resource, or it belongs to someone else"),
            (
                "409",
                "Two-step sign-in is already on (`mfa_already_enabled`), an account to link first (`sso_link_required`, with `link_token`), or the account's last way in (`last_sign_in_method`)",
            ),
            ("413", "Body too large"),
            (
                "415",
                "Body is not JSON, or the upload is not a JPEG, PNG or GIF",
            ),
            (
                "422",
                "Invalid email, weak password (with `failed_rules`), or an unacceptable image",
            ),
            ("423", "Account locked; see `Retry-After`"),
            ("429", "Rate limited; see `Retry-After`"),
            (
                "503",
                "A dependency is down, or every upload slot is busy (`busy`, see `Retry-After`); retry",
            ),
            (
                "507",
                "Storage is full, or the account's quota would be exceeded (`quota_exceeded`)",
            ),
        ] {
            let schema = ErrorBody::to_schema(components);
            operation.responses.insert(
                code,
                salvo_oapi::Response::new(description).add_content("application/json", schema),
            );
        }
    }
}

#[async_trait]
impl Writer for ApiError {
    async fn write(self, _req: &mut Request, depot: &mut Depot, res: &mut Response) {
        self.render(depot, res);
    }
}

/// Seconds a client is asked to wait after `busy`.
const BUSY_RETRY_AFTER: i64 = 5;

/// A byte count as people read it: "512 KiB", "9.5 MiB", "10 GiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)] // a display value
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl From<crate::sso::SsoError> for ApiError {
    fn from(err: crate::sso::SsoError) -> Self {
        match err {
            crate::sso::SsoError::Unavailable(reason) => Self::Unavailable(reason.into()),
            crate::sso::SsoError::Refused { message, reason } => {
                tracing::warn!(target: "security", event = "sso_refused", %reason, "single sign-on refused");
                Self::SsoFailed(message)
            }
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match &err {
            DbError::Sqlx(e) if is_transient(e) => Self::Unavailable(err.into()),
            _ => Self::Internal(err.into()),
        }
    }
}

/// Failures a retry may cure: the database unreachable, restarting, overloaded or busy.
fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // SQLite: BUSY (5), LOCKED (6) and their extended codes.
            matches!(code.as_ref(), "5" | "6" | "261" | "262" | "517")
                // PostgreSQL: connection exceptions, resources, shutdown, serialization.
                || ["08", "53", "57P"].iter().any(|p| code.starts_with(p))
                || code == "40001"
                || code == "40P01"
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        DbError::from(err).into()
    }
}

impl From<imagevault_common::image::ImageError> for ApiError {
    fn from(err: imagevault_common::image::ImageError) -> Self {
        match err.code() {
            ErrorCode::TooLarge => Self::TooLarge(err.to_string()),
            ErrorCode::UnsupportedType => Self::UnsupportedType(err.to_string()),
            _ => Self::InvalidImage(err.to_string()),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Full => Self::InsufficientStorage,
            StorageError::Unavailable(_) => Self::Unavailable(err.into()),
            StorageError::Config(_) | StorageError::Io(_) => Self::Internal(err.into()),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        Self::Internal(err.into())
    }
}

impl From<KeyError> for ApiError {
    fn from(err: KeyError) -> Self {
        match err {
            KeyError::Db(e) => e.into(),
            KeyError::Vault {
                user,
                source: crate::vault::VaultError::Integrity,
            } => Self::Integrity(format!("the stored key of user {user} does not unwrap")),
            vault @ KeyError::Vault { .. } => Self::Internal(vault.into()),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(err: JobError) -> Self {
        match err {
            JobError::Db(e) => e.into(),
            JobError::Storage(e) => e.into(),
            JobError::Vault(e) => Self::Internal(e.into()),
            JobError::Audit(e) => Self::Internal(e.into()),
            JobError::NoSuchUser(_) => Self::NotFound,
            JobError::Integrity(e) => Self::Integrity(e),
        }
    }
}

/// Turns responses salvo produced itself (unmatched routes, wrong methods, its own
/// parse failures) into the documented error shape.
#[handler]
pub async fn uniform_errors(depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let status = res.status_code.unwrap_or(StatusCode::NOT_FOUND);
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::BadRequest("That method is not allowed here.".into())
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge("The request body is too large.".into())
        }
        s if s.is_client_error() => {
            ApiError::BadRequest("The request could not be understood.".into())
        }
        s => ApiError::internal(format!("unhandled status {s}")),
    };
    let (wanted, _) = error.status_and_code();
    error.render(depot, res);
    if wanted != status && status.is_client_error() {
        res.status_code(status);
    }
    ctrl.skip_rest();
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn byte_counts_read_as_people_say_them() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(1023), "1023 bytes");
        assert_eq!(human_bytes(2 * 1024 * 1024), "2 MiB");
        assert_eq!(human_bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(human_bytes(10 << 30), "10 GiB");
        assert_eq!(human_bytes(u64::MAX), "16777216 TiB");
    }
}
