//! Wire types of the HTTP API in `docs/DESIGN.md` ("HTTP API", "Errors").
//!
//! The server serialises these and the desktop app deserialises them, so the two cannot
//! drift apart: a field renamed here breaks both builds at once rather than one client
//! at run time. Error codes live here too, so the browser and the desktop show the same
//! words for the same refusal.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Stable machine-readable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request could not be understood (malformed body, missing field).
    BadRequest,
    /// The password failed one or more rules; `failed_rules` lists them.
    WeakPassword,
    /// The email address is not a usable address.
    InvalidEmail,
    /// A verification or reset token is unknown, used or expired.
    InvalidToken,
    /// Email or password is wrong (deliberately not saying which).
    InvalidCredentials,
    /// The account exists but its email has not been verified yet.
    EmailNotVerified,
    /// Too many requests from this client or for this account; see `Retry-After`.
    RateLimited,
    /// Too many failed logins; see `Retry-After`.
    AccountLocked,
    /// The password was right and two-step sign-in is on: send a code with the
    /// `mfa_token` of this answer to `POST /auth/login/mfa`.
    MfaRequired,
    /// A two-step code (or recovery code) is wrong, used, or the sign-in it belongs to
    /// expired.
    InvalidCode,
    /// Two-step sign-in is already on.
    MfaAlreadyEnabled,
    /// A passkey's answer could not be accepted: malformed, for no waiting ceremony, or
    /// a passkey already registered.
    InvalidCredential,
    /// No valid session or bearer token.
    Unauthorized,
    /// Authenticated but not allowed (for example a missing CSRF token).
    Forbidden,
    /// The resource does not exist or belongs to someone else.
    NotFound,
    /// The body is over the size limit.
    TooLarge,
    /// The file is not a JPEG, PNG or GIF.
    UnsupportedType,
    /// The file claims to be an image but is not an acceptable one.
    InvalidImage,
    /// The `Host` header is not one this server answers for.
    InvalidHost,
    /// Storage is out of space.
    InsufficientStorage,
    /// The account's quota would be exceeded; nothing was stored.
    QuotaExceeded,
    /// Every upload slot stayed taken for too long; see `Retry-After`.
    Busy,
    /// An administrator disabled the account: it cannot sign in.
    AccountDisabled,
    /// A share link's settings cannot be used (no images, too many, a bad expiry or
    /// view limit, a title or password too long).
    InvalidShare,
    /// The share link has a password: unlock it first.
    PasswordRequired,
    /// A dependency (database, object store, identity provider) is down; try again.
    Unavailable,
    /// A single sign-on could not be used: a wrong or replayed `state`, a code the
    /// provider refused, an ID token that failed a check, or an unverified email.
    SsoFailed,
    /// The provider vouched for an email that has no account here, and this server makes
    /// none at single sign-on (`OIDC_AUTO_REGISTER=False`).
    SsoNoAccount,
    /// An account has the provider's email but is not linked to it yet: send its
    /// password (and code) once, with the `link_token` of this answer, to
    /// `POST /auth/oidc/link`.
    SsoLinkRequired,
    /// Removing this would leave the account no way to sign in: set a password or add
    /// a passkey first.
    LastSignInMethod,
    /// Something went wrong on the server; the message carries a request id only.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::WeakPassword => "weak_password",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidToken => "invalid_token",
            Self::InvalidCredentials => "invalid_credentials",
            Self::EmailNotVerified => "email_not_verified",
            Self::RateLimited => "rate_limited",
            Self::AccountLocked => "account_locked",
            Self::MfaRequired => "mfa_required",
            Self::InvalidCode => "invalid_code",
            Self::MfaAlreadyEnabled => "mfa_already_enabled",
            Self::InvalidCredential => "invalid_credential",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::TooLarge => "too_large",
            Self::UnsupportedType => "unsupported_type",
            Self::InvalidImage => "invalid_image",
            Self::InvalidHost => "invalid_host",
            Self::InsufficientStorage => "insufficient_storage",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Busy => "busy",
            Self::AccountDisabled => "account_disabled",
            Self::InvalidShare => "invalid_share",
            Self::PasswordRequired => "password_required",
            Self::Unavailable => "unavailable",
            Self::SsoFailed => "sso_failed",
            Self::SsoNoAccount => "sso_no_account",
            Self::SsoLinkRequired => "sso_link_required",
            Self::LastSignInMethod => "last_sign_in_method",
            Self::Internal => "internal",
        }
    }
}

