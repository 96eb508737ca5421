//! `/api/v1/auth/oidc/*`: single sign-on for native apps, which receive the provider's
//! code on their own loopback redirect (RFC 8252) and exchange it here, where the
//! client's secret lives.

use imagevault_common::api::{LoginResponse, SsoExchange, SsoInfo, SsoLinkRequest};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use secrecy::ExposeSecret;

use super::auth::login_response;
use super::json;
use crate::accounts::sso::{self as sso_accounts, SsoSignIn};
use crate::db::sessions::SessionKind;
use crate::error::ApiError;
use crate::http::client::Client;
use crate::sso::{self, Exchange};
use crate::state::AppState;

/// The single sign-on routes under `/auth/oidc`.
pub fn router() -> Router {
    Router::with_path("auth/oidc")
        .get(info)
        .push(Router::with_path("exchange").post(exchange))
        .push(Router::with_path("link").post(link))
}

/// Whether single sign-on is offered here (404 when not), and the button's words. A
/// native app starts it by opening `GET /auth/oidc/start` with its loopback
/// `redirect_uri`, an S256 `code_challenge` and its `state` in the system browser.
#[endpoint(tags("auth"), responses((status_code = 200, description = "Single sign-on is offered", body = SsoInfo)))]
async fn info(state: AppState) -> Result<Json<SsoInfo>, ApiError> {
    let provider = state.sso.as_ref().ok_or(ApiError::NotFound)?;
    Ok(Json(SsoInfo {
        button_text: provider.settings().button_text.clone(),
    }))
}

/// A native app's code, its PKCE verifier and loopback redirect URI, for a session.
/// Answers like a password sign-in: 401 `mfa_required` when the account's second step
/// is due; 409 `sso_link_required` (with `link_token`) when an account has the
/// provider's email but no link yet.
#[endpoint(tags("auth"), request_body = SsoExchange, responses((status_code = 200, description = "Signed in; send the token as `Authorization: Bearer`", body = LoginResponse)))]
async fn exchange(state: AppState, req: &mut Request) -> Result<Json<LoginResponse>, ApiError> {
    if state.sso.is_none() {
        return Err(ApiError::NotFound);
    }
    let body: SsoExchange = json(req).await?;
    let client = Client::of(req, &state.config, None);
    sso_accounts::limit(&state, &client).await?;
    if !sso::is_loopback_redirect(&body.redirect_uri) {
        return Err(ApiError::BadRequest(
            "redirect_uri must be the loopback address the code was sent to, like \
             http://127.0.0.1:49152/callback."
                .into(),
        ));
    }
    if !sso::is_pkce_verifier(&body.code_verifier) {
        return Err(ApiError::BadRequest(
            "code_verifier must be 43 to 128 letters, digits or -._~ characters (RFC 7636).".into(),
        ));
    }
    if body.code.is_empty() || body.code.len() > sso::MAX_CODE {
        return Err(ApiError::BadRequest(
            "code must be the code the provider sent.".into(),
        ));
    }
    let challenge = sso::challenge_of(&body.code_verifier);
    let nonce = sso::native_nonce(state.secret_key.expose_secret(), &challenge);
    let presented = Exchange {
        code: &body.code,
        pkce_verifier: &body.code_verifier,
        redirect_uri: &body.redirect_uri,
        nonce: &nonce,
    };
    let identity = sso_accounts::identify(&state, &presented, &client).await?;
    match sso_accounts::sign_in(&state, &identity, &client, SessionKind::Bearer).await? {
        SsoSignIn::Session(session) => Ok(Json(login_response(session))),
        SsoSignIn::SecondStep { mfa_token } => Err(ApiError::MfaRequired(mfa_token)),
        SsoSignIn::LinkRequired { link_token, .. } => Err(ApiError::SsoLinkRequired(link_token)),
    }
}

/// The account's password (and code, with two-step sign-in on) for a waiting link: the
/// link is made and a session returned.
#[endpoint(tags("auth"), request_body = SsoLinkRequest, responses((status_code = 200, description = "Linked and signed in", body = LoginResponse)))]
async fn link(state: AppState, req: &mut Request) -> Result<Json<LoginResponse>, ApiError> {
    if state.sso.is_none() {
        return Err(ApiError::NotFound);
    }
    let body: SsoLinkRequest = json(req).await?;
    let client = Client::of(req, &state.config, None);
    let session = sso_accounts::confirm_link(
        &state,
        &body.link_token,
        body.password.expose_secret(),
        &body.code,
        &client,
    )
    .await?;
    Ok(Json(login_response(session)))
}
