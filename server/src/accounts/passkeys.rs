//! Passkeys (WebAuthn): registered on a signed-in account, then signing in with no
//! password and no code — a passkey with user verification is two factors already (the
//! device, and the PIN or biometric that unlocks it).
//!
//! Sign-in uses discoverable credentials: the browser offers the passkeys it holds for
//! this site, and the answer names its account through the user handle (the account
//! id). The answer must come from a passkey registered to that very account, so an
//! assertion cannot be passed off as another user's. Every ceremony's state stays in
//! the database, never with the client, so a challenge works once, on any instance.
//!
//! The relying party is `PUBLIC_URL`'s host. WebAuthn refuses IP addresses, so a server
//! reached by address has no passkeys (and says so).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn,
    WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::limit;
use super::sign_in::{IssuedSession, passwordless_session};
use crate::audit::{self, Event, Kind};
use crate::config::Config;
use crate::crypto::{hash_token, random_token};
use crate::db::ids::{PasskeyId, UserId};
use crate::db::now;
use crate::db::passkeys::{self, NewPasskey, StoredPasskey};
use crate::db::sessions::SessionKind;
use crate::db::users::{self, User};
use crate::error::ApiError;
use crate::http::client::Client;
use crate::state::AppState;
use crate::throttle;

/// Passkeys one account may hold.
pub const MAX_PASSKEYS: i64 = 20;
/// A ceremony waits this long for the browser's answer.
const CEREMONY_TTL: i64 = 5 * 60;
/// Longest passkey name, in characters.
const NAME_MAX: usize = 60;

/// The relying party for `PUBLIC_URL`, or `None` (logged) when passkeys cannot work
/// there. In `DEBUG` any port of the host is accepted, so a development server and the
/// tests can listen on a port the URL does not name.
pub fn relying_party(config: &Config) -> Option<Webauthn> {
    let origin = Url::parse(&config.public_url).ok()?;
    let Some(url::Host::Domain(host)) = origin.host() else {
        tracing::warn!(public_url = %config.public_url, "passkeys are off: WebAuthn needs PUBLIC_URL to name the server by a domain name");
        return None;
    };
    let built = WebauthnBuilder::new(host, &origin)
        .and_then(|b| b.rp_name("ImageVault").allow_any_port(config.debug).build());
    match built {
        Ok(rp) => Some(rp),
        Err(e) => {
            tracing::warn!(error = %e, "passkeys are off: WebAuthn refused PUBLIC_URL");
            None
        }
    }
}

fn relying_party_of(state: &AppState) -> Result<&Webauthn, ApiError> {
    state.passkeys.as_deref().ok_or_else(|| {
        ApiError::Forbidden(
            "Passkeys are not available on this server: its PUBLIC_URL must name it by a \
             domain name."
                .into(),
        )
    })
}

/// `POST /me/passkeys/register/start`, for an owner already confirmed by
/// [`super::confirm_owner`]: creation options for the browser. Starting again replaces
/// a registration still waiting.
#[tracing::instrument(skip_all, fields(user.id = %user.id))]
pub async fn start_registration(
    state: &AppState,
    user: &User,
) -> Result<CreationChallengeResponse, ApiError> {
    let rp = relying_party_of(state)?;
    let existing = passkeys::list(state.db.pool(), user.id).await?;
    if existing.len() >= usize::try_from(MAX_PASSKEYS).unwrap_or(usize::MAX) {
        return Err(too_many());
    }
    let exclude = existing
        .iter()
        .map(|p| parse_passkey(p).map(|k| k.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut options, registration) = rp
        .start_passkey_registration(user.id.uuid(), &user.email, &user.email, Some(exclude))
        .map_err(ApiError::internal)?;
    require_discoverable(&mut options);
    let saved = serde_json::to_string(&registration).map_err(ApiError::internal)?;
    put_ceremony(state, &registration_key(user.id), Some(user.id), &saved).await?;
    Ok(options)
}

/// Sign-in finds the account from the passkey alone, so the passkey must live on the
/// authenticator (a discoverable credential): webauthn-rs leaves that optional.
fn require_discoverable(options: &mut CreationChallengeResponse) {
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.require_resident_key = true;
        selection.resident_key = Some(ResidentKeyRequirement::Required);
    }
}

