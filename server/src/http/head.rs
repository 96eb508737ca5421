//! `HEAD` is `GET` without the body (RFC 9110 §9.3.2), so every `GET` route answers it.
//! Routes declare `GET` only (the OpenAPI document lists them once); the root router's
//! [`HeadAsGet`] filter lets a `HEAD` request match them, and [`restore_head`] puts the
//! method back after the handler, so salvo sends the headers alone.

use salvo::http::Method;
use salvo::http::header::{CONTENT_LENGTH, HeaderValue};
use salvo::prelude::*;
use salvo::routing::{Filter, PathState};

/// Lets `HEAD` requests match `GET` routes; matches every request itself.
#[derive(Debug)]
pub struct HeadAsGet;

/// Marks a request that arrived as `HEAD`.
#[derive(Clone, Copy)]
struct WasHead;

#[async_trait]
impl Filter for HeadAsGet {
    async fn filter(&self, req: &mut Request, _path: &mut PathState<'_>) -> bool {
        if req.method() == Method::HEAD {
            *req.method_mut() = Method::GET;
            req.extensions_mut().insert(WasHead);
        }
        true
    }

    /// Salvo probes the other methods of a path to tell 405 from 404; this filter
    /// stands in no method's way.
    async fn filter_for_method(
        &self,
        _req: &mut Request,
        _path: &mut PathState<'_>,
        _method: &Method,
    ) -> Option<bool> {
        Some(true)
    }
}

/// After the handler, a request that arrived as `HEAD` is one again, so salvo drops its
/// body and only the headers are sent — with the `Content-Length` the body had, which
/// the transport can no longer work out once the body is gone.
#[handler]
pub async fn restore_head(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
    ctrl: &mut FlowCtrl,
) {
    ctrl.call_next(req, depot, res).await;
    if req.extensions().get::<WasHead>().is_some() {
        *req.method_mut() = Method::HEAD;
        if let Some(length) = res.body.size()
            && !res.headers().contains_key(CONTENT_LENGTH)
        {
            res.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
    }
}
