//! Account flows: registration, verification, login with lockout, logout, password
//! reset. Handlers parse and render; the rules live here, so the CLI and the browser
//! pages run the same code as the JSON API.
//!
//! Every flow that takes an email answers the same whether or not an account exists
//! (status, body, and — through the dummy hash and background email — time).

use std::net::IpAddr;

use imagevault_common::email::EmailAddress;
use imagevault_common::password::Password;
use time::OffsetDateTime;

use crate::crypto::{hash_token, random_token};
use crate::db::sessions::SessionKind;
use crate::db::tokens::Purpose;
use crate::db::users::{NewUser, User};
use crate::db::{is_unique_violation, now};
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::{self, Limit};

/// Verification links last a day.
const VERIFY_TTL: i64 = 24 * 3600;
/// Reset links last an hour.
const RESET_TTL: i64 = 3600;
/// Sessions last two weeks.
pub const SESSION_TTL: i64 = 14 * 24 * 3600;
/// Consecutive failures that lock an account.
pub const LOCKOUT_THRESHOLD: i64 = 5;
/// First lockout; each further one doubles, up to a day.
const LOCKOUT_BASE: i64 = 15 * 60;
const LOCKOUT_MAX: i64 = 24 * 3600;

/// A session just created.
pub struct IssuedSession {
    /// The opaque token, shown once.
    pub token: String,
    /// Its expiry.
    pub expires_at: OffsetDateTime,
    /// The account.
    pub user_id: String,
}

fn parse_email(raw: &str) -> Result<EmailAddress, ApiError> {
    EmailAddress::parse(raw).map_err(|_| ApiError::InvalidEmail)
}

async fn limit(state: &AppState, limit: Limit, key: &str) -> Result<(), ApiError> {
    throttle::check(&state.db, limit, key).await
}