/// `POST /me/passkeys/register/finish`: checks the browser's answer against the waiting
/// registration and stores the passkey under `name`.
#[tracing::instrument(skip_all, fields(user.id = %user.id))]
pub async fn finish_registration(
    state: &AppState,
    user: &User,
    credential: serde_json::Value,
    name: &str,
) -> Result<StoredPasskey, ApiError> {
    let rp = relying_party_of(state)?;
    let name = passkey_name(name)?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| not_an_answer())?;
    let saved = passkeys::take_ceremony(state.db.pool(), &registration_key(user.id), now())
        .await?
        .ok_or_else(|| {
            ApiError::InvalidCredential(
                "No passkey registration is waiting (each lasts five minutes). Start again.".into(),
            )
        })?;
    let registration: PasskeyRegistration =
        serde_json::from_str(&saved).map_err(ApiError::internal)?;
    let passkey = rp
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| {
            tracing::warn!(target: "security", event = "passkey_refused", error = %e, "passkey registration refused");
            ApiError::InvalidCredential("The passkey's answer could not be verified.".into())
        })?;
    if passkeys::count(state.db.pool(), user.id).await? >= MAX_PASSKEYS {
        return Err(too_many());
    }
    let created_at = now();
    let new = NewPasskey {
        user_id: user.id,
        credential_id: &URL_SAFE_NO_PAD.encode(passkey.cred_id()),
        name: &name,
        passkey: &serde_json::to_string(&passkey).map_err(ApiError::internal)?,
        created_at,
    };
    let id = passkeys::insert(state.db.pool(), &new)
        .await?
        .ok_or_else(|| ApiError::InvalidCredential("This passkey is registered already.".into()))?;
    changed(state, user, id, &name, true).await;
    Ok(StoredPasskey {
        id,
        user_id: user.id,
        name,
        passkey: String::new(),
        created_at,
        last_used_at: None,
    })
}

/// A passkey added or removed: an audit event, and a mail to the owner (a passkey
/// someone else added would sign them in for good).
async fn changed(state: &AppState, user: &User, id: PasskeyId, name: &str, added: bool) {
    let kind = if added {
        Kind::PasskeyAdded
    } else {
        Kind::PasskeyRemoved
    };
    let event = Event::new(kind)
        .user(user.id)
        .with("passkey", id.to_string());
    audit::record(state, event.with("name", name)).await;
    state
        .mailer
        .send_later(state.mailer.passkey_changed(&user.email, name, added));
}

/// The account's passkeys, oldest first.
pub async fn list(state: &AppState, user: UserId) -> Result<Vec<StoredPasskey>, ApiError> {
    Ok(passkeys::list(state.db.pool(), user).await?)
}

/// How many passkeys the account has.
pub async fn count(state: &AppState, user: UserId) -> Result<i64, ApiError> {
    Ok(passkeys::count(state.db.pool(), user).await?)
}

