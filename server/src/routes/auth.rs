//! `/api/v1/auth/*` and `/api/v1/me`: thin JSON adapters over [`crate::accounts`].

use imagevault_common::api::{
    Credentials, EmailRequest, LoginResponse, Me, MfaLoginRequest, MfaStatus, StatusResponse,
    TokenRequest, Usage,
};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;

use super::json;
use crate::accounts::{self, IssuedSession, SignIn};
use crate::db::sessions::SessionKind;
use crate::error::ApiError;
use crate::http::client::{Client, client_ip};
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
                .push(Router::with_path("login/mfa").post(login_mfa))
                .push(super::passkeys::sign_in_router())
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

/// Sign in. With two-step sign-in on, a right password is answered 401 `mfa_required`
/// with an `mfa_token` for `POST /auth/login/mfa`.
#[endpoint(tags("auth"), request_body = Credentials, responses((status_code = 200, description = "Signed in; send the token as `Authorization: Bearer`", body = LoginResponse)))]
async fn login(state: AppState, req: &mut Request) -> Result<Json<LoginResponse>, ApiError> {
    let body: Credentials = json(req).await?;
    let device = body.device_token.map(|t| t.expose_secret().to_owned());
    let client = Client::of(req, &state.config, device);
    let outcome = accounts::login(
        &state,
        &body.email,
        body.password.expose_secret(),
        &client,
        SessionKind::Bearer,
    )
    .await?;
    match outcome {
        SignIn::Session(session) => Ok(Json(login_response(session))),
        SignIn::SecondStep { mfa_token } => Err(ApiError::MfaRequired(mfa_token)),
    }
}

/// The second step of a sign-in: a code from the authenticator app or a recovery code.
#[endpoint(tags("auth"), request_body = MfaLoginRequest, responses((status_code = 200, description = "Signed in", body = LoginResponse)))]
async fn login_mfa(state: AppState, req: &mut Request) -> Result<Json<LoginResponse>, ApiError> {
    let body: MfaLoginRequest = json(req).await?;
    let client = Client::of(req, &state.config, None);
    let session = accounts::login_second_step(&state, &body.mfa_token, &body.code, &client).await?;
    Ok(Json(login_response(session)))
}

pub(super) fn login_response(session: IssuedSession) -> LoginResponse {
    LoginResponse {
        token: session.token,
        expires_at: session.expires_at,
        device_token: session.device_token,
    }
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
    let mfa = accounts::two_factor::status(&user.state, account.id).await?;
    let (usage, quota) = crate::images::usage(&user.state, account.id).await?;
    Ok(Json(Me {
        id: account.id.uuid(),
        email: account.email,
        created_at: OffsetDateTime::from_unix_timestamp(account.created_at)
            .map_err(ApiError::internal)?,
        mfa: MfaStatus {
            totp: mfa.totp,
            passkeys: u32::try_from(mfa.passkeys).unwrap_or(0),
            recovery_codes_left: u32::try_from(mfa.recovery_codes_left).unwrap_or(0),
        },
        usage: Usage {
            bytes_used: u64::try_from(usage.bytes_used).unwrap_or(0),
            quota_bytes: quota,
            image_count: u64::try_from(usage.image_count).unwrap_or(0),
        },
        sso: accounts::sso::links(&user.state, account.id).await?,
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
    let asker = user.asker(req);
    accounts::delete_account(&user.state, asker, password).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}
