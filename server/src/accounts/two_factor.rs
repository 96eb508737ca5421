//! Two-step sign-in: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of
//! drift either way) and ten single-use recovery codes.
//!
//! The TOTP seed is sealed by the vault under the user's key with the user id bound in,
//! so a database copy alone does not yield it, and a code is accepted at most once (the
//! newest accepted step is stored; an older or equal step is a replay). Recovery codes
//! are stored only as HMACs under `SECRET_KEY`: 50 random bits each is too little to
//! survive an offline search of a plain hash, and too much to make Argon2 worth its cost
//! on ten candidates per try.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use qrcode::QrCode;
use qrcode::render::svg;
use secrecy::ExposeSecret;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

use crate::audit::{self, Event, Kind};
use crate::crypto::sign;
use crate::db::ids::UserId;
use crate::db::users::User;
use crate::db::{mfa, now};
use crate::error::ApiError;
use crate::keys;
use crate::state::AppState;
use crate::vault::blob;

/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// A recovery code's characters (Crockford's base32: no I, L, O or U to misread).
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RECOVERY_CHARS: usize = 10;
/// 160 bits, as RFC 4226 recommends.
const SEED_BYTES: usize = 20;
const ISSUER: &str = "ImageVault";
const STEP_SECONDS: u64 = 30;

/// What an authenticator app needs to enrol.
pub struct Enrolment {
    /// The seed in base32, for typing in by hand.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
}

/// Two-step state of an account (and its passkeys), for `GET /me` and the account
/// page.
pub struct Status {
    /// A confirmed TOTP seed exists.
    pub totp: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
    /// Passkeys registered.
    pub passkeys: i64,
}

/// Which second factor a code turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// A TOTP code, accepted (and now spent).
    Totp,
    /// A recovery code, now used up.
    RecoveryCode,
}

/// The account's two-step state.
pub async fn status(state: &AppState, user: UserId) -> Result<Status, ApiError> {
    Ok(Status {
        totp: mfa::totp_enabled(state.db.pool(), user).await?,
        recovery_codes_left: mfa::recovery_codes_left(state.db.pool(), user).await?,
        passkeys: crate::db::passkeys::count(state.db.pool(), user).await?,
    })
}

/// `POST /me/mfa/totp`: a fresh seed, pending until [`confirm`] sees a code from it.
/// Starting again replaces a pending seed; 409 once two-step sign-in is on.
#[tracing::instrument(skip_all, fields(user.id = %user.id))]
pub async fn start(state: &AppState, user: &User) -> Result<Enrolment, ApiError> {
    let mut seed = Zeroizing::new(vec![0u8; SEED_BYTES]);
    getrandom::fill(&mut seed).map_err(|e| ApiError::internal(e.to_string()))?;
    let totp = totp(seed.to_vec(), &user.email)?;
    // A key rotation that made a new key current meanwhile may have missed this seed:
    // then it is sealed again under the new key.
    for _ in 0..3 {
        let (key, kek_version, epoch) = keys::user_key(&state.db, &state.keyring, user.id).await?;
        let sealed = blob::seal_user_secret(&key, kek_version, user.id.uuid(), &seed);
        if !mfa::put_pending_totp(state.db.pool(), user.id, &STANDARD.encode(sealed), now()).await?
        {
            return Err(ApiError::MfaAlreadyEnabled);
        }
        let (_, _, still) = keys::user_key(&state.db, &state.keyring, user.id).await?;
        if still == epoch {
            return enrolment(&totp);
        }
    }
    Err(ApiError::internal("the user's key kept changing"))
}

/// The enrolment still waiting for its first code, to show again after a wrong one.
pub async fn pending(state: &AppState, user: &User) -> Result<Option<Enrolment>, ApiError> {
    let Some(stored) = mfa::totp(state.db.pool(), user.id)
        .await?
        .filter(|t| t.confirmed_at.is_none())
    else {
        return Ok(None);
    };
    let seed = open_seed(state, user, &stored.sealed).await?;
    enrolment(&totp(seed.to_vec(), &user.email)?).map(Some)
}

