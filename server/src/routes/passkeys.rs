//! `/api/v1/me/passkeys/*` and `/api/v1/auth/passkey/*`: passkeys as thin JSON adapters
//! over [`crate::accounts::passkeys`]. The WebAuthn options go out as the browser's
//! `publicKey` member, so a page passes them to `navigator.credentials` as they are
//! (after decoding the base64url fields).

use imagevault_common::api::{
    LoginResponse, PasskeyItem, PasskeyList, PasskeyRegistration, PasskeySignIn, PasswordAndCode,
};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use salvo_oapi::extract::PathParam;
use secrecy::ExposeSecret;
use serde::Serialize;
use time::OffsetDateTime;

use super::auth::login_response;
use super::json;
use crate::accounts::{self, passkeys};
use crate::db::ids::PasskeyId;
use crate::db::passkeys::StoredPasskey;
use crate::db::sessions::SessionKind;
use crate::error::ApiError;
use crate::http::client::Client;
use crate::http::extract::{AuthUser, path_id};
use crate::state::AppState;

/// `/me/passkeys…`.
pub fn account_router() -> Router {
    Router::with_path("passkeys")
        .get(list)
        .push(Router::with_path("register/start").post(register_start))
        .push(Router::with_path("register/finish").post(register_finish))
        .push(Router::with_path("{id}").delete(remove))
}

/// `/auth/passkey/…`.
pub fn sign_in_router() -> Router {
    Router::with_path("passkey")
        .push(Router::with_path("start").post(sign_in_start))
        .push(Router::with_path("finish").post(sign_in_finish))
}

/// WebAuthn options, as `navigator.credentials.create()` or `.get()` takes them.
#[derive(Serialize, salvo_oapi::ToSchema)]
struct Options {
    /// `PublicKeyCredentialCreationOptions` or `…RequestOptions`; binary fields are
    /// base64url.
    #[serde(rename = "publicKey")]
    #[salvo(schema(value_type = Object))]
    public_key: serde_json::Value,
}

/// The answer to `POST /auth/passkey/start`.
#[derive(Serialize, salvo_oapi::ToSchema)]
struct SignInOptions {
    /// Send back with the browser's answer (works once, for five minutes).
    challenge_id: String,
    /// `PublicKeyCredentialRequestOptions`; binary fields are base64url.
    #[serde(rename = "publicKey")]
    #[salvo(schema(value_type = Object))]
    public_key: serde_json::Value,
}

/// Start adding a passkey: creation options for `navigator.credentials.create()`.
/// The password (and a code, with two-step sign-in on) is asked first: a passkey signs
/// in without either, so a stolen session alone must not be able to add one. Starting
/// again replaces a registration still waiting.
#[endpoint(security(("bearer" = [])), tags("account"), request_body = PasswordAndCode, responses((status_code = 200, description = "Creation options (five minutes)", body = Options)))]
async fn register_start(user: AuthUser, req: &mut Request) -> Result<Json<Options>, ApiError> {
    let body: PasswordAndCode = json(req).await?;
    let asker = user.asker(req);
    let account = accounts::confirm_owner(
        &user.state,
        asker,
        body.password.expose_secret(),
        &body.code,
    )
    .await?;
    let options = passkeys::start_registration(&user.state, &account).await?;
    Ok(Json(Options {
        public_key: serde_json::to_value(options.public_key).map_err(ApiError::internal)?,
    }))
}

/// Finish adding a passkey with the browser's answer and a name for it.
#[endpoint(security(("bearer" = [])), tags("account"), request_body = PasskeyRegistration, responses((status_code = 201, description = "Added", body = PasskeyItem)))]
async fn register_finish(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let body: PasskeyRegistration = json(req).await?;
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    let stored =
        passkeys::finish_registration(&user.state, &account, body.credential, &body.name).await?;
    res.status_code(StatusCode::CREATED);
    res.render(Json(passkey_item(stored)?));
    Ok(())
}

/// The account's passkeys, oldest first.
#[endpoint(security(("bearer" = [])), tags("account"), responses((status_code = 200, description = "Passkeys", body = PasskeyList)))]
async fn list(user: AuthUser) -> Result<Json<PasskeyList>, ApiError> {
    let items = passkeys::list(&user.state, user.caller.user_id)
        .await?
        .into_iter()
        .map(passkey_item)
        .collect::<Result<_, _>>()?;
    Ok(Json(PasskeyList { items }))
}

/// A passkey as the API shows it.
pub fn passkey_item(stored: StoredPasskey) -> Result<PasskeyItem, ApiError> {
    let time = |t| OffsetDateTime::from_unix_timestamp(t).map_err(ApiError::internal);
    Ok(PasskeyItem {
        id: stored.id.uuid(),
        name: stored.name,
        created_at: time(stored.created_at)?,
        last_used_at: stored.last_used_at.map(time).transpose()?,
    })
}

/// Remove a passkey: it can no longer sign in.
#[endpoint(security(("bearer" = [])), tags("account"), responses((status_code = 204, description = "Removed")))]
async fn remove(id: PathParam<String>, user: AuthUser, res: &mut Response) -> Result<(), ApiError> {
    let id: PasskeyId = path_id(&id)?;
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    passkeys::remove(&user.state, &account, id).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

/// Start a passkey sign-in: request options for `navigator.credentials.get()`, for
/// any passkey of this site (the answer names the account).
#[endpoint(tags("auth"), responses((status_code = 200, description = "Request options and the challenge id (five minutes)", body = SignInOptions)))]
async fn sign_in_start(
    state: AppState,
    req: &mut Request,
) -> Result<Json<SignInOptions>, ApiError> {
    let client = Client::of(req, &state.config, None);
    let challenge = passkeys::start_sign_in(&state, &client).await?;
    Ok(Json(SignInOptions {
        challenge_id: challenge.challenge_id,
        public_key: serde_json::to_value(challenge.options.public_key)
            .map_err(ApiError::internal)?,
    }))
}

/// Finish a passkey sign-in: no password and no code are asked (the passkey verified
/// its user).
#[endpoint(tags("auth"), request_body = PasskeySignIn, responses((status_code = 200, description = "Signed in", body = LoginResponse)))]
async fn sign_in_finish(
    state: AppState,
    req: &mut Request,
) -> Result<Json<LoginResponse>, ApiError> {
    let body: PasskeySignIn = json(req).await?;
    let client = Client::of(req, &state.config, None);
    let session = passkeys::finish_sign_in(
        &state,
        &body.challenge_id,
        body.credential,
        &client,
        SessionKind::Bearer,
    )
    .await?;
    Ok(Json(login_response(session)))
}
