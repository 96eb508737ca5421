//! `/api/v1/password-policy`: the password rules as the server applies them, so the
//! browser's live checklist (and any client) asks instead of keeping a copy that could
//! drift. The rules themselves are `imagevault_common::password`'s.

use imagevault_common::api::FailedRule;
use imagevault_common::password::{
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, PasswordRule, live_check,
};
use salvo::prelude::*;
use salvo_oapi::endpoint;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::json;
use crate::error::ApiError;
use crate::http::client::client_ip;
use crate::state::AppState;
use crate::throttle;

/// The policy routes.
pub fn router() -> Router {
    Router::with_path("password-policy")
        .get(policy)
        .push(Router::with_path("check").post(check))
}

/// The policy: its limits and every rule with the sentence shown for it.
#[derive(Serialize, salvo_oapi::ToSchema)]
struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values) accepted.
    min_chars: usize,
    /// Most characters accepted.
    max_chars: usize,
    /// Every rule, in the order they are listed.
    rules: Vec<FailedRule>,
}

/// `POST /password-policy/check` body.
#[derive(Deserialize, salvo_oapi::ToSchema)]
struct PasswordCheck {
    /// The candidate password (never stored or logged).
    #[salvo(schema(value_type = String))]
    password: SecretString,
    /// The account's address as typed so far; may be empty or incomplete.
    #[serde(default)]
    email: String,
}

/// The rules the candidate breaks; none means it would be accepted.
#[derive(Serialize, salvo_oapi::ToSchema)]
struct PasswordCheckResult {
    /// Every rule broken, in the policy's order.
    failed_rules: Vec<FailedRule>,
}

/// The password policy.
#[endpoint(tags("account"), responses((status_code = 200, description = "The password policy", body = PasswordPolicy)))]
async fn policy() -> Json<PasswordPolicy> {
    Json(PasswordPolicy {
        min_chars: MIN_PASSWORD_CHARS,
        max_chars: MAX_PASSWORD_CHARS,
        rules: PasswordRule::ALL
            .iter()
            .map(|rule| rule.to_failed_rule())
            .collect(),
    })
}

/// Check a candidate password against the policy (for live checklists while typing).
/// Rate-limited per client address; changes nothing.
#[endpoint(tags("account"), request_body = PasswordCheck, responses((status_code = 200, description = "The rules the password breaks", body = PasswordCheckResult)))]
async fn check(state: AppState, req: &mut Request) -> Result<Json<PasswordCheckResult>, ApiError> {
    let ip = client_ip(req, &state.config);
    throttle::check(
        &state.db,
        throttle::PASSWORD_CHECK_PER_IP,
        &throttle::ip_key(ip),
    )
    .await?;
    let body: PasswordCheck = json(req).await?;
    // Input over the maximum length is refused by the length rule before the strength
    // estimator sees it, and the body limit caps it anyway.
    let failed = live_check(body.password.expose_secret(), &body.email);
    Ok(Json(PasswordCheckResult {
        failed_rules: failed
            .into_iter()
            .map(PasswordRule::to_failed_rule)
            .collect(),
    }))
}