fn enrolment(totp: &Totp) -> Result<Enrolment, ApiError> {
    let otpauth_uri = totp.to_url().map_err(ApiError::internal)?;
    let qr_svg = QrCode::new(otpauth_uri.as_bytes())
        .map_err(ApiError::internal)?
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(Enrolment {
        secret: totp.secret().to_base32(),
        otpauth_uri,
        qr_svg,
    })
}

/// `POST /me/mfa/totp/confirm`: a code from the pending seed turns two-step sign-in on
/// and returns the recovery codes, shown this once.
#[tracing::instrument(skip_all, fields(user.id = %user.id))]
pub async fn confirm(state: &AppState, user: &User, code: &str) -> Result<Vec<String>, ApiError> {
    let stored = mfa::totp(state.db.pool(), user.id).await?;
    let Some(stored) = stored else {
        return Err(ApiError::InvalidCode(
            "Start again: there is no code waiting to be confirmed.".into(),
        ));
    };
    if stored.confirmed_at.is_some() {
        return Err(ApiError::MfaAlreadyEnabled);
    }
    if !totp_matches(state, user, &stored.sealed, code).await? {
        return Err(ApiError::InvalidCode(wrong_code()));
    }
    let codes = new_recovery_codes();
    let mut tx = state.db.begin().await?;
    if !mfa::confirm_totp(&mut *tx, user.id, now()).await? {
        return Err(ApiError::MfaAlreadyEnabled);
    }
    mfa::replace_recovery_codes(&mut tx, user.id, &hashes(state, user.id, &codes)).await?;
    tx.commit().await?;
    audit::record(state, Event::new(Kind::TwoStepOn).user(user.id)).await;
    state
        .mailer
        .send_later(state.mailer.two_step_changed(&user.email, true));
    Ok(codes)
}

/// Turns two-step sign-in off (the caller has re-checked password and code).
pub(super) async fn disable(state: &AppState, user: &User) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    mfa::delete_totp(&mut tx, user.id).await?;
    tx.commit().await?;
    audit::record(state, Event::new(Kind::TwoStepOff).user(user.id)).await;
    state
        .mailer
        .send_later(state.mailer.two_step_changed(&user.email, false));
    Ok(())
}

/// Replaces the recovery codes (the caller has re-checked password and code).
pub(super) async fn replace_recovery_codes(
    state: &AppState,
    user: &User,
) -> Result<Vec<String>, ApiError> {
    let codes = new_recovery_codes();
    let mut tx = state.db.begin().await?;
    mfa::replace_recovery_codes(&mut tx, user.id, &hashes(state, user.id, &codes)).await?;
    tx.commit().await?;
    audit::record(state, Event::new(Kind::RecoveryCodesReplaced).user(user.id)).await;
    Ok(codes)
}

/// Checks a second-step `code` — a TOTP code or a recovery code — and spends it.
/// `None` for a wrong, reused or malformed code, or when two-step sign-in is off.
pub(super) async fn check(
    state: &AppState,
    user: &User,
    code: &str,
) -> Result<Option<Factor>, ApiError> {
    let Some(stored) = mfa::totp(state.db.pool(), user.id)
        .await?
        .filter(|t| t.confirmed_at.is_some())
    else {
        return Ok(None);
    };
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() == 6 && typed.bytes().all(|b| b.is_ascii_digit()) {
        let accepted = totp_matches(state, user, &stored.sealed, &typed).await?;
        return Ok(accepted.then_some(Factor::Totp));
    }
    let Some(recovery) = normalise_recovery_code(&typed) else {
        return Ok(None);
    };
    let hash = recovery_hash(state, user.id, &recovery);
    if !mfa::use_recovery_code(state.db.pool(), user.id, &hash, now()).await? {
        return Ok(None);
    }
    let left = mfa::recovery_codes_left(state.db.pool(), user.id).await?;
    let event = Event::new(Kind::RecoveryCodeUsed).user(user.id);
    audit::record(state, event.with("left", left)).await;
    state
        .mailer
        .send_later(state.mailer.recovery_code_used(&user.email, left));
    Ok(Some(Factor::RecoveryCode))
}