/// `POST /auth/register`: always 202 for a valid request; the owner of an existing
/// address is told by email instead.
pub async fn register(
    state: &AppState,
    email: &str,
    password: &str,
    ip: IpAddr,
) -> Result<(), ApiError> {
    limit(state, throttle::REGISTER_PER_IP, &throttle::ip_key(ip)).await?;
    let email = parse_email(email)?;
    let password = Password::parse(password, &email).map_err(ApiError::WeakPassword)?;
    // Hash before looking the address up, so both outcomes cost the same.
    let hash = state.hasher.hash(password.expose_secret()).await?;
    let new = NewUser {
        email: email.as_str(),
        password_hash: &hash,
        is_admin: false,
        verified_at: None,
        now: now(),
    };
    match state.db.insert_user(&new).await {
        Ok(user_id) => {
            tracing::info!(target: "security", event = "register", user.id = %user_id, %ip, "account created");
            // The token is stored and mailed in the background, like the "already
            // registered" notice, so both answers cost the same database work.
            let email = email.clone();
            in_background(state, move |state| async move {
                send_verification(&state, &user_id, &email).await
            });
        }
        Err(e) if is_unique_violation(&e) => {
            // At most a few notices an hour per address, silently: the answer must not
            // change, and registration must not become a way to flood someone's inbox.
            if throttle::check(
                &state.db,
                throttle::REGISTER_NOTICE_PER_EMAIL,
                email.as_str(),
            )
            .await
            .is_ok()
            {
                state
                    .mailer
                    .send_later(state.mailer.already_registered(email.as_str()));
            }
            tracing::info!(target: "security", event = "register_existing", %ip, "registration for an existing address");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

async fn send_verification(
    state: &AppState,
    user_id: &str,
    email: &EmailAddress,
) -> Result<(), ApiError> {
    let token = issue_email_token(state, user_id, Purpose::Verify, VERIFY_TTL).await?;
    state
        .mailer
        .send_later(state.mailer.verification(email.as_str(), &token));
    Ok(())
}

/// Runs account work whose timing must not show in the answer (it would tell whether
/// an address has an account); failures are logged.
fn in_background<F, Fut>(state: &AppState, work: F)
where
    F: FnOnce(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), ApiError>> + Send + 'static,
{
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = work(state).await {
            tracing::error!(error = %e, "background account work failed");
        }
    });
}

/// A fresh single-use token for `purpose`; only its hash is stored.
async fn issue_email_token(
    state: &AppState,
    user_id: &str,
    purpose: Purpose,
    ttl: i64,
) -> Result<String, ApiError> {
    let token = random_token();
    let now = now();
    state
        .db
        .insert_email_token(&hash_token(&token), user_id, purpose, now, now + ttl)
        .await?;
    Ok(token)
}

/// `POST /auth/verify`.
pub async fn verify_email(state: &AppState, token: &str) -> Result<(), ApiError> {
    let now = now();
    let user_id = state
        .db
        .consume_email_token(&hash_token(token.trim()), Purpose::Verify, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    state.db.mark_verified(&user_id, now).await?;
    tracing::info!(target: "security", event = "verify", user.id = %user_id, "email verified");
    Ok(())
}

/// `POST /auth/resend-verification`: 202 whatever the address; rate-limited.
pub async fn resend_verification(
    state: &AppState,
    email: &str,
    ip: IpAddr,
) -> Result<(), ApiError> {
    limit(state, throttle::RESEND_PER_IP, &throttle::ip_key(ip)).await?;
    let Ok(email) = EmailAddress::parse(email) else {
        return Ok(());
    };
    limit(state, throttle::RESEND_PER_EMAIL, email.as_str()).await?;
    if let Some(user) = state.db.user_by_email(email.as_str()).await?
        && !user.verified()
    {
        in_background(state, move |state| async move {
            send_verification(&state, &user.id, &email).await
        });
    }
    Ok(())
}

/// `POST /auth/login`: checks limits and lockout, then the password (against a dummy
/// hash for unknown addresses), then verification; creates a session of `kind`.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    ip: IpAddr,
    kind: SessionKind,
) -> Result<IssuedSession, ApiError> {
    limit(state, throttle::LOGIN_PER_IP, &throttle::ip_key(ip)).await?;
    let Ok(email) = EmailAddress::parse(email) else {
        // Same cost as a real attempt, same answer.
        state.hasher.verify(password, None).await?;
        return Err(ApiError::InvalidCredentials);
    };
    limit(state, throttle::LOGIN_PER_ACCOUNT, email.as_str()).await?;
    check_lock(state, email.as_str(), ip).await?;
    let user = state.db.user_by_email(email.as_str()).await?;
    let matched = state
        .hasher
        .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    let user = match user {
        Some(user) if matched => user,
        other => return Err(login_failed(state, &email, other.as_ref(), ip).await),
    };
    // A concurrent burst may have locked the account while this hash ran.
    check_lock(state, email.as_str(), ip).await?;
    if !user.verified() {
        return Err(ApiError::EmailNotVerified);
    }
    state.db.clear_login_failures(email.as_str()).await?;
    let session = issue_session(state, &user.id, kind, now()).await?;
    tracing::info!(target: "security", event = "login", user.id = %user.id, %ip, kind = ?kind, "login succeeded");
    Ok(session)
}

/// Deletes the caller's account after checking its password again (a stolen session
/// alone must not be able to destroy everything). Attempts count against the same
/// per-account limit as logins.
pub async fn delete_account(
    state: &AppState,
    user_id: &str,
    password: &str,
) -> Result<(), ApiError> {
    let user = state
        .db
        .user_by_id(user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    limit(state, throttle::LOGIN_PER_ACCOUNT, &user.email).await?;
    if !state
        .hasher
        .verify(password, Some(&user.password_hash))
        .await?
    {
        tracing::warn!(target: "security", event = "account_delete_refused", user.id = user_id, "wrong password for account deletion");
        return Err(ApiError::InvalidCredentials);
    }
    crate::maintenance::delete_account(state, user_id).await
}

/// 423 while `email` is locked: one query, the same whether or not it has an account.
async fn check_lock(state: &AppState, email: &str, ip: IpAddr) -> Result<(), ApiError> {
    let now = now();
    if let Some(until) = state
        .db
        .login_locked_until(email)
        .await?
        .filter(|t| *t > now)
    {
        tracing::warn!(target: "security", event = "login_locked", %ip, "login refused: account locked");
        return Err(ApiError::AccountLocked(until - now));
    }
    Ok(())
}

/// Records a failure and locks the address on the fifth in a row — identically for
/// addresses without an account; only a real owner is emailed.
async fn login_failed(
    state: &AppState,
    email: &EmailAddress,
    user: Option<&User>,
    ip: IpAddr,
) -> ApiError {
    let result: Result<(), ApiError> = async {
        let now = now();
        let (failures, lockouts) = state.db.record_login_failure(email.as_str(), now).await?;
        let user_id = user.map_or("", |u| u.id.as_str());
        tracing::warn!(target: "security", event = "login_failed", user.id = user_id, %ip, failures, "login failed");
        if failures < LOCKOUT_THRESHOLD {
            return Ok(());
        }
        let duration = lockout_duration(lockouts);
        if state.db.lock_login(email.as_str(), LOCKOUT_THRESHOLD, now + duration, now).await? {
            tracing::warn!(target: "security", event = "lockout", user.id = user_id, %ip, seconds = duration, "account locked");
            if user.is_some() {
                state.mailer.send_later(state.mailer.lockout(email.as_str(), duration / 60));
            }
        }
        Ok(())
    }
    .await;
    result.err().unwrap_or(ApiError::InvalidCredentials)
}

/// 15 minutes, doubling with each earlier lockout, at most a day.
pub fn lockout_duration(previous_lockouts: i64) -> i64 {
    let doublings = u32::try_from(previous_lockouts.clamp(0, 16)).unwrap_or(16);
    LOCKOUT_BASE.saturating_mul(1 << doublings).min(LOCKOUT_MAX)
}

async fn issue_session(
    state: &AppState,
    user_id: &str,
    kind: SessionKind,
    now: i64,
) -> Result<IssuedSession, ApiError> {
    let token = random_token();
    let expires = now + SESSION_TTL;
    state
        .db
        .insert_session(&hash_token(&token), user_id, kind, now, expires)
        .await?;
    let expires_at = OffsetDateTime::from_unix_timestamp(expires)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(IssuedSession {
        token,
        expires_at,
        user_id: user_id.to_owned(),
    })
}

/// `POST /auth/logout`: revokes the presented session.
pub async fn logout(state: &AppState, token_hash: &str, user_id: &str) -> Result<(), ApiError> {
    state.db.revoke_session(token_hash, now()).await?;
    tracing::info!(target: "security", event = "logout", user.id = %user_id, "session revoked");
    Ok(())
}

/// `POST /auth/logout-all`: revokes every session of the account.
pub async fn logout_everywhere(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let revoked = state.db.revoke_all_sessions(user_id, now()).await?;
    tracing::info!(target: "security", event = "logout_all", user.id = %user_id, revoked, "all sessions revoked");
    Ok(())
}

/// `POST /auth/forgot-password`: 202 whatever the address; emails a 1-hour link.
pub async fn forgot_password(state: &AppState, email: &str, ip: IpAddr) -> Result<(), ApiError> {
    limit(state, throttle::RESET_PER_IP, &throttle::ip_key(ip)).await?;
    let Ok(email) = EmailAddress::parse(email) else {
        return Ok(());
    };
    limit(state, throttle::RESET_PER_EMAIL, email.as_str()).await?;
    if let Some(user) = state.db.user_by_email(email.as_str()).await? {
        tracing::info!(target: "security", event = "reset_requested", user.id = %user.id, %ip, "password reset requested");
        // In the background, so the answer costs the same whether or not the address
        // has an account.
        in_background(state, move |state| async move {
            let token = issue_email_token(&state, &user.id, Purpose::Reset, RESET_TTL).await?;
            state
                .mailer
                .send_later(state.mailer.password_reset(email.as_str(), &token));
            Ok(())
        });
    }
    Ok(())
}

/// `POST /auth/reset-password`: sets a new password, clears lockout, revokes every
/// session. A reset proves control of the address, so it also verifies it.
pub async fn reset_password(state: &AppState, token: &str, password: &str) -> Result<(), ApiError> {
    let now = now();
    let token_hash = hash_token(token.trim());
    // Check the password before using up the token, so a weak choice can be corrected.
    let user_id = state
        .db
        .peek_email_token(&token_hash, Purpose::Reset, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let user = state
        .db
        .user_by_id(&user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let email = parse_email(&user.email)?;
    let password = Password::parse(password, &email).map_err(ApiError::WeakPassword)?;
    let hash = state.hasher.hash(password.expose_secret()).await?;
    state
        .db
        .consume_email_token(&token_hash, Purpose::Reset, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    state.db.set_password(&user.id, &hash).await?;
    state
        .db
        .revoke_email_tokens(&user.id, Purpose::Reset, now)
        .await?;
    state.db.clear_login_failures(&user.email).await?;
    state.db.mark_verified(&user.id, now).await?;
    let revoked = state.db.revoke_all_sessions(&user.id, now).await?;
    tracing::info!(target: "security", event = "reset", user.id = %user.id, revoked, "password reset");
    Ok(())
}

/// `imagevault-server create-user`: a verified account, no email involved.
pub async fn create_user(
    state: &AppState,
    email: &str,
    password: &str,
    admin: bool,
) -> Result<String, ApiError> {
    let email = parse_email(email)?;
    let password = Password::parse(password, &email).map_err(ApiError::WeakPassword)?;
    let hash = state.hasher.hash(password.expose_secret()).await?;
    let now = now();
    let new = NewUser {
        email: email.as_str(),
        password_hash: &hash,
        is_admin: admin,
        verified_at: Some(now),
        now,
    };
    match state.db.insert_user(&new).await {
        Ok(id) => {
            tracing::info!(target: "security", event = "create_user", user.id = %id, admin, "account created from the command line");
            Ok(id)
        }
        Err(e) if is_unique_violation(&e) => Err(ApiError::BadRequest(format!(
            "An account for {email} already exists."
        ))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_grow_from_fifteen_minutes_to_a_day() {
        assert_eq!(lockout_duration(0), 15 * 60);
        assert_eq!(lockout_duration(1), 30 * 60);
        assert_eq!(lockout_duration(2), 60 * 60);
        assert_eq!(lockout_duration(10), 24 * 3600);
        assert_eq!(lockout_duration(i64::MAX), 24 * 3600);
        assert_eq!(lockout_duration(-3), 15 * 60);
    }
}
