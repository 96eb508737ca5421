//! Sign-in (password, then a code when two-step sign-in is on), lockout, and sign-out:
//! sessions are made and revoked here.
//!
//! Lockout follows OWASP's "device cookies": a device that has signed in to the
//! account before presents a signed device token, and its failures are counted apart.
//! Everyone else — strangers included — shares the account's count and a count per
//! client address. Five failures lock unknown devices out of the account with growing
//! delays, and the owner is emailed a one-time link that makes their browser a known
//! device; strangers can therefore never keep the owner out.

use std::net::IpAddr;

use imagevault_common::email::EmailAddress;
use time::OffsetDateTime;

use super::devices::{Device, device_token};
use super::{issue_email_token, limit, two_factor};
use crate::audit::{self, Event, Kind};
use crate::crypto::{hash_token, random_token};
use crate::db::ids::{SessionId, UserId};
use crate::db::mfa::{self, Challenge, NewChallenge};
use crate::db::sessions::{NewSession, SessionKind};
use crate::db::tokens::Purpose;
use crate::db::users::User;
use crate::db::{Tx, lockout, now, sessions, users};
use crate::error::ApiError;
use crate::http::client::{Client, address_hint};
use crate::state::AppState;
use crate::throttle;

/// Failures that lock unknown devices out of an account (and a known device out of it).
pub const LOCKOUT_THRESHOLD: i64 = 5;
/// Failures from one client address, over every account, that lock the address out of
/// sign-in from unknown devices.
pub const ADDRESS_THRESHOLD: i64 = 20;
/// First lockout; each further one doubles, up to a day.
const LOCKOUT_BASE: i64 = 15 * 60;
const LOCKOUT_MAX: i64 = 24 * 3600;
/// How long a second step may wait, and how many codes it may try.
const MFA_TTL: i64 = 5 * 60;
const MFA_TRIES: i64 = 5;
/// The emailed link past a lock lasts as long as the longest lock.
const UNLOCK_TTL: i64 = 24 * 3600;

/// A session just created.
pub struct IssuedSession {
    /// The opaque token, shown once.
    pub token: String,
    /// Its absolute expiry.
    pub expires_at: OffsetDateTime,
    /// The account.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// The device token to present at later sign-ins.
    pub device_token: String,
}

/// Where a correct password leads.
pub enum SignIn {
    /// Signed in.
    Session(IssuedSession),
    /// Two-step sign-in is on: the code comes next, with this token.
    SecondStep {
        /// Names the waiting second step (5 minutes, 5 tries).
        mfa_token: String,
    },
}

