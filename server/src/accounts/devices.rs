//! Devices and their sessions: the signed device token that lets a browser or app that
//! has signed in before keep signing in while strangers are locked out (OWASP "device
//! cookies"), and the list of sessions a person can review and end.

use secrecy::ExposeSecret;

use crate::audit::{self, Event, Kind};
use crate::crypto::{same, sign};
use crate::db::ids::{SessionId, UserId};
use crate::db::now;
use crate::db::sessions::{self, SessionInfo};
use crate::error::ApiError;
use crate::state::AppState;

/// A device that has signed in to the account before, or one that has not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// Presented a valid device token of this account: its failures are counted apart
    /// from everyone else's.
    Known(String),
    /// Anyone else: shares the account's failure count and lockout.
    Unknown,
}

impl Device {
    /// Recognises `presented` as a device token of `user`; anything else (no token,
    /// another account's, forged) is an unknown device.
    pub fn recognise(state: &AppState, user: UserId, presented: Option<&str>) -> Self {
        let Some((device, mac)) = presented.and_then(|t| t.split_once('.')) else {
            return Self::Unknown;
        };
        if uuid::Uuid::try_parse(device).is_ok() && same(mac, &mac_of(state, user, device)) {
            Self::Known(device.to_owned())
        } else {
            Self::Unknown
        }
    }

    /// The device's id: its own when known, a fresh one for a device signing in for
    /// the first time.
    pub fn id_or_new(&self) -> String {
        match self {
            Self::Known(id) => id.clone(),
            Self::Unknown => uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// The token a device presents from now on: its id and an HMAC binding it to the
/// account, so it cannot be forged or moved to another account.
pub fn device_token(state: &AppState, user: UserId, device: &str) -> String {
    format!("{device}.{}", mac_of(state, user, device))
}

fn mac_of(state: &AppState, user: UserId, device: &str) -> String {
    sign(
        state.secret_key.expose_secret().as_bytes(),
        format!("device:{user}:{device}").as_bytes(),
    )
}

/// `GET /me/sessions`: the account's live sessions, most recently used first.
pub async fn list_sessions(state: &AppState, user: UserId) -> Result<Vec<SessionInfo>, ApiError> {
    Ok(sessions::list(state.db.pool(), user, now(), state.config.sessions.idle).await?)
}

/// `DELETE /me/sessions/{id}`: ends one of the account's sessions at once; 404 for a
/// session that is not the caller's (or is already over).
#[tracing::instrument(skip_all, fields(user.id = %user))]
pub async fn revoke_session(state: &AppState, user: UserId, id: SessionId) -> Result<(), ApiError> {
    if !sessions::revoke_own(state.db.pool(), user, id, now()).await? {
        return Err(ApiError::NotFound);
    }
    let event = Event::new(Kind::SessionRevoked).user(user);
    audit::record(state, event.with("session", id.to_string())).await;
    Ok(())
}
