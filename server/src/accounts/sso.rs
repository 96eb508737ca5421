//! Single sign-on for accounts: what a provider's verified identity may do here.
//!
//! - A link (`iss` + `sub`) signs its account in; the email the provider gives is only
//!   noted, so a changed email there never moves the account.
//! - An email that already has an account links only after that account's password
//!   (and code, when two-step sign-in is on) is given once: otherwise whoever controls
//!   an address at the provider — an administrator there, or a provider that let the
//!   address be claimed — would walk into the account.
//! - A new verified email gets an account when `OIDC_AUTO_REGISTER` allows it; the
//!   account has no password until a reset gives it one.
//! - Two-step sign-in still applies unless the ID token's `amr` says the provider asked
//!   for a second factor itself.

use imagevault_common::api::SsoLink;

use super::devices::Device;
use super::sign_in::{self, IssuedSession};
use crate::audit::{self, Event, Kind};
use crate::crypto::{hash_token, random_token};
use crate::db::ids::UserId;
use crate::db::sessions::SessionKind;
use crate::db::sso::{self as links, NewPendingLink};
use crate::db::users::{self, NewUser, User};
use crate::db::{Tx, is_unique_violation, mfa, now};
use crate::error::ApiError;
use crate::http::client::Client;
use crate::sso::{Exchange, Identity, SsoError};
use crate::state::AppState;
use crate::throttle;

/// How long a link may wait for the password, and how many tries it allows.
const LINK_TTL: i64 = 10 * 60;
const LINK_TRIES: i64 = 5;

/// Where a provider's sign-in leads.
pub enum SsoSignIn {
    /// Signed in.
    Session(IssuedSession),
    /// Two-step sign-in is on and the provider did not ask for a second factor: the
    /// code comes next, as after a password.
    SecondStep {
        /// Names the waiting second step.
        mfa_token: String,
    },
    /// An account has this email but no link: its password is asked once.
    LinkRequired {
        /// Names the waiting link (ten minutes, five tries).
        link_token: String,
        /// The account's email, to show.
        email: String,
        /// Whether a code is asked too (two-step sign-in is on).
        asks_code: bool,
    },
}

/// Single sign-on's steps (start, return, exchange, link) from one client address.
pub async fn limit(state: &AppState, client: &Client) -> Result<(), ApiError> {
    throttle::check(
        &state.db,
        throttle::SSO_PER_IP,
        &throttle::ip_key(client.ip),
    )
    .await
}

/// The identity the provider vouches for with this code, or the reason it is refused —
/// which is logged and audited, since a forged or replayed answer is an attack to see.
pub async fn identify(
    state: &AppState,
    exchange: &Exchange<'_>,
    client: &Client,
) -> Result<Identity, ApiError> {
    let provider = state.sso.as_ref().ok_or(ApiError::NotFound)?;
    match provider.identify(exchange).await {
        Ok(identity) => Ok(identity),
        Err(err) => {
            if let SsoError::Refused { reason, .. } = &err {
                let event = Event::new(Kind::SsoRefused).from(client.ip);
                audit::record(state, event.with("reason", reason.as_str())).await;
            }
            Err(err.into())
        }
    }
}

/// A sign-in refused before any exchange (a wrong or replayed `state`, an error the
/// provider sent back), audited like a refused ID token.
pub async fn refused(state: &AppState, client: &Client, reason: &str) {
    let event = Event::new(Kind::SsoRefused).from(client.ip);
    audit::record(state, event.with("reason", reason)).await;
}