/// `DELETE /me/passkeys/{id}`: 404 for an id that is not one of the account's.
#[tracing::instrument(skip_all, fields(user.id = %user.id))]
pub async fn remove(state: &AppState, user: &User, id: PasskeyId) -> Result<(), ApiError> {
    let name = passkeys::list(state.db.pool(), user.id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .map(|p| p.name)
        .ok_or(ApiError::NotFound)?;
    if !passkeys::delete(state.db.pool(), user.id, id).await? {
        return Err(ApiError::NotFound);
    }
    changed(state, user, id, &name, false).await;
    Ok(())
}

/// A sign-in waiting for the browser's answer.
pub struct SignInChallenge {
    /// Names the waiting sign-in; sent back with the answer.
    pub challenge_id: String,
    /// The request options for `navigator.credentials.get()`.
    pub options: RequestChallengeResponse,
}

/// `POST /auth/passkey/start`: request options for any passkey of this site.
pub async fn start_sign_in(state: &AppState, client: &Client) -> Result<SignInChallenge, ApiError> {
    let rp = relying_party_of(state)?;
    limit(state, throttle::LOGIN_PER_IP, &throttle::ip_key(client.ip)).await?;
    let (mut options, authentication) = rp
        .start_discoverable_authentication()
        .map_err(ApiError::internal)?;
    // Asked for by a button, not offered in the email field's autofill.
    options.mediation = None;
    let challenge_id = random_token();
    let saved = serde_json::to_string(&authentication).map_err(ApiError::internal)?;
    put_ceremony(state, &sign_in_key(&challenge_id), None, &saved).await?;
    Ok(SignInChallenge {
        challenge_id,
        options,
    })
}

/// `POST /auth/passkey/finish`: the browser's answer, for a session of `kind`. Every
/// failed verification is the same 401, whatever was wrong, so the answers tell a
/// prober nothing about which accounts or passkeys exist.
#[tracing::instrument(skip_all, fields(user.id))]
pub async fn finish_sign_in(
    state: &AppState,
    challenge_id: &str,
    credential: serde_json::Value,
    client: &Client,
    kind: SessionKind,
) -> Result<IssuedSession, ApiError> {
    let rp = relying_party_of(state)?;
    limit(state, throttle::LOGIN_PER_IP, &throttle::ip_key(client.ip)).await?;
    let credential: PublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| not_an_answer())?;
    let challenge_id = challenge_id.trim();
    if challenge_id.is_empty() || challenge_id.len() > 128 {
        return Err(ApiError::InvalidCredentials);
    }
    let saved = passkeys::take_ceremony(state.db.pool(), &sign_in_key(challenge_id), now())
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let authentication: DiscoverableAuthentication =
        serde_json::from_str(&saved).map_err(ApiError::internal)?;
    let (stored, mut passkey) = answering_passkey(state, rp, &credential).await?;
    tracing::Span::current().record("user.id", tracing::field::display(stored.user_id));
    let result = rp
        .finish_discoverable_authentication_v2(&credential, authentication, &passkey)
        .map_err(|e| refused("passkey_refused", &e.to_string()))?;
    passkey.update_credential(&result);
    let user = users::by_id(state.db.pool(), stored.user_id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    if !user.verified() {
        return Err(ApiError::EmailNotVerified);
    }
    let mut tx = state.db.begin().await?;
    let record = serde_json::to_string(&passkey).map_err(ApiError::internal)?;
    if !passkeys::record_use(&mut *tx, stored.id, &stored.passkey, &record, now()).await? {
        return Err(refused(
            "passkey_raced",
            "the passkey changed during the sign-in",
        ));
    }
    let session = passwordless_session(state, &mut tx, &user, kind, client).await?;
    tx.commit().await?;
    super::sign_in::signed_in(state, &session, client.ip, "passkey").await;
    Ok(session)
}

/// The stored passkey the answer was made with — only if it belongs to the account the
/// answer names.
async fn answering_passkey(
    state: &AppState,
    rp: &Webauthn,
    credential: &PublicKeyCredential,
) -> Result<(StoredPasskey, Passkey), ApiError> {
    let (named_user, credential_id) = rp
        .identify_discoverable_authentication(credential)
        .map_err(|e| refused("passkey_refused", &e.to_string()))?;
    let stored = passkeys::by_credential(state.db.pool(), &URL_SAFE_NO_PAD.encode(credential_id))
        .await?
        .ok_or_else(|| refused("passkey_unknown", "no such passkey"))?;
    if stored.user_id.uuid() != named_user {
        return Err(refused(
            "passkey_user_mismatch",
            "the answer names another account than the passkey's",
        ));
    }
    let passkey = parse_passkey(&stored)?;
    Ok((stored, passkey))
}

fn refused(event: &'static str, why: &str) -> ApiError {
    tracing::warn!(target: "security", event, why, "passkey sign-in refused");
    ApiError::InvalidCredentials
}

fn parse_passkey(stored: &StoredPasskey) -> Result<Passkey, ApiError> {
    serde_json::from_str(&stored.passkey).map_err(ApiError::internal)
}

async fn put_ceremony(
    state: &AppState,
    key: &str,
    user: Option<UserId>,
    saved: &str,
) -> Result<(), ApiError> {
    let now = now();
    let mut tx = state.db.begin().await?;
    passkeys::put_ceremony(&mut tx, key, user, saved, now + CEREMONY_TTL, now).await?;
    tx.commit().await?;
    Ok(())
}

/// One registration waits per account.
fn registration_key(user: UserId) -> String {
    format!("register:{user}")
}

/// Only the challenge id's hash is stored, like every other token.
fn sign_in_key(challenge_id: &str) -> String {
    format!("sign-in:{}", hash_token(challenge_id))
}

/// The name trimmed; "Passkey" when empty. No control characters, at most 60.
fn passkey_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "A passkey's name cannot contain control characters.".into(),
        ));
    }
    if name.chars().count() > NAME_MAX {
        return Err(ApiError::BadRequest(format!(
            "A passkey's name can be at most {NAME_MAX} characters."
        )));
    }
    Ok(if name.is_empty() { "Passkey" } else { name }.to_owned())
}

fn not_an_answer() -> ApiError {
    ApiError::InvalidCredential(
        "`credential` is not a passkey's answer (the JSON of a WebAuthn credential).".into(),
    )
}

fn too_many() -> ApiError {
    ApiError::BadRequest(format!(
        "An account can hold {MAX_PASSKEYS} passkeys. Remove one before adding another."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(passkey_name("  Laptop  ").unwrap(), "Laptop");
        assert_eq!(passkey_name("").unwrap(), "Passkey");
        assert_eq!(passkey_name(&"é".repeat(60)).unwrap(), "é".repeat(60));
        assert!(passkey_name(&"x".repeat(61)).is_err());
        assert!(passkey_name("a\u{0}b").is_err());
        assert!(passkey_name("line\nbreak").is_err());
    }

    #[test]
    fn keys_never_hold_the_challenge_id_itself() {
        let key = sign_in_key("the-challenge");
        assert!(!key.contains("the-challenge"));
        assert_ne!(key, sign_in_key("another"));
    }
}