/// `POST /auth/login`: limits and lockout for this device, then the password (against
/// a dummy hash for unknown addresses), then verification; a session of `kind`, or the
/// second step when two-step sign-in is on.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    client: &Client,
    kind: SessionKind,
) -> Result<SignIn, ApiError> {
    let ip = client.ip;
    let Ok(email) = EmailAddress::parse(email) else {
        // Same cost as a real attempt, same answer.
        limit(state, throttle::LOGIN_PER_IP, &throttle::ip_key(ip)).await?;
        state.hasher.verify(password, None).await?;
        return Err(ApiError::InvalidCredentials);
    };
    let user = users::by_email(state.db.pool(), email.as_str()).await?;
    let device = user.as_ref().map_or(Device::Unknown, |u| {
        Device::recognise(state, u.id, client.device_token.as_deref())
    });
    let guard = Guard::new(&device, email.as_str(), ip);
    guard.admit(state).await?;
    let matched = state
        .hasher
        .verify(password, user.as_ref().and_then(User::password))
        .await?;
    let user = match user {
        Some(user) if matched => user,
        other => {
            guard.failed(state, other.as_ref()).await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    // A concurrent burst may have locked the account while this hash ran.
    guard.check_lock(state).await?;
    if !user.verified() {
        return Err(ApiError::EmailNotVerified);
    }
    if user.disabled() {
        return Err(ApiError::AccountDisabled);
    }
    tracing::Span::current().record("user.id", tracing::field::display(user.id));
    let mut tx = state.db.begin().await?;
    // Failures are forgiven only when the whole sign-in succeeds: a right password
    // followed by wrong codes must keep counting, or knowing the password would buy
    // unlimited guesses at the code.
    if mfa::totp_enabled(&mut *tx, user.id).await? {
        let mfa_token = ask_second_step(&mut tx, user.id, kind, &device).await?;
        tx.commit().await?;
        tracing::info!(target: "security", event = "login_password_ok", %ip, "password right; second step asked");
        return Ok(SignIn::SecondStep { mfa_token });
    }
    guard.forgive(&mut tx).await?;
    let session = issue_session(state, &mut tx, &user, kind, &device.id_or_new(), client).await?;
    tx.commit().await?;
    signed_in(state, &session, ip, "password").await;
    Ok(SignIn::Session(session))
}

/// Makes the second step that must follow a first one (a password, or a provider's
/// sign-in without its own second factor), in the caller's transaction: its token
/// allows five codes in five minutes at `POST /auth/login/mfa`.
pub(super) async fn ask_second_step(
    tx: &mut Tx,
    user: UserId,
    kind: SessionKind,
    device: &Device,
) -> Result<String, ApiError> {
    let mfa_token = random_token();
    let challenge = Challenge {
        user_id: user,
        kind: kind.as_str().to_owned(),
        device_id: device.id_or_new(),
        known_device: i64::from(matches!(device, Device::Known(_))),
    };
    let now = now();
    let new = NewChallenge {
        token_hash: &hash_token(&mfa_token),
        challenge: &challenge,
        expires_at: now + MFA_TTL,
    };
    mfa::insert_challenge(tx, &new, now).await?;
    Ok(mfa_token)
}

/// `POST /auth/login/mfa`: the code (TOTP or recovery code) for a waiting second step.
/// Failures count exactly like wrong passwords; the step allows five tries in five
/// minutes and is used up by its first success.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn login_second_step(
    state: &AppState,
    mfa_token: &str,
    code: &str,
    client: &Client,
) -> Result<IssuedSession, ApiError> {
    let ip = client.ip;
    let token = mfa_token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::SecondStepFailed);
    }
    let token_hash = hash_token(token);
    // Unknown tokens cost a lookup only, but flooding them is still a client to slow.
    limit(state, throttle::LOGIN_PER_IP, &throttle::ip_key(ip)).await?;
    let challenge = mfa::take_try(state.db.pool(), &token_hash, MFA_TRIES, now())
        .await?
        .ok_or(ApiError::SecondStepFailed)?;
    let user = users::by_id(state.db.pool(), challenge.user_id)
        .await?
        .ok_or(ApiError::SecondStepFailed)?;
    tracing::Span::current().record("user.id", tracing::field::display(user.id));
    let kind = SessionKind::parse(&challenge.kind)
        .ok_or_else(|| ApiError::internal(format!("stored session kind {:?}", challenge.kind)))?;
    let device = if challenge.known_device == 1 {
        Device::Known(challenge.device_id.clone())
    } else {
        Device::Unknown
    };
    let guard = Guard::new(&device, &user.email, ip);
    guard.admit(state).await?;
    if two_factor::check(state, &user, code).await?.is_none() {
        guard.failed(state, Some(&user)).await?;
        return Err(ApiError::SecondStepFailed);
    }
    let mut tx = state.db.begin().await?;
    if !mfa::finish_challenge(&mut *tx, &token_hash).await? {
        return Err(ApiError::SecondStepFailed);
    }
    guard.forgive(&mut tx).await?;
    let session = issue_session(state, &mut tx, &user, kind, &challenge.device_id, client).await?;
    tx.commit().await?;
    signed_in(state, &session, ip, "password and code").await;
    Ok(session)
}

