//! `/api/v1/admin/*`: the admin console's JSON API, as thin adapters over
//! [`crate::admin`]. Every handler takes an [`Admin`], so everyone else gets 404.

use imagevault_common::api::{AdminUser, AdminUserChange, AdminUserList, AuditList};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use salvo_oapi::extract::{PathParam, QueryParam};

use super::json;
use crate::admin;
use crate::db::ids::UserId;
use crate::error::ApiError;
use crate::http::extract::{Admin, path_id};

/// The routes under `/admin`.
pub fn router() -> Router {
    Router::with_path("admin")
        .push(
            Router::with_path("users").get(users).push(
                Router::with_path("{id}")
                    .patch(change_user)
                    .push(Router::with_path("sign-out").post(sign_out_user)),
            ),
        )
        .push(Router::with_path("audit").get(audit))
}

/// Accounts whose address contains `query`, in address order, 50 a page: state and
/// usage, never content. Administrators only (404 for everyone else).
#[endpoint(security(("bearer" = [])), tags("admin"), responses((status_code = 200, description = "A page of accounts", body = AdminUserList)))]
async fn users(
    query: QueryParam<String, false>,
    cursor: QueryParam<String, false>,
    admin: Admin,
) -> Result<Json<AdminUserList>, ApiError> {
    let query = query.as_deref().unwrap_or_default();
    Ok(Json(
        admin::users(&admin.state, query, cursor.as_deref()).await?,
    ))
}

/// Disable (every session ends at once; sign-in answers 403 `account_disabled`) or
/// enable an account, and set its quota (`null`: the server's default).
#[endpoint(security(("bearer" = [])), tags("admin"), request_body = AdminUserChange, responses((status_code = 200, description = "The account as changed", body = AdminUser)))]
async fn change_user(
    id: PathParam<String>,
    admin: Admin,
    req: &mut Request,
) -> Result<Json<AdminUser>, ApiError> {
    let id: UserId = path_id(&id)?;
    let change: AdminUserChange = json(req).await?;
    let by = admin.acting(req);
    Ok(Json(admin::change(&admin.state, by, id, &change).await?))
}

/// End every session of an account at once.
#[endpoint(security(("bearer" = [])), tags("admin"), responses((status_code = 204, description = "Signed out everywhere")))]
async fn sign_out_user(
    id: PathParam<String>,
    admin: Admin,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let id: UserId = path_id(&id)?;
    admin::sign_out(&admin.state, admin.acting(req), id).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

/// The audit log, newest first, 50 a page; optionally one `kind` or one `user_id`.
#[endpoint(security(("bearer" = [])), tags("admin"), responses((status_code = 200, description = "A page of security events", body = AuditList)))]
async fn audit(
    kind: QueryParam<String, false>,
    user_id: QueryParam<String, false>,
    cursor: QueryParam<String, false>,
    admin: Admin,
) -> Result<Json<AuditList>, ApiError> {
    Ok(Json(
        admin::audit_log(
            &admin.state,
            kind.as_deref(),
            user_id.as_deref(),
            cursor.as_deref(),
        )
        .await?,
    ))
}