/// A verified identity from the provider signs in, links, or makes an account.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn sign_in(
    state: &AppState,
    identity: &Identity,
    client: &Client,
    kind: SessionKind,
) -> Result<SsoSignIn, ApiError> {
    let now = now();
    let email = identity.email.as_str();
    let mut tx = state.db.begin().await?;
    let linked = links::use_link(&mut *tx, &identity.issuer, &identity.subject, email, now).await?;
    if let Some(user_id) = linked {
        let user = users::by_id(&mut *tx, user_id)
            .await?
            .ok_or_else(|| ApiError::internal("a link names no account"))?;
        return finish(state, tx, &user, identity, client, kind).await;
    }
    match users::by_email(&mut *tx, email).await? {
        Some(user) => {
            let link_token = random_token();
            let pending = NewPendingLink {
                token_hash: &hash_token(&link_token),
                user_id: user.id,
                issuer: &identity.issuer,
                subject: &identity.subject,
                email,
                session_kind: kind.as_str(),
                now,
                expires_at: now + LINK_TTL,
            };
            links::insert_pending_link(&mut *tx, &pending).await?;
            let asks_code = mfa::totp_enabled(&mut *tx, user.id).await?;
            tx.commit().await?;
            Ok(SsoSignIn::LinkRequired {
                link_token,
                email: user.email,
                asks_code,
            })
        }
        None if state
            .sso
            .as_ref()
            .is_some_and(|p| p.settings().auto_register) =>
        {
            let user = register(&mut tx, identity).await?;
            let outcome = finish(state, tx, &user, identity, client, kind).await?;
            let event = Event::new(Kind::Registered).user(user.id).from(client.ip);
            audit::record(state, event.with("method", "single sign-on")).await;
            let linked = linked_event(user.id, &identity.issuer, email, client);
            audit::record(state, linked).await;
            Ok(outcome)
        }
        None => Err(ApiError::SsoNoAccount),
    }
}

/// A new account for a new verified email, linked at once; no password.
async fn register(tx: &mut Tx, identity: &Identity) -> Result<User, ApiError> {
    let now = now();
    let new = NewUser {
        email: identity.email.as_str(),
        password_hash: "",
        is_admin: false,
        verified_at: Some(now),
        now,
    };
    let id = match users::insert(&mut **tx, &new).await {
        Ok(id) => id,
        // Another first sign-in of this email won the race: this one starts again.
        Err(e) if is_unique_violation(&e) => return Err(ApiError::SsoFailed(RACED)),
        Err(e) => return Err(e.into()),
    };
    links::link(
        &mut **tx,
        &identity.issuer,
        &identity.subject,
        id,
        identity.email.as_str(),
        now,
    )
    .await
    .map_err(|e| unique_is_race(&e).unwrap_or_else(|| e.into()))?;
    users::by_id(&mut **tx, id)
        .await?
        .ok_or_else(|| ApiError::internal("a new account vanished"))
}

const RACED: &str = "Another sign-in with this identity happened at the same moment. \
    Start again from the sign-in page.";

fn unique_is_race(e: &crate::db::DbError) -> Option<ApiError> {
    is_unique_violation(e).then_some(ApiError::SsoFailed(RACED))
}

/// A linked account signs in: the second step when the account has one and the provider
/// did not do its own; a session otherwise.
async fn finish(
    state: &AppState,
    mut tx: Tx,
    user: &User,
    identity: &Identity,
    client: &Client,
    kind: SessionKind,
) -> Result<SsoSignIn, ApiError> {
    tracing::Span::current().record("user.id", tracing::field::display(user.id));
    if user.disabled() {
        return Err(ApiError::AccountDisabled);
    }
    if !identity.provider_mfa && mfa::totp_enabled(&mut *tx, user.id).await? {
        let device = Device::recognise(state, user.id, client.device_token.as_deref());
        let mfa_token = sign_in::ask_second_step(&mut tx, user.id, kind, &device).await?;
        tx.commit().await?;
        return Ok(SsoSignIn::SecondStep { mfa_token });
    }
    let session = sign_in::passwordless_session(state, &mut tx, user, kind, client).await?;
    tx.commit().await?;
    sign_in::signed_in(state, &session, client.ip, "single sign-on").await;
    Ok(SsoSignIn::Session(session))
}

