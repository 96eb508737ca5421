//! One span per request, so every log line of a request can be tied together: it
//! carries a fresh request id (also sent back as `X-Request-Id`, and named by 5xx
//! bodies so a person can quote it), the method and path, and the user once the
//! request is authenticated.
//!
//! The id is made here, never taken from the client: a client-chosen id could forge or
//! collide with another request's log lines.

use salvo::http::header::{HeaderName, HeaderValue};
use salvo::prelude::*;
use tracing::Instrument;

use crate::crypto::random_token;

/// The response header naming the request.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's id (16 URL-safe characters, 96 random bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    fn new() -> Self {
        Self(random_token()[..16].to_owned())
    }

    /// The id the span hoop put in the depot; outside a request (never in practice), a
    /// fresh one so an error can still be quoted.
    pub fn of(depot: &Depot) -> Self {
        depot
            .get::<Self>(Self::KEY)
            .map_or_else(|_| Self::new(), Clone::clone)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    const KEY: &'static str = "imagevault.request_id";
}

/// Runs the rest of the request inside its span and names it on the response.
#[handler]
pub async fn request_span(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
    ctrl: &mut FlowCtrl,
) {
    let id = RequestId::new();
    let span = tracing::info_span!(
        "request",
        request.id = id.as_str(),
        method = %req.method(),
        path = req.uri().path(),
        user.id = tracing::field::Empty,
    );
    depot.insert(RequestId::KEY, id.clone());
    ctrl.call_next(req, depot, res).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
}
