//! HTTP handlers and the router that joins them.

use salvo::prelude::*;

/// The full router of the application.
pub fn router() -> Router {
    Router::new().push(Router::with_path("healthz").get(healthz))
}

/// Liveness: answers while the process can serve HTTP at all; load balancers use it
/// to decide whether to restart, so it checks nothing else.
#[handler]
async fn healthz(res: &mut Response) {
    res.render(Json(serde_json::json!({"status": "ok"})));
}
