//! `ALLOWED_HOSTS`: requests for other host names get 400, which defeats DNS rebinding
//! and poisoned links built from a forged `Host`.

use salvo::prelude::*;

use crate::error::ApiError;
use crate::state::AppState;

/// Refuses requests whose `Host` (without port) is not allowed.
#[handler]
pub async fn allowed_hosts(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
    ctrl: &mut FlowCtrl,
) {
    let state = AppState::from_depot(depot);
    let host = request_host(req);
    let allowed = host.as_deref().is_some_and(|h| {
        state
            .config
            .allowed_hosts
            .iter()
            .any(|a| a == "*" || a == h)
    });
    if !allowed {
        tracing::warn!(target: "security", event = "bad_host", host = host.as_deref().unwrap_or(""), "host not allowed");
        ApiError::InvalidHost.render(depot, res);
        ctrl.skip_rest();
    }
}

/// The request's host name, lower-cased, port and IPv6 brackets removed.
fn request_host(req: &Request) -> Option<String> {
    let raw = req
        .headers()
        .get(salvo::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().host().map(str::to_owned))?;
    let raw = raw.trim().to_ascii_lowercase();
    let host = if let Some(rest) = raw.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default().to_owned()
    } else {
        raw.rsplit_once(':').map_or(raw.clone(), |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h.to_owned()
            } else {
                raw.clone()
            }
        })
    };
    (!host.is_empty()).then_some(host)
}