/// One failed password rule, as shown next to the password field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct FailedRule {
    /// Stable rule name (`too_short`, `no_digit`, ...).
    pub rule: String,
    /// The sentence to show the user.
    pub message: String,
}

/// The body of every error response: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct ErrorDetail {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// A sentence for a person.
    pub message: String,
    /// Every failed password rule, for `weak_password` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_rules: Vec<FailedRule>,
    /// For `mfa_required` only: the token to send with the code (5 minutes, 5 tries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// For `sso_link_required` only: the token to send with the account's password
    /// (10 minutes, 5 tries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_token: Option<String>,
}

impl ErrorBody {
    /// An error body without rule details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                failed_rules: Vec::new(),
                mfa_token: None,
                link_token: None,
            },
        }
    }
}

/// `POST /auth/register` and `POST /auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct Credentials {
    /// The account's email address as typed.
    pub email: String,
    /// The password as typed; zeroised on drop, never logged.
    #[serde(serialize_with = "expose_secret")]
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = String)))]
    pub password: SecretString,
    /// Sign-in only: the `device_token` an earlier sign-in of this device returned. A
    /// known device is not locked out by strangers' failures.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_optional_secret"
    )]
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = Option<String>)))]
    pub device_token: Option<SecretString>,
}

#[allow(
    clippy::ref_option,
    reason = "serde's `serialize_with` passes `&Option<T>`"
)]
fn expose_optional_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_str(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

/// Serialises a secret as the plain string it holds: only for request bodies that must
/// carry it.
fn expose_secret<S: serde::Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// `POST /auth/verify`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct TokenRequest {
    /// The token from the emailed link.
    pub token: String,
}

/// `POST /auth/resend-verification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct EmailRequest {
    /// The address to (re)send to.
    pub email: String,
}

/// `202 {"status": "verification_sent"}` and similar acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct StatusResponse {
    /// What happened, in snake case.
    pub status: String,
}

/// `200` answer to `POST /auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct LoginResponse {
    /// Opaque bearer token; only its hash is stored on the server.
    pub token: String,
    /// When the token stops working if it is used all along (`SESSION_MAX_DAYS`);
    /// unused for `SESSION_IDLE_DAYS`, it stops earlier.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Names this device to later sign-ins (send it as `device_token`), so strangers'
    /// failed attempts never lock it out.
    #[serde(default)]
    pub device_token: String,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("device_token", &"[redacted]")
            .finish()
    }
}

/// `GET /auth/oidc`: whether the server offers single sign-on, and the button's words
/// (404 when it does not), so apps show the button only where it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct SsoInfo {
    /// The sign-in button's words (`OIDC_BUTTON_TEXT`).
    pub button_text: String,
}

/// `POST /auth/oidc/exchange`: a native app's authorization code, received on its
/// loopback redirect (RFC 8252), with the PKCE verifier only the app knows.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct SsoExchange {
    /// The `code` the provider sent to the app's redirect.
    pub code: String,
    /// The PKCE verifier whose S256 challenge the app sent to `GET /auth/oidc/start`.
    pub code_verifier: String,
    /// The app's loopback redirect URI, exactly as sent to `GET /auth/oidc/start`.
    pub redirect_uri: String,
}

/// `POST /auth/oidc/link`: the account's password (and code) for a waiting link.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct SsoLinkRequest {
    /// From the `sso_link_required` answer.
    pub link_token: String,
    /// The account's password; zeroised on drop, never logged.
    #[serde(serialize_with = "expose_secret")]
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = String)))]
    pub password: SecretString,
    /// With two-step sign-in on: the code from the app, or a recovery code.
    #[serde(default)]
    pub code: String,
}

/// An account's link to a person at the OpenID Provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct SsoLink {
    /// The provider's issuer.
    pub issuer: String,
    /// The email the provider last gave.
    pub email: String,
    /// When the link was made (unix seconds).
    pub created_at: i64,
    /// When it last signed in (unix seconds).
    pub last_used_at: i64,
}

