//! Account flows: registration, verification, password reset, account deletion and
//! `create-user` here; sign-in, lockout and sign-out in [`sign_in`]; two-step sign-in in
//! [`two_factor`]; passkeys in [`passkeys`]; device tokens and the session list in
//! [`devices`]. Handlers parse and render; the rules live here, so the CLI and the
//! browser pages run the same code as the JSON API. Every flow that writes more than once does it in one transaction.
//!
//! Every flow that takes an email answers the same whether or not an account exists
//! (status, body, and — through the dummy hash and background email — time).

mod devices;
pub mod passkeys;
mod sign_in;
pub mod sso;
pub mod two_factor;

pub use devices::{list_sessions, revoke_session};
pub use sign_in::{
    ADDRESS_THRESHOLD, IssuedSession, LOCKOUT_THRESHOLD, SignIn, lockout_duration, login,
    login_second_step, logout, logout_everywhere, replace_browser_session, unlock_device,
};

use std::net::IpAddr;

use imagevault_common::email::EmailAddress;
use imagevault_common::password::Password;

use crate::audit::{self, Event, Kind};
use crate::crypto::{hash_token, random_token};
use crate::db::ids::UserId;
use crate::db::tokens::Purpose;
use crate::db::users::{NewUser, User};
use crate::db::{AnyExecutor, is_unique_violation, lockout, now, sessions, tokens, users};
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::{self, Limit};

/// Verification links last a day.
const VERIFY_TTL: i64 = 24 * 3600;
/// Reset links last an hour.
const RESET_TTL: i64 = 3600;

fn parse_email(raw: &str) -> Result<EmailAddress, ApiError> {
    EmailAddress::parse(raw).map_err(|_| ApiError::InvalidEmail)
}

async fn limit(state: &AppState, limit: Limit, key: &str) -> Result<(), ApiError> {
    throttle::check(&state.db, limit, key).await
}

