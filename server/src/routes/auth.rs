//! `/api/v1/auth/*` and `/api/v1/me`: thin JSON adapters over [`crate::accounts`].

use imagevault_common::api::{
    Credentials, EmailRequest, LoginResponse, Me, StatusResponse, TokenRequest,
};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;

use super::json;
use crate::accounts;
use crate::db::sessions::SessionKind;
use crate::error::ApiError;
use crate::http::client::client_ip;
use crate::http::extract::AuthUser;
use crate::state::AppState;

/// The auth routes.
pub fn router() -> Router {
    Router::new()
        .push(
            Router::with_path("auth")
                .push(Router::with_path("register").post(register))
                .push(Router::with_path("verify").post(verify))
                .push(Router::with_path("resend-verification").post(resend_verification))
                .push(Router::with_path("login").post(login))
                .push(Router::with_path("logout").post(logout))
                .push(Router::with_path("logout-all").post(logout_all))
                .push(Router::with_path("forgot-password").post(forgot_password))
                .push(Router::with_path("reset-password").post(reset_password)),
        )
        .push(Router::with_path("me").get(me).delete(delete_me))
}

fn accepted(res: &mut Response, status: &str) {
    res.status_code(StatusCode::ACCEPTED);
    res.render(Json(StatusResponse {
        status: status.into(),
    }));
}

#[endpoint(tags("auth"), request_body = Credentials, responses((status_code = 202, description = "Verification email sent (the same answer whether or not the address has an account)", body = StatusResponse)))]
async fn register(state: AppState, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let body: Credentials = json(req).await?;
    accounts::register(
        &state,
        &body.email,
        body.password.expose_secret(),
        client_ip(req, &state.config),
    )
    .await?;
    accepted(res, "verification_sent");
    Ok(())
}

#[endpoint(tags("auth"), request_body = TokenRequest, responses((status_code = 200, description = "Email verified", body = StatusResponse)))]
async fn verify(state: AppState, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let body: TokenRequest = json(req).await?;
    accounts::verify_email(&state, &body.token).await?;
    res.render(Json(StatusResponse {
        status: "verified".into(),
    }));
    Ok(())
}

#[endpoint(tags("auth"), request_body = EmailRequest, responses((status_code = 202, description = "Sent if the address has an unverified account", body = StatusResponse)))]
async fn resend_verification(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let body: EmailRequest = json(req).await?;
    accounts::resend_verification(&state, &body.email, client_ip(req, &state.config)).await?;
    accepted(res, "verification_sent");
    Ok(())
}

#[endpoint(tags("auth"), request_body = Credentials, responses((status_code = 200, description = "Signed in; send the token as `Authorization: Bearer`", body = LoginResponse)))]
async fn login(state: AppState, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let body: Credentials = json(req).await?;
    let ip = client_ip(req, &state.config);
    let session = accounts::login(
        &state,
        &body.email,
        body.password.expose_secret(),
        ip,
        SessionKind::Bearer,
    )
    .await?;
    res.render(Json(LoginResponse {
        token: session.token,
        expires_at: session.expires_at,
    }));
    Ok(())
}

#[endpoint(security(("bearer" = [])), tags("auth"), responses((status_code = 204, description = "This session is revoked")))]
async fn logout(user: AuthUser, res: &mut Response) -> Result<(), ApiError> {
    let AuthUser { state, caller } = user;
    accounts::logout(&state, caller.session_id, caller.user_id).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

#[endpoint(security(("bearer" = [])), tags("auth"), responses((status_code = 204, description = "Every session of the account is revoked")))]
async fn logout_all(user: AuthUser, res: &mut Response) -> Result<(), ApiError> {
    accounts::logout_everywhere(&user.state, user.caller.user_id).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

#[endpoint(tags("auth"), request_body = EmailRequest, responses((status_code = 202, description = "A reset link is sent if the address has an account", body = StatusResponse)))]
async fn forgot_password(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let body: EmailRequest = json(req).await?;
    accounts::forgot_password(&state, &body.email, client_ip(req, &state.config)).await?;
    accepted(res, "reset_sent");
    Ok(())
}

/// `POST /auth/reset-password` body.
#[derive(Deserialize, salvo_oapi::ToSchema)]
struct ResetRequest {
    /// The token from the emailed link.
    token: String,
    /// The new password.
    #[salvo(schema(value_type = String))]
    password: SecretString,
}

#[endpoint(tags("auth"), request_body = ResetRequest, responses((status_code = 200, description = "Password changed; every session revoked", body = StatusResponse)))]
async fn reset_password(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let body: ResetRequest = json(req).await?;
    accounts::reset_password(&state, &body.token, body.password.expose_secret()).await?;
    res.render(Json(StatusResponse {
        status: "password_reset".into(),
    }));
    Ok(())
}

#[endpoint(security(("bearer" = [])), tags("account"), responses((status_code = 200, description = "The signed-in account", body = Me)))]
async fn me(user: AuthUser) -> Result<Json<Me>, ApiError> {
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    Ok(Json(Me {
        id: account.id.uuid(),
        email: account.email,
        created_at: OffsetDateTime::from_unix_timestamp(account.created_at)
            .map_err(ApiError::internal)?,
    }))
}

/// `DELETE /me` body.
#[derive(Deserialize, salvo_oapi::ToSchema)]
struct PasswordRequest {
    /// The account's current password, to confirm.
    #[salvo(schema(value_type = String))]
    password: SecretString,
}

/// Delete the account for good: its key is destroyed first (nothing stored for it can
/// be decrypted afterwards), then its images, sessions and the account itself.
#[endpoint(security(("bearer" = [])), tags("account"), request_body = PasswordRequest, responses((status_code = 204, description = "The account, its key, images and sessions are gone")))]
async fn delete_me(user: AuthUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let body: PasswordRequest = json(req).await?;
    let password = body.password.expose_secret();
    let ip = client_ip(req, &user.state.config);
    accounts::delete_account(&user.state, user.caller.user_id, password, ip).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}
