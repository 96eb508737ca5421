//! Liveness and readiness probes.

use salvo::prelude::*;

use crate::state::AppState;

/// Liveness: answers while the process can serve HTTP at all; load balancers use it to
/// decide whether to restart, so it checks nothing else.
#[handler]
pub async fn healthz(res: &mut Response) {
    res.render(Json(serde_json::json!({"status": "ok"})));
}

/// Readiness: answers 200 only when the database and the blob store answer, so a load
/// balancer sends no traffic to an instance that would fail it.
#[handler]
pub async fn readyz(state: AppState, res: &mut Response) {
    if state.ready().await {
        res.render(Json(serde_json::json!({"status": "ready"})));
    } else {
        res.status_code(StatusCode::SERVICE_UNAVAILABLE);
        res.render(Json(serde_json::json!({"status": "unavailable"})));
    }
}