/// Checks the signed-in user's password again before something drastic (deleting the
/// account, changing two-step sign-in): the same lockout, failure counting and owner
/// email as a sign-in from the session's device, so a stolen session cannot be used to
/// guess the password either.
pub(super) async fn recheck_password(
    state: &AppState,
    user: &User,
    password: &str,
    device_id: Option<&str>,
    ip: IpAddr,
) -> Result<(), ApiError> {
    let device = device_id.map_or(Device::Unknown, |d| Device::Known(d.to_owned()));
    let guard = Guard::new(&device, &user.email, ip);
    guard.admit(state).await?;
    // An account without a password checks against the dummy hash: the same time, and
    // never a match.
    if state.hasher.verify(password, user.password()).await? {
        return Ok(());
    }
    guard.failed(state, Some(user)).await?;
    Err(ApiError::InvalidCredentials)
}

/// [`recheck_password`], then a second-step code (spent if right; counted if wrong).
pub(super) async fn recheck_password_and_code(
    state: &AppState,
    user: &User,
    password: &str,
    code: &str,
    device_id: Option<&str>,
    ip: IpAddr,
) -> Result<(), ApiError> {
    recheck_password(state, user, password, device_id, ip).await?;
    if two_factor::check(state, user, code).await?.is_some() {
        return Ok(());
    }
    let device = device_id.map_or(Device::Unknown, |d| Device::Known(d.to_owned()));
    Guard::new(&device, &user.email, ip)
        .failed(state, Some(user))
        .await?;
    Err(ApiError::InvalidCode(
        "That code is not right. Enter the code your app shows now, or a recovery code.".into(),
    ))
}

/// The failure counters and locks one attempt answers to: a known device's own, or
/// the account's and the client address's for everyone else.
struct Guard<'a> {
    device: &'a Device,
    email: &'a str,
    ip: IpAddr,
}

impl<'a> Guard<'a> {
    fn new(device: &'a Device, email: &'a str, ip: IpAddr) -> Self {
        Self { device, email, ip }
    }

    fn device_key(id: &str) -> String {
        // No normalised email contains a colon without an `@` after it, so these keys
        // never meet an account's.
        format!("device:{id}")
    }

    fn address_key(&self) -> String {
        format!("address:{}", throttle::ip_key(self.ip))
    }

    /// The rate limits, then the lock. A known device answers to its own limit only,
    /// so a stranger — even one behind the owner's own address — cannot use it up.
    async fn admit(&self, state: &AppState) -> Result<(), ApiError> {
        match self.device {
            Device::Known(id) => {
                limit(state, throttle::LOGIN_PER_DEVICE, &Self::device_key(id)).await?;
            }
            Device::Unknown => {
                limit(state, throttle::LOGIN_PER_IP, &throttle::ip_key(self.ip)).await?;
                limit(state, throttle::LOGIN_PER_ACCOUNT, self.email).await?;
            }
        }
        self.check_lock(state).await
    }

    /// 423 while this attempt's account (or device, or address) is locked: the same
    /// whether or not the address has an account.
    async fn check_lock(&self, state: &AppState) -> Result<(), ApiError> {
        let keys = match self.device {
            Device::Known(id) => vec![Self::device_key(id)],
            Device::Unknown => vec![self.email.to_owned(), self.address_key()],
        };
        let now = now();
        for key in keys {
            if let Some(until) = lockout::locked_until(state.db.pool(), &key)
                .await?
                .filter(|t| *t > now)
            {
                tracing::warn!(target: "security", event = "login_locked", ip = %self.ip, "login refused: locked");
                return Err(ApiError::AccountLocked(until - now));
            }
        }
        Ok(())
    }

