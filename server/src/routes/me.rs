//! `/api/v1/me/mfa/*`, `/api/v1/me/sessions` and `/api/v1/me/activity`: two-step sign-in,
//! the account's sessions and its security events, as thin JSON adapters.

use imagevault_common::api::{
    AuditList, CodeRequest, PasswordAndCode, RecoveryCodes, SessionItem, SessionList, TotpEnrolment,
};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use salvo_oapi::extract::{PathParam, QueryParam};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use super::json;
use crate::accounts::{self, two_factor};
use crate::db::ids::SessionId;
use crate::db::sessions::{SessionInfo, SessionKind};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, path_id};

/// The routes under `/me`.
pub fn router() -> Router {
    Router::with_path("me")
        .push(super::passkeys::account_router())
        .push(
            Router::with_path("mfa")
                .push(
                    Router::with_path("totp")
                        .post(start_totp)
                        .delete(disable_totp)
                        .push(Router::with_path("confirm").post(confirm_totp)),
                )
                .push(Router::with_path("recovery-codes").post(replace_recovery_codes)),
        )
        .push(Router::with_path("activity").get(activity))
        .push(
            Router::with_path("sessions")
                .get(sessions)
                .push(Router::with_path("{id}").delete(revoke_session)),
        )
}

/// Start turning on two-step sign-in: a new secret for an authenticator app, pending
/// until a code from it is confirmed. Starting again replaces a pending secret. The
/// password is asked first (`code` may be left out): with a stolen session alone,
/// someone could otherwise turn it on with their own phone and lock the owner out.
#[endpoint(security(("bearer" = [])), tags("account"), request_body = PasswordAndCode, responses((status_code = 200, description = "The secret, its otpauth URI and a QR code (SVG)", body = TotpEnrolment)))]
async fn start_totp(user: AuthUser, req: &mut Request) -> Result<Json<TotpEnrolment>, ApiError> {
    let body: PasswordAndCode = json(req).await?;
    if accounts::two_factor::status(&user.state, user.caller.user_id)
        .await?
        .totp
    {
        return Err(ApiError::MfaAlreadyEnabled);
    }
    let account = accounts::confirm_owner(
        &user.state,
        user.asker(req),
        body.password.expose_secret(),
        &body.code,
    )
    .await?;
    let enrolment = two_factor::start(&user.state, &account).await?;
    Ok(Json(TotpEnrolment {
        secret: enrolment.secret,
        otpauth_uri: enrolment.otpauth_uri,
        qr_svg: enrolment.qr_svg,
    }))
}

/// Confirm with a code from the app: two-step sign-in is on, and the ten recovery codes
/// are shown this once.
#[endpoint(security(("bearer" = [])), tags("account"), request_body = CodeRequest, responses((status_code = 200, description = "On; keep these codes somewhere safe", body = RecoveryCodes)))]
async fn confirm_totp(user: AuthUser, req: &mut Request) -> Result<Json<RecoveryCodes>, ApiError> {
    let body: CodeRequest = json(req).await?;
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    let codes = two_factor::confirm(&user.state, &account, &body.code).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turn two-step sign-in off: the password and a code (or a recovery code).
#[endpoint(security(("bearer" = [])), tags("account"), request_body = PasswordAndCode, responses((status_code = 204, description = "Off")))]
async fn disable_totp(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let body: PasswordAndCode = json(req).await?;
    let asker = user.asker(req);
    accounts::disable_two_step(
        &user.state,
        asker,
        body.password.expose_secret(),
        &body.code,
    )
    .await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

/// Ten new recovery codes; the old ones stop working.
#[endpoint(security(("bearer" = [])), tags("account"), request_body = PasswordAndCode, responses((status_code = 200, description = "The new codes, shown once", body = RecoveryCodes)))]
async fn replace_recovery_codes(
    user: AuthUser,
    req: &mut Request,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let body: PasswordAndCode = json(req).await?;
    let asker = user.asker(req);
    let codes = accounts::new_recovery_codes(
        &user.state,
        asker,
        body.password.expose_secret(),
        &body.code,
    )
    .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// The account's live sessions — browsers and apps — most recently used first.
#[endpoint(security(("bearer" = [])), tags("account"), responses((status_code = 200, description = "Live sessions", body = SessionList)))]
async fn sessions(user: AuthUser) -> Result<Json<SessionList>, ApiError> {
    let list = accounts::list_sessions(&user.state, user.caller.user_id).await?;
    let items = list
        .into_iter()
        .map(|s| session_item(s, user.caller.session_id))
        .collect::<Result<_, _>>()?;
    Ok(Json(SessionList { items }))
}

/// A session of the list, as the API shows it.
pub fn session_item(info: SessionInfo, current: SessionId) -> Result<SessionItem, ApiError> {
    let time = |t| OffsetDateTime::from_unix_timestamp(t).map_err(ApiError::internal);
    let kind = match SessionKind::parse(&info.kind) {
        Some(SessionKind::Cookie) => "browser",
        Some(SessionKind::Bearer) => "api",
        None => return Err(ApiError::internal(format!("session kind {:?}", info.kind))),
    };
    Ok(SessionItem {
        id: info.id.uuid(),
        kind: kind.into(),
        created_at: time(info.created_at)?,
        last_seen_at: time(info.last_seen_at)?,
        user_agent: info.user_agent,
        address_hint: info.address_hint,
        current: info.id == current,
    })
}

/// End one session: its token or cookie stops working at once, on every instance.
#[endpoint(security(("bearer" = [])), tags("account"), responses((status_code = 204, description = "Ended")))]
async fn revoke_session(
    id: PathParam<String>,
    user: AuthUser,
    res: &mut Response,
) -> Result<(), ApiError> {
    let id: SessionId = path_id(&id)?;
    accounts::revoke_session(&user.state, user.caller.user_id, id).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

/// The caller's own security events, newest first, 50 a page: sign-ins and failures,
/// lockouts, two-step and passkey changes, sessions ended, and what administrators did
/// to the account.
#[endpoint(security(("bearer" = [])), tags("account"), responses((status_code = 200, description = "A page of the caller's security events", body = AuditList)))]
async fn activity(
    cursor: QueryParam<String, false>,
    user: AuthUser,
) -> Result<Json<AuditList>, ApiError> {
    Ok(Json(
        crate::admin::activity(&user.state, user.caller.user_id, cursor.as_deref()).await?,
    ))
}