/// `POST /auth/login/mfa`: the second step.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct MfaLoginRequest {
    /// From the `mfa_required` answer.
    pub mfa_token: String,
    /// The 6-digit code from the authenticator app, or a recovery code.
    pub code: String,
}

/// `POST /me/mfa/totp/confirm`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct CodeRequest {
    /// The 6-digit code the app shows now.
    pub code: String,
}

/// `DELETE /me/mfa/totp`, `POST /me/mfa/recovery-codes` and
/// `POST /me/passkeys/register/start`: the password and, with two-step sign-in on, a
/// code — proof that the owner, not just someone holding a session, asks.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct PasswordAndCode {
    /// The account's password.
    #[serde(serialize_with = "expose_secret")]
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = String)))]
    pub password: SecretString,
    /// A code from the app, or a recovery code (empty when two-step sign-in is off).
    #[serde(default)]
    pub code: String,
}

/// `200` answer to `POST /me/mfa/totp`: what an authenticator app needs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct TotpEnrolment {
    /// The secret in base32, to type in by hand.
    pub secret: String,
    /// The `otpauth://` URI (what the QR code holds).
    pub otpauth_uri: String,
    /// The QR code, an SVG document.
    pub qr_svg: String,
}

/// Recovery codes, shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct RecoveryCodes {
    /// Ten single-use codes.
    pub recovery_codes: Vec<String>,
}

/// The two-step part of `GET /me`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct MfaStatus {
    /// Two-step sign-in with an authenticator app is on.
    pub totp: bool,
    /// Passkeys registered.
    pub passkeys: u32,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u32,
}

/// One session in `GET /me/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct SessionItem {
    /// Pass to `DELETE /me/sessions/{id}`.
    pub id: Uuid,
    /// `browser` (cookie) or `api` (bearer token: the desktop app, scripts).
    pub kind: String,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last used (to the minute).
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// The client's `User-Agent`, shortened.
    pub user_agent: Option<String>,
    /// A coarse address: an IPv4 /24 or IPv6 /48.
    pub address_hint: Option<String>,
    /// The session of this request.
    pub current: bool,
}

/// `GET /me/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct SessionList {
    /// Live sessions, most recently used first.
    pub items: Vec<SessionItem>,
}

/// `POST /me/passkeys/register/finish`: the browser's answer to the creation options of
/// `POST /me/passkeys/register/start`, and a name to tell the passkey by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct PasskeyRegistration {
    /// `navigator.credentials.create()`'s answer as JSON (binary fields base64url).
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = Object)))]
    pub credential: serde_json::Value,
    /// Up to 60 characters; empty means "Passkey".
    #[serde(default)]
    pub name: String,
}

/// One registered passkey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct PasskeyItem {
    /// Pass to `DELETE /me/passkeys/{id}`.
    pub id: Uuid,
    /// The owner's name for it.
    pub name: String,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last signed in, if ever.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_used_at: Option<OffsetDateTime>,
}

/// `GET /me/passkeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct PasskeyList {
    /// Oldest first.
    pub items: Vec<PasskeyItem>,
}

/// `POST /auth/passkey/finish`: the browser's answer to the request options of
/// `POST /auth/passkey/start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct PasskeySignIn {
    /// From the `start` answer; it works once, for five minutes.
    pub challenge_id: String,
    /// `navigator.credentials.get()`'s answer as JSON (binary fields base64url).
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = Object)))]
    pub credential: serde_json::Value,
}

/// `GET /me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct Me {
    /// The account id.
    pub id: Uuid,
    /// The normalised email address.
    pub email: String,
    /// When the account was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Two-step sign-in state.
    #[serde(default)]
    pub mfa: MfaStatus,
    /// Storage used against the quota.
    #[serde(default)]
    pub usage: Usage,
    /// Links to people at the OpenID Provider (single sign-on).
    #[serde(default)]
    pub sso: Vec<SsoLink>,
}

/// The storage part of `GET /me`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct Usage {
    /// Bytes stored: images and thumbnails, as stored (encrypted).
    pub bytes_used: u64,
    /// The account's quota in bytes.
    pub quota_bytes: u64,
    /// Images stored.
    pub image_count: u64,
}

