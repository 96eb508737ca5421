//! Sign-in with lockout, and sign-out: sessions are made and revoked here.

use std::net::IpAddr;

use imagevault_common::email::EmailAddress;
use time::OffsetDateTime;

use super::limit;
use crate::crypto::{hash_token, random_token};
use crate::db::ids::{SessionId, UserId};
use crate::db::sessions::{NewSession, SessionKind};
use crate::db::users::User;
use crate::db::{Tx, lockout, now, sessions, users};
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle;

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
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
}

/// `POST /auth/login`: checks limits and lockout, then the password (against a dummy
/// hash for unknown addresses), then verification; creates a session of `kind`.
#[tracing::instrument(skip_all, fields(user.id))]
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
    let user = users::by_email(state.db.pool(), email.as_str()).await?;
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
    tracing::Span::current().record("user.id", tracing::field::display(user.id));
    let mut tx = state.db.begin().await?;
    lockout::clear(&mut *tx, email.as_str()).await?;
    let session = issue_session(&mut tx, user.id, kind, now()).await?;
    tx.commit().await?;
    tracing::info!(target: "security", event = "login", %ip, kind = ?kind, "login succeeded");
    Ok(session)
}

/// Checks the signed-in user's password again before something drastic (deleting the
/// account): the same lockout, failure counting and owner email as a sign-in, so a
/// stolen session cannot be used to guess the password either.
pub(super) async fn recheck_password(
    state: &AppState,
    user: &User,
    password: &str,
    ip: IpAddr,
) -> Result<(), ApiError> {
    limit(state, throttle::LOGIN_PER_ACCOUNT, &user.email).await?;
    check_lock(state, &user.email, ip).await?;
    if state
        .hasher
        .verify(password, Some(&user.password_hash))
        .await?
    {
        return Ok(());
    }
    let email = EmailAddress::parse(&user.email).map_err(|_| ApiError::InvalidEmail)?;
    Err(login_failed(state, &email, Some(user), ip).await)
}

/// 423 while `email` is locked: one query, the same whether or not it has an account.
async fn check_lock(state: &AppState, email: &str, ip: IpAddr) -> Result<(), ApiError> {
    let now = now();
    if let Some(until) = lockout::locked_until(state.db.pool(), email)
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
        if let Some(user) = user {
            tracing::Span::current().record("user.id", tracing::field::display(user.id));
        }
        // Counting and locking are one transaction: a failure between them cannot leave
        // a fifth failure counted but never locked.
        let mut tx = state.db.begin().await?;
        let (failures, lockouts) = lockout::record_failure(&mut *tx, email.as_str(), now).await?;
        tracing::warn!(target: "security", event = "login_failed", %ip, failures, "login failed");
        let duration = lockout_duration(lockouts);
        let locked = failures >= LOCKOUT_THRESHOLD
            && lockout::lock(&mut *tx, email.as_str(), LOCKOUT_THRESHOLD, now + duration, now).await?;
        tx.commit().await?;
        if locked {
            tracing::warn!(target: "security", event = "lockout", %ip, seconds = duration, "account locked");
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
    tx: &mut Tx,
    user_id: UserId,
    kind: SessionKind,
    now: i64,
) -> Result<IssuedSession, ApiError> {
    let token = random_token();
    let expires = now + SESSION_TTL;
    let new = NewSession {
        token_hash: &hash_token(&token),
        user_id,
        kind,
        now,
        expires_at: expires,
    };
    let session_id = sessions::insert(&mut **tx, &new).await?;
    let expires_at = OffsetDateTime::from_unix_timestamp(expires).map_err(ApiError::internal)?;
    Ok(IssuedSession {
        token,
        expires_at,
        user_id,
        session_id,
    })
}

/// `POST /auth/logout`: revokes the presented session.
#[tracing::instrument(skip_all, fields(user.id = %user_id))]
pub async fn logout(state: &AppState, session: SessionId, user_id: UserId) -> Result<(), ApiError> {
    sessions::revoke(state.db.pool(), session, now()).await?;
    tracing::info!(target: "security", event = "logout", session.id = %session, "session revoked");
    Ok(())
}

/// `POST /auth/logout-all`: revokes every session of the account.
#[tracing::instrument(skip_all, fields(user.id = %user_id))]
pub async fn logout_everywhere(state: &AppState, user_id: UserId) -> Result<(), ApiError> {
    let revoked = sessions::revoke_all(state.db.pool(), user_id, now()).await?;
    tracing::info!(target: "security", event = "logout_all", revoked, "all sessions revoked");
    Ok(())
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