    /// Counts a failure, and locks on the threshold — identically for addresses without
    /// an account; only a real owner is emailed (with the link past the lock).
    async fn failed(&self, state: &AppState, user: Option<&User>) -> Result<(), ApiError> {
        if let Some(user) = user {
            tracing::Span::current().record("user.id", tracing::field::display(user.id));
        }
        let now = now();
        // Counting and locking are one transaction: a failure between them cannot leave
        // a fifth failure counted but never locked.
        let mut tx = state.db.begin().await?;
        let locked_for = match self.device {
            Device::Known(id) => {
                count(&mut tx, &Self::device_key(id), LOCKOUT_THRESHOLD, now).await?
            }
            Device::Unknown => {
                count(&mut tx, &self.address_key(), ADDRESS_THRESHOLD, now).await?;
                count(&mut tx, self.email, LOCKOUT_THRESHOLD, now).await?
            }
        };
        // The owner is told of every lock, with a one-time link past it.
        let unlock = match (locked_for, user) {
            (Some(duration), Some(user)) => Some((
                duration,
                issue_email_token(&mut *tx, user.id, Purpose::Unlock, UNLOCK_TTL).await?,
            )),
            _ => None,
        };
        tx.commit().await?;
        let about = |event: Event| match user {
            Some(user) => event.user(user.id).from(self.ip),
            None => event.from(self.ip),
        };
        let known = matches!(self.device, Device::Known(_));
        audit::record(
            state,
            about(Event::new(Kind::SignInFailed)).with("known_device", known),
        )
        .await;
        if let Some(duration) = locked_for {
            let event = about(Event::new(Kind::Lockout)).with("seconds", duration);
            audit::record(state, event.with("known_device", known)).await;
        }
        if let Some((duration, token)) = unlock {
            state
                .mailer
                .send_later(state.mailer.lockout(self.email, duration / 60, &token));
        }
        Ok(())
    }

    /// A success forgives this device's failures (or the account's, for an unknown
    /// device; an address's count only decays, or one good account could wash it).
    async fn forgive(&self, tx: &mut Tx) -> Result<(), ApiError> {
        match self.device {
            Device::Known(id) => lockout::clear(&mut **tx, &Self::device_key(id)).await?,
            Device::Unknown => lockout::clear(&mut **tx, self.email).await?,
        }
        Ok(())
    }
}

/// Counts one failure under `key`; on reaching `threshold` locks it and returns for how
/// many seconds. Of several concurrent failures only one locks.
async fn count(tx: &mut Tx, key: &str, threshold: i64, now: i64) -> Result<Option<i64>, ApiError> {
    let (failures, lockouts) = lockout::record_failure(&mut **tx, key, now).await?;
    if failures < threshold {
        return Ok(None);
    }
    let duration = lockout_duration(lockouts);
    let locked = lockout::lock(&mut **tx, key, threshold, now + duration, now).await?;
    Ok(locked.then_some(duration))
}

/// 15 minutes, doubling with each earlier lockout, at most a day.
pub fn lockout_duration(previous_lockouts: i64) -> i64 {
    let doublings = u32::try_from(previous_lockouts.clamp(0, 16)).unwrap_or(16);
    LOCKOUT_BASE.saturating_mul(1 << doublings).min(LOCKOUT_MAX)
}

/// A sign-in that needed no password (a passkey), as a session of `kind` in the
/// caller's transaction. A known device's own failures are forgiven; the account's
/// count is not, or each passkey sign-in of the owner would hand a password guesser
/// fresh tries and reset the growing delay.
pub(super) async fn passwordless_session(
    state: &AppState,
    tx: &mut Tx,
    user: &User,
    kind: SessionKind,
    client: &Client,
) -> Result<IssuedSession, ApiError> {
    let device = Device::recognise(state, user.id, client.device_token.as_deref());
    if matches!(device, Device::Known(_)) {
        Guard::new(&device, &user.email, client.ip)
            .forgive(tx)
            .await?;
    }
    issue_session(state, tx, user, kind, &device.id_or_new(), client).await
}