/// The image object of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct ImageObject {
    /// Random id; also the only thing storage names are derived from.
    pub id: Uuid,
    /// Sanitised display name (see [`crate::filename`]).
    pub filename: String,
    /// `image/jpeg`, `image/png` or `image/gif`.
    pub content_type: String,
    /// Size in bytes of the stored (sanitised) image.
    pub size: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Upload time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /images` page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct ImageList {
    /// This page's images.
    pub items: Vec<ImageObject>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// An account in the admin console: its state and usage, never its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
#[allow(
    clippy::struct_excessive_bools,
    reason = "the contract's wire shape: independent facts about the account"
)]
pub struct AdminUser {
    /// The account's id.
    pub id: Uuid,
    /// Its email address.
    pub email: String,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether the address was confirmed.
    pub verified: bool,
    /// Whether an administrator disabled it.
    pub disabled: bool,
    /// Whether it is an administrator.
    pub is_admin: bool,
    /// Whether two-step sign-in is on.
    pub mfa: bool,
    /// Images stored.
    pub image_count: u64,
    /// Bytes stored.
    pub bytes_used: u64,
    /// Its quota in bytes (its own, or the server's default).
    pub quota_bytes: u64,
    /// The last sign-in, if any was recorded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sign_in_at: Option<OffsetDateTime>,
}

/// `GET /admin/users`: a page of accounts in address order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct AdminUserList {
    /// This page's accounts.
    pub items: Vec<AdminUser>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// `PATCH /admin/users/{id}`: what to change; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdminUserChange {
    /// Disable (its sessions end at once) or enable the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Its quota in bytes; `null` gives it the server's default again.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = Option<u64>)))]
    pub quota_bytes: Option<Option<u64>>,
}

/// A field that is present, even as `null`, is `Some`: absent and `null` differ.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// One security event of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct AuditEvent {
    /// Its place in the chain.
    pub seq: i64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What happened, like `sign_in`, `sign_in_failed`, `lockout`, `two_step_on`.
    pub kind: String,
    /// The account concerned, if any.
    pub user_id: Option<String>,
    /// A coarse client address: an IPv4 /24 or IPv6 /48.
    pub address_hint: Option<String>,
    /// The event's particulars (ids, counts, reasons; never a secret or a filename).
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = Object)))]
    pub detail: serde_json::Value,
}

/// `GET /admin/audit` and `GET /me/activity`: events, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct AuditList {
    /// This page's events.
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` to get older events; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /shares`: which images, and how the link behaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// 1 to 500 of the caller's image ids, in the order the link shows them.
    pub image_ids: Vec<Uuid>,
    /// Shown on the public page (up to 100 characters); none says "Shared photos".
    #[serde(default)]
    pub title: Option<String>,
    /// 60 s to 90 days; 7 days when left out.
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
    /// Asked of everyone who opens the link (8 to 128 characters); none when left out.
    #[serde(default, serialize_with = "expose_optional_secret")]
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = Option<String>)))]
    pub password: Option<SecretString>,
    /// Openings allowed (1 to 1,000,000); unlimited when left out.
    #[serde(default)]
    pub max_views: Option<i64>,
    /// Whether the stored image may be downloaded; otherwise view only.
    pub allow_download: bool,
    /// Whether renderings carry visible text naming the share and the date.
    pub watermark: bool,
}

/// One share link as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
#[allow(
    clippy::struct_excessive_bools,
    reason = "the contract's wire shape: independent facts about the link"
)]
pub struct ShareSummary {
    /// Pass to `DELETE /shares/{id}`.
    pub id: Uuid,
    /// The title, if any.
    pub title: Option<String>,
    /// Images the link still shows (deleted ones drop out).
    pub image_count: u64,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Openings so far.
    pub views: u64,
    /// Openings allowed, if limited.
    pub max_views: Option<u64>,
    /// Whether the stored image may be downloaded.
    pub allow_download: bool,
    /// Whether renderings are watermarked.
    pub watermark: bool,
    /// Whether a password is asked.
    pub has_password: bool,
    /// Whether the owner revoked it.
    pub revoked: bool,
}

/// `POST /shares`: the link (shown this once) and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct ShareCreated {
    /// `PUBLIC_URL/s/<token>`: only this answer ever holds it.
    pub url: String,
    /// The share as the list shows it.
    #[serde(flatten)]
    pub share: ShareSummary,
}

/// `GET /shares`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct ShareList {
    /// The caller's links, newest first.
    pub items: Vec<ShareSummary>,
}

/// `GET /public/shares/{token}`: what a visitor may see. No owner, no filenames, no
/// image ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct PublicShare {
    /// The owner's title, if any.
    pub title: Option<String>,
    /// When the link stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether `…/download` serves the images.
    pub allow_download: bool,
    /// The images, numbered from 1.
    pub items: Vec<PublicShareItem>,
    /// Send as `X-Share-Access` with each image request of this opening (an hour).
    pub access: String,
}

/// One image of a share, by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct PublicShareItem {
    /// Its number in the share, from 1.
    pub n: u64,
    /// Display width.
    pub width: u32,
    /// Display height.
    pub height: u32,
    /// `image/jpeg`, `image/png` or `image/gif`.
    pub content_type: String,
}

/// `POST /public/shares/{token}/unlock`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct ShareUnlock {
    /// The link's password.
    #[serde(serialize_with = "expose_secret")]
    #[cfg_attr(feature = "openapi", salvo(schema(value_type = String)))]
    pub password: SecretString,
}

/// `POST /public/shares/{token}/unlock`: proof of the password for an hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(salvo_oapi::ToSchema))]
pub struct ShareAccess {
    /// Send as `X-Share-Access` (or keep the cookie the answer sets).
    pub access: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_serialise_as_their_wire_names() {
        for code in [
            ErrorCode::WeakPassword,
            ErrorCode::AccountLocked,
            ErrorCode::InvalidImage,
            ErrorCode::InsufficientStorage,
            ErrorCode::QuotaExceeded,
            ErrorCode::Busy,
            ErrorCode::AccountDisabled,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn error_body_has_the_documented_shape() {
        let body = ErrorBody::new(ErrorCode::NotFound, "No such image.");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "not_found", "message": "No such image."}})
        );
    }

    #[test]
    fn credentials_carry_the_password_on_the_wire() {
        let creds = Credentials {
            email: "a@example.com".into(),
            password: "hunter2-secret".into(),
            device_token: None,
        };
        let json = serde_json::to_value(&creds).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"email": "a@example.com", "password": "hunter2-secret"})
        );
        let back: Credentials = serde_json::from_value(json).unwrap();
        assert_eq!(back.email, "a@example.com");
        assert_eq!(back.password.expose_secret(), "hunter2-secret");
        assert!(back.device_token.is_none());
        let known = Credentials {
            device_token: Some("dev.mac".into()),
            ..creds
        };
        assert_eq!(
            serde_json::to_value(&known).unwrap()["device_token"],
            "dev.mac"
        );
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let creds = Credentials {
            email: "a@example.com".into(),
            password: "hunter2-secret".into(),
            device_token: Some("device-secret".into()),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
        assert!(!format!("{creds:?}").contains("device-secret"));
        assert!(format!("{creds:?}").contains("a@example.com"));
        let login = LoginResponse {
            token: "tok-secret".into(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
            device_token: "device-secret".into(),
        };
        assert!(!format!("{login:?}").contains("tok-secret"));
        assert!(!format!("{login:?}").contains("device-secret"));
    }

    #[test]
    fn an_admin_change_tells_null_from_absent() {
        let absent: AdminUserChange = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.quota_bytes, None);
        let null: AdminUserChange = serde_json::from_str(r#"{"quota_bytes": null}"#).unwrap();
        assert_eq!(null.quota_bytes, Some(None));
        let set: AdminUserChange = serde_json::from_str(r#"{"quota_bytes": 5}"#).unwrap();
        assert_eq!(set.quota_bytes, Some(Some(5)));
        assert!(serde_json::from_str::<AdminUserChange>(r#"{"email": "x"}"#).is_err());
    }

    #[test]
    fn image_object_round_trips_with_rfc3339_dates() {
        let json = r#"{"id":"6f1c2b7e-6d4e-4b8a-9a57-3c1f0e2d4b5a","filename":"a.png",
            "content_type":"image/png","size":10,"width":2,"height":3,
            "created_at":"2026-11-28T09:00:00Z"}"#;
        let image: ImageObject = serde_json::from_str(json).unwrap();
        assert_eq!(image.width, 2);
        let back = serde_json::to_value(&image).unwrap();
        assert_eq!(back["created_at"], "2026-11-28T09:00:00Z");
    }
}