/// The password (and code, when two-step sign-in is on) of the account a waiting link
/// names: the link is made and the person signed in. Wrong answers count like wrong
/// passwords at sign-in, and the link allows five tries in ten minutes.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn confirm_link(
    state: &AppState,
    link_token: &str,
    password: &str,
    code: &str,
    client: &Client,
) -> Result<IssuedSession, ApiError> {
    let token = link_token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::InvalidToken);
    }
    limit(state, client).await?;
    let token_hash = hash_token(token);
    let pending = links::take_link_try(state.db.pool(), &token_hash, LINK_TRIES, now())
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let user = users::by_id(state.db.pool(), pending.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    tracing::Span::current().record("user.id", tracing::field::display(user.id));
    let device = match Device::recognise(state, user.id, client.device_token.as_deref()) {
        Device::Known(id) => Some(id),
        Device::Unknown => None,
    };
    if mfa::totp_enabled(state.db.pool(), user.id).await? {
        sign_in::recheck_password_and_code(
            state,
            &user,
            password,
            code,
            device.as_deref(),
            client.ip,
        )
        .await?;
    } else {
        sign_in::recheck_password(state, &user, password, device.as_deref(), client.ip).await?;
    }
    let kind = SessionKind::parse(&pending.session_kind).ok_or_else(|| {
        ApiError::internal(format!("stored session kind {:?}", pending.session_kind))
    })?;
    let now = now();
    let mut tx = state.db.begin().await?;
    if !links::finish_pending_link(&mut *tx, &token_hash).await? {
        return Err(ApiError::InvalidToken);
    }
    links::link(
        &mut *tx,
        &pending.issuer,
        &pending.subject,
        user.id,
        &pending.email,
        now,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::SsoFailed(
                "This account is linked to another identity at this provider already. \
                     Remove that link on your account page first.",
            )
        } else {
            e.into()
        }
    })?;
    // The provider vouched for the address, and the password proved the account.
    if !user.verified() {
        users::mark_verified(&mut *tx, user.id, now).await?;
    }
    let session = sign_in::passwordless_session(state, &mut tx, &user, kind, client).await?;
    tx.commit().await?;
    let linked = linked_event(user.id, &pending.issuer, &pending.email, client);
    audit::record(state, linked).await;
    sign_in::signed_in(state, &session, client.ip, "single sign-on (linked)").await;
    Ok(session)
}

fn linked_event(user: UserId, issuer: &str, email: &str, client: &Client) -> Event {
    Event::new(Kind::SsoLinked)
        .user(user)
        .from(client.ip)
        .with("issuer", issuer)
        .with("email", email)
}

/// The account's links, for the account page and `GET /me`.
pub async fn links(state: &AppState, user: UserId) -> Result<Vec<SsoLink>, ApiError> {
    Ok(links::links_of(state.db.pool(), user)
        .await?
        .into_iter()
        .map(|link| SsoLink {
            issuer: link.issuer,
            email: link.email,
            created_at: link.created_at,
            last_used_at: link.last_used_at,
        })
        .collect())
}

/// Removes the account's link to `issuer` — only while the account keeps another way
/// in (a password or a passkey), or the owner would lock themselves out.
#[tracing::instrument(skip_all, fields(user.id = %user.id))]
pub async fn unlink(
    state: &AppState,
    user: &User,
    issuer: &str,
    ip: std::net::IpAddr,
) -> Result<(), ApiError> {
    let passkeys = super::passkeys::count(state, user.id).await?;
    if user.password().is_none() && passkeys == 0 {
        return Err(ApiError::SsoLastWayIn);
    }
    if !links::unlink(state.db.pool(), user.id, issuer).await? {
        return Err(ApiError::NotFound);
    }
    let event = Event::new(Kind::SsoUnlinked).user(user.id).from(ip);
    audit::record(state, event.with("issuer", issuer)).await;
    Ok(())
}