/// Whether `code` is right for the sealed seed now (±1 step) and its step was not
/// accepted before; accepting it spends the step.
async fn totp_matches(
    state: &AppState,
    user: &User,
    sealed: &str,
    code: &str,
) -> Result<bool, ApiError> {
    let seed = open_seed(state, user, sealed).await?;
    let totp = totp(seed.to_vec(), &user.email)?;
    let unix = u64::try_from(now()).unwrap_or_default();
    let Some(step) = totp.check(code.trim(), unix) else {
        return Ok(false);
    };
    let step = i64::try_from(step).map_err(ApiError::internal)?;
    Ok(mfa::accept_step(state.db.pool(), user.id, step).await?)
}

async fn open_seed(
    state: &AppState,
    user: &User,
    sealed: &str,
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let mut sealed = sealed.to_owned();
    // Read just before a key rotation sealed it again under the next key: read it again.
    for _ in 0..2 {
        let bytes = STANDARD.decode(&sealed).map_err(ApiError::internal)?;
        let (key, _, _) = keys::user_key(&state.db, &state.keyring, user.id).await?;
        if let Ok(seed) = blob::open_user_secret(&key, user.id.uuid(), &bytes) {
            return Ok(Zeroizing::new(seed));
        }
        let now = mfa::totp(state.db.pool(), user.id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if now.sealed == sealed {
            break;
        }
        sealed = now.sealed;
    }
    Err(ApiError::Integrity(format!(
        "TOTP seed of {} does not open under the user's key",
        user.id
    )))
}

fn totp(seed: Vec<u8>, email: &str) -> Result<Totp, ApiError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(seed)
        // The otpauth label may not hold a colon; an address practically never does.
        .with_account_name(email.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(ApiError::internal)
}

fn wrong_code() -> String {
    "That code is not right. Enter the 6-digit code your app shows now.".into()
}

/// Ten fresh codes, formatted `xxxxx-xxxxx`.
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_CHARS];
            getrandom::fill(&mut bytes).expect("the OS random source is available");
            // 256 is a multiple of 32, so taking the low five bits is uniform.
            let chars: String = bytes
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A typed recovery code in its stored form: case, spaces and dashes ignored, and the
/// letters Crockford's base32 reads as digits (I, L → 1, O → 0) mapped.
fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    (code.len() == RECOVERY_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(code)
}

fn recovery_hash(state: &AppState, user: UserId, normalised: &str) -> String {
    sign(
        state.secret_key.expose_secret().as_bytes(),
        format!("recovery:{user}:{normalised}").as_bytes(),
    )
}

fn hashes(state: &AppState, user: UserId, codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter_map(|c| normalise_recovery_code(c))
        .map(|c| recovery_hash(state, user, &c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_distinct_readable_codes() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 11, "{code}");
            assert_eq!(&code[5..6], "-");
            let normalised = normalise_recovery_code(code).unwrap();
            assert_eq!(normalised, code.replace('-', ""));
        }
    }

    #[test]
    fn recovery_codes_forgive_case_spaces_and_lookalikes() {
        assert_eq!(
            normalise_recovery_code("AB1CD-EF0GH").as_deref(),
            Some("ab1cdef0gh")
        );
        assert_eq!(
            normalise_recovery_code(" abIcd efOgh ").as_deref(),
            Some("ab1cdef0gh")
        );
        for bad in [
            "",
            "abcde",
            "abcde-fghjkm",
            "abcde-fghj!",
            "ábcde-fghjk",
            "abcde-fghju",
        ] {
            assert_eq!(normalise_recovery_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238 appendix B, SHA-1, truncated to 6 digits.
        let totp = totp(b"12345678901234567890".to_vec(), "a@example.com").unwrap();
        assert_eq!(totp.generate(59).to_string(), "287082");
        assert_eq!(totp.generate(1_111_111_109).to_string(), "081804");
        // One step of drift either way is accepted, two are not.
        let now = 1_111_111_109;
        let code = totp.generate(now).to_string();
        assert!(totp.check(&code, now + 30).is_some());
        assert!(totp.check(&code, now - 30).is_some());
        assert!(totp.check(&code, now + 60).is_none());
        let uri = totp.to_url().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/ImageVault:a%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains("issuer=ImageVault"), "{uri}");
    }
}