/// Records a finished sign-in in the audit log.
pub(super) async fn signed_in(state: &AppState, session: &IssuedSession, ip: IpAddr, method: &str) {
    let event = Event::new(Kind::SignIn).user(session.user_id).from(ip);
    let event = event
        .with("method", method)
        .with("session", session.session_id.to_string());
    audit::record(state, event).await;
}

/// Every sign-in ends here, whatever proved it (password, code, passkey): a disabled
/// account gets no session.
async fn issue_session(
    state: &AppState,
    tx: &mut Tx,
    user: &User,
    kind: SessionKind,
    device_id: &str,
    client: &Client,
) -> Result<IssuedSession, ApiError> {
    if user.disabled() {
        return Err(ApiError::AccountDisabled);
    }
    let token = random_token();
    let now = now();
    // Conditional on the account still being enabled, under its row lock: a sign-in
    // whose password check overlapped an administrator disabling the account cannot
    // slip a session in after the disable revoked the others.
    if !users::signed_in(&mut **tx, user.id, now).await? {
        return Err(ApiError::AccountDisabled);
    }
    let expires = now + state.config.sessions.max;
    let hint = address_hint(client.ip);
    let new = NewSession {
        token_hash: &hash_token(&token),
        user_id: user.id,
        kind,
        now,
        expires_at: expires,
        device_id,
        user_agent: client.user_agent.as_deref(),
        address_hint: Some(&hint),
    };
    let session_id = sessions::insert(&mut **tx, &new).await?;
    let expires_at = OffsetDateTime::from_unix_timestamp(expires).map_err(ApiError::internal)?;
    Ok(IssuedSession {
        token,
        expires_at,
        user_id: user.id,
        session_id,
        device_token: device_token(state, user.id, device_id),
    })
}

/// `POST /auth/logout`: revokes the presented session.
#[tracing::instrument(skip_all, fields(user.id = %user_id))]
pub async fn logout(state: &AppState, session: SessionId, user_id: UserId) -> Result<(), ApiError> {
    sessions::revoke(state.db.pool(), session, now()).await?;
    let event = Event::new(Kind::SignOut).user(user_id);
    audit::record(state, event.with("session", session.to_string())).await;
    Ok(())
}

/// A browser signing in again: the session its old cookie names ends, so one browser
/// holds one session.
pub async fn replace_browser_session(state: &AppState, old_cookie: &str) -> Result<(), ApiError> {
    if !old_cookie.is_empty() && old_cookie.len() <= 256 {
        sessions::revoke_cookie(state.db.pool(), &hash_token(old_cookie), now()).await?;
    }
    Ok(())
}

/// `POST /auth/logout-all`: revokes every session of the account.
#[tracing::instrument(skip_all, fields(user.id = %user_id))]
pub async fn logout_everywhere(state: &AppState, user_id: UserId) -> Result<(), ApiError> {
    let revoked = sessions::revoke_all(state.db.pool(), user_id, now()).await?;
    let event = Event::new(Kind::SignOutEverywhere).user(user_id);
    audit::record(state, event.with("sessions_ended", revoked)).await;
    Ok(())
}

/// The emailed link past a lock: makes this browser a known device of the account (the
/// password — and code — are still asked). Returns the account and the device token.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn unlock_device(state: &AppState, token: &str) -> Result<(User, String), ApiError> {
    let user_id = crate::db::tokens::consume(
        state.db.pool(),
        &hash_token(token.trim()),
        Purpose::Unlock,
        now(),
    )
    .await?
    .ok_or(ApiError::InvalidToken)?;
    tracing::Span::current().record("user.id", tracing::field::display(user_id));
    let user = users::by_id(state.db.pool(), user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let device = uuid::Uuid::new_v4().to_string();
    audit::record(state, Event::new(Kind::DeviceUnlocked).user(user_id)).await;
    Ok((user, device_token(state, user_id, &device)))
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