/// `POST /auth/register`: always 202 for a valid request; the owner of an existing
/// address is told by email instead.
#[tracing::instrument(skip_all, fields(user.id))]
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
    match users::insert(state.db.pool(), &new).await {
        Ok(user_id) => {
            tracing::Span::current().record("user.id", tracing::field::display(user_id));
            audit::record(state, Event::new(Kind::Registered).user(user_id).from(ip)).await;
            // The token is stored and mailed in the background, like the "already
            // registered" notice, so both answers cost the same database work.
            let email = email.clone();
            in_background(state, move |state| async move {
                send_verification(&state, user_id, &email).await
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
    user_id: UserId,
    email: &EmailAddress,
) -> Result<(), ApiError> {
    let token = issue_email_token(state.db.pool(), user_id, Purpose::Verify, VERIFY_TTL).await?;
    state
        .mailer
        .send_later(state.mailer.verification(email.as_str(), &token));
    Ok(())
}

/// Runs account work whose timing must not show in the answer (it would tell whether
/// an address has an account); failures are logged, in the request's span.
fn in_background<F, Fut>(state: &AppState, work: F)
where
    F: FnOnce(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), ApiError>> + Send + 'static,
{
    use tracing::Instrument;
    let state = state.clone();
    tokio::spawn(
        async move {
            if let Err(e) = work(state).await {
                tracing::error!(error = %e, "background account work failed");
            }
        }
        .in_current_span(),
    );
}

/// A fresh single-use token for `purpose`; only its hash is stored.
async fn issue_email_token(
    db: impl AnyExecutor<'_>,
    user_id: UserId,
    purpose: Purpose,
    ttl: i64,
) -> Result<String, ApiError> {
    let token = random_token();
    let now = now();
    tokens::insert(db, &hash_token(&token), user_id, purpose, now, now + ttl).await?;
    Ok(token)
}

/// `POST /auth/verify`: uses up the token and verifies the address, both or neither.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn verify_email(state: &AppState, token: &str) -> Result<(), ApiError> {
    let now = now();
    let mut tx = state.db.begin().await?;
    let user_id = tokens::consume(&mut *tx, &hash_token(token.trim()), Purpose::Verify, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    users::mark_verified(&mut *tx, user_id, now).await?;
    tx.commit().await?;
    tracing::Span::current().record("user.id", tracing::field::display(user_id));
    audit::record(state, Event::new(Kind::EmailVerified).user(user_id)).await;
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
    if let Some(user) = users::by_email(state.db.pool(), email.as_str()).await?
        && !user.verified()
    {
        in_background(state, move |state| async move {
            send_verification(&state, user.id, &email).await
        });
    }
    Ok(())
}

/// Who asks for a drastic change, for the password re-check's failure counting.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// The account.
    pub user_id: UserId,
    /// The device of the caller's session, if it has one.
    pub device_id: Option<&'a str>,
    /// The client address.
    pub ip: IpAddr,
}

/// Deletes the caller's account after checking its password again (a stolen session
/// alone must not be able to destroy everything). A wrong password counts like a failed
/// sign-in: the same limits, lockout and owner email.
#[tracing::instrument(skip_all, fields(user.id = %asker.user_id))]
pub async fn delete_account(
    state: &AppState,
    asker: Asker<'_>,
    password: &str,
) -> Result<(), ApiError> {
    let Asker {
        user_id,
        device_id,
        ip,
    } = asker;
    let user = profile(state, user_id).await?;
    if let Err(refused) = sign_in::recheck_password(state, &user, password, device_id, ip).await {
        let event = Event::new(Kind::PasswordRecheckFailed)
            .user(user_id)
            .from(ip);
        audit::record(state, event.with("for", "account deletion")).await;
        return Err(refused);
    }
    crate::maintenance::delete_account(&state.db, &state.store, user_id).await?;
    state.image_cache.forget_owner(user_id);
    audit::record(
        state,
        Event::new(Kind::AccountDeleted).user(user_id).from(ip),
    )
    .await;
    Ok(())
}

/// `DELETE /me/mfa/totp`: turns two-step sign-in off after the password and a code
/// (a recovery code will do), both counted like sign-in failures when wrong.
#[tracing::instrument(skip_all, fields(user.id = %asker.user_id))]
pub async fn disable_two_step(
    state: &AppState,
    asker: Asker<'_>,
    password: &str,
    code: &str,
) -> Result<(), ApiError> {
    let user = profile(state, asker.user_id).await?;
    if !two_factor::status(state, user.id).await?.totp {
        return Err(ApiError::InvalidCode("Two-step sign-in is not on.".into()));
    }
    sign_in::recheck_password_and_code(state, &user, password, code, asker.device_id, asker.ip)
        .await?;
    two_factor::disable(state, &user).await
}

/// `POST /me/mfa/recovery-codes`: ten new recovery codes (the old ones stop working),
/// after the password and a code.
#[tracing::instrument(skip_all, fields(user.id = %asker.user_id))]
pub async fn new_recovery_codes(
    state: &AppState,
    asker: Asker<'_>,
    password: &str,
    code: &str,
) -> Result<Vec<String>, ApiError> {
    let user = profile(state, asker.user_id).await?;
    if !two_factor::status(state, user.id).await?.totp {
        return Err(ApiError::InvalidCode(
            "Turn two-step sign-in on first.".into(),
        ));
    }
    sign_in::recheck_password_and_code(state, &user, password, code, asker.device_id, asker.ip)
        .await?;
    two_factor::replace_recovery_codes(state, &user).await
}

/// Checks that the owner asks, not just someone holding a session: the password, and a
/// code when two-step sign-in is on, each counted like a sign-in failure when wrong.
/// Guards what would outlast a stolen session (a new passkey signs in without either).
#[tracing::instrument(skip_all, fields(user.id = %asker.user_id))]
pub async fn confirm_owner(
    state: &AppState,
    asker: Asker<'_>,
    password: &str,
    code: &str,
) -> Result<User, ApiError> {
    let user = profile(state, asker.user_id).await?;
    if two_factor::status(state, user.id).await?.totp {
        sign_in::recheck_password_and_code(state, &user, password, code, asker.device_id, asker.ip)
            .await?;
    } else {
        sign_in::recheck_password(state, &user, password, asker.device_id, asker.ip).await?;
    }
    Ok(user)
}

/// The caller's account (the `me` endpoint, the account and gallery pages). A session
/// whose account is gone is no session.
pub async fn profile(state: &AppState, user_id: UserId) -> Result<User, ApiError> {
    users::by_id(state.db.pool(), user_id)
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// `POST /auth/forgot-password`: 202 whatever the address; emails a 1-hour link.
#[tracing::instrument(skip_all)]
pub async fn forgot_password(state: &AppState, email: &str, ip: IpAddr) -> Result<(), ApiError> {
    limit(state, throttle::RESET_PER_IP, &throttle::ip_key(ip)).await?;
    let Ok(email) = EmailAddress::parse(email) else {
        return Ok(());
    };
    limit(state, throttle::RESET_PER_EMAIL, email.as_str()).await?;
    if let Some(user) = users::by_email(state.db.pool(), email.as_str()).await? {
        tracing::info!(target: "security", event = "reset_requested", user.id = %user.id, %ip, "password reset requested");
        // In the background, so the answer costs the same whether or not the address
        // has an account.
        in_background(state, move |state| async move {
            let token =
                issue_email_token(state.db.pool(), user.id, Purpose::Reset, RESET_TTL).await?;
            state
                .mailer
                .send_later(state.mailer.password_reset(email.as_str(), &token));
            Ok(())
        });
    }
    Ok(())
}

/// `POST /auth/reset-password`: sets a new password, clears lockout, revokes every
/// session and every other reset link. A reset proves control of the address, so it
/// also verifies it. All of it is one transaction: a failure midway leaves the old
/// password, the old sessions and the link as they were, so the link can be used again.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn reset_password(state: &AppState, token: &str, password: &str) -> Result<(), ApiError> {
    let token_hash = hash_token(token.trim());
    // Check the password before using up the token, so a weak choice can be corrected.
    let user_id = tokens::peek(state.db.pool(), &token_hash, Purpose::Reset, now())
        .await?
        .ok_or(ApiError::InvalidToken)?;
    tracing::Span::current().record("user.id", tracing::field::display(user_id));
    let user = users::by_id(state.db.pool(), user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let email = parse_email(&user.email)?;
    let password = Password::parse(password, &email).map_err(ApiError::WeakPassword)?;
    let hash = state.hasher.hash(password.expose_secret()).await?;
    let now = now();
    let mut tx = state.db.begin().await?;
    tokens::consume(&mut *tx, &token_hash, Purpose::Reset, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    users::set_password(&mut *tx, user.id, &hash).await?;
    tokens::revoke_all(&mut *tx, user.id, Purpose::Reset, now).await?;
    lockout::clear(&mut *tx, &user.email).await?;
    users::mark_verified(&mut *tx, user.id, now).await?;
    let revoked = sessions::revoke_all(&mut *tx, user.id, now).await?;
    tx.commit().await?;
    let event = Event::new(Kind::PasswordReset).user(user.id);
    audit::record(state, event.with("sessions_ended", revoked)).await;
    Ok(())
}

/// `imagevault-server create-user`: a verified account, no email involved. The email and
/// password are parsed by the caller, which reports their faults its own way.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn create_user(
    state: &AppState,
    email: &EmailAddress,
    password: &Password,
    admin: bool,
) -> Result<UserId, CreateUserError> {
    let hash = state.hasher.hash(password.expose_secret()).await?;
    let now = now();
    let new = NewUser {
        email: email.as_str(),
        password_hash: &hash,
        is_admin: admin,
        verified_at: Some(now),
        now,
    };
    match users::insert(state.db.pool(), &new).await {
        Ok(id) => {
            tracing::Span::current().record("user.id", tracing::field::display(id));
            let event = Event::new(Kind::AccountCreatedByOperator).user(id);
            audit::record(state, event.with("admin", admin)).await;
            Ok(id)
        }
        Err(e) if is_unique_violation(&e) => Err(CreateUserError::Exists(email.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// Why `create-user` made no account.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The address has an account.
    #[error("an account for {0} already exists")]
    Exists(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] crate::passwords::HashError),
}
