//! Prometheus metrics, served at `GET /metrics` to a scraper holding `METRICS_TOKEN`
//! (404 to everyone else, and to everyone when it is unset).
//!
//! Each application has its own registry (tests run several in one process). Route
//! labels are the request path with ids replaced by `{id}`. A path becomes a label only
//! once a request to it succeeded (only real routes succeed); until then, and for every
//! path that never does, its requests count as `unmatched`. Methods outside the standard
//! ones count as `other`, and the labels are capped, so no client can grow the scrape
//! without bound.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use salvo::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use salvo::http::{Method, StatusCode};
use salvo::prelude::*;
use secrecy::ExposeSecret;

use crate::audit::Kind;
use crate::db::Db;
use crate::error::ApiError;
use crate::http::auth::same;
use crate::image_cache::ImageCache;
use crate::state::AppState;
use crate::vault::blob::BlobKind;

/// Most distinct route labels; later ones are counted as `other`.
const MAX_ROUTES: usize = 200;

/// The metric families.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    uploads: IntCounterVec,
    sign_ins: IntCounterVec,
    slot_wait: Histogram,
    image_cache: IntCounterVec,
    image_cache_bytes: IntGauge,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    routes: Mutex<HashSet<String>>,
}

impl Metrics {
    /// A fresh registry with every family registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "imagevault_http_requests_total",
                "HTTP requests answered, by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "imagevault_http_request_duration_seconds",
                "Time from request to response, by route and method.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        let uploads = IntCounterVec::new(
            Opts::new(
                "imagevault_uploads_total",
                "Uploaded files: `accepted`, or the error code they were refused with.",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let sign_ins = IntCounterVec::new(
            Opts::new(
                "imagevault_sign_ins_total",
                "Sign-in attempts by outcome: success, failure, lockout.",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let slot_wait = Histogram::with_opts(
            HistogramOpts::new(
                "imagevault_upload_slot_wait_seconds",
                "Time uploads waited for a free upload slot (10 s is the deadline).",
            )
            .buckets(vec![0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )
        .expect("valid metric");
        let image_cache = IntCounterVec::new(
            Opts::new(
                "imagevault_image_cache_lookups_total",
                "Fetches of decrypted images and thumbnails and of listing pages, by kind \
                 (`image`, `thumbnail`, `listing_page`) and `hit` or `miss`.",
            ),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        let image_cache_bytes = IntGauge::new(
            "imagevault_image_cache_bytes",
            "Memory the image cache holds now (IMAGE_CACHE_BYTES bounds it).",
        )
        .expect("valid metric");
        let pool_size = IntGauge::new(
            "imagevault_db_pool_connections",
            "Database connections open.",
        )
        .expect("valid metric");
        let pool_idle = IntGauge::new(
            "imagevault_db_pool_idle_connections",
            "Database connections open and idle.",
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(uploads.clone()),
            Box::new(sign_ins.clone()),
            Box::new(slot_wait.clone()),
            Box::new(image_cache.clone()),
            Box::new(image_cache_bytes.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_idle.clone()),
        ] {
            registry.register(collector).expect("each family once");
        }
        Self {
            registry,
            requests,
            latency,
            uploads,
            sign_ins,
            slot_wait,
            image_cache,
            image_cache_bytes,
            pool_size,
            pool_idle,
            routes: Mutex::new(HashSet::new()),
        }
    }

    /// One upload's outcome: accepted, or refused with its error code.
    pub fn upload(&self, outcome: Result<(), &ApiError>) {
        let label = match outcome {
            Ok(()) => "accepted",
            Err(e) => e.code().as_str(),
        };
        self.uploads.with_label_values(&[label]).inc();
    }

    /// A security event that is a sign-in outcome.
    pub fn security_event(&self, kind: Kind) {
        let outcome = match kind {
            Kind::SignIn => "success",
            Kind::SignInFailed => "failure",
            Kind::Lockout => "lockout",
            _ => return,
        };
        self.sign_ins.with_label_values(&[outcome]).inc();
    }

    /// How long an upload waited for its slot.
    pub fn slot_waited(&self, waited: Duration) {
        self.slot_wait.observe(waited.as_secs_f64());
    }

    /// One look into the image cache.
    pub fn image_cache_lookup(&self, kind: BlobKind, hit: bool) {
        let kind = match kind {
            BlobKind::Image => "image",
            BlobKind::Thumbnail => "thumbnail",
        };
        self.cache_lookup(kind, hit);
    }

    /// One look for a listing page in the image cache.
    pub fn listing_page_lookup(&self, hit: bool) {
        self.cache_lookup("listing_page", hit);
    }

    fn cache_lookup(&self, kind: &str, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.image_cache.with_label_values(&[kind, outcome]).inc();
    }

    fn request(&self, path: &str, method: &Method, status: StatusCode, took: Duration) {
        let route = self.route_label(path, status);
        let method = method_label(method);
        self.requests
            .with_label_values(&[&route, method, status.as_str()])
            .inc();
        self.latency
            .with_label_values(&[&route, method])
            .observe(took.as_secs_f64());
    }

    /// `path` with ids as `{id}`, once a request to it has succeeded; `unmatched`
    /// before that, and `other` past [`MAX_ROUTES`] labels.
    fn route_label(&self, path: &str, status: StatusCode) -> String {
        let route = route_of(path);
        let mut seen = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(&route) {
            return route;
        }
        let succeeded = status.is_success() || status.is_redirection();
        if !succeeded {
            "unmatched".into()
        } else if seen.len() < MAX_ROUTES {
            seen.insert(route.clone());
            route
        } else {
            "other".into()
        }
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, db: &Db, cache: &ImageCache) -> String {
        self.image_cache_bytes
            .set(i64::try_from(cache.bytes_held()).unwrap_or(i64::MAX));
        self.pool_size.set(i64::from(db.pool().size()));
        self.pool_idle
            .set(i64::try_from(db.pool().num_idle()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The path with every segment that is a UUID (or a static asset's name) as `{id}`.
fn route_of(path: &str) -> String {
    let mut parts = Vec::new();
    let mut previous = "";
    for segment in path.split('/') {
        let id = uuid::Uuid::try_parse(segment).is_ok()
            || (previous == "static" && !segment.is_empty())
            || is_token(segment);
        parts.push(if id { "{id}" } else { segment });
        previous = segment;
    }
    let route = parts.join("/");
    match route.char_indices().nth(120) {
        Some((cut, _)) => route[..cut].to_owned(),
        None => route,
    }
}

/// A share link's token (or any long random name): 32 or more URL-safe characters.
fn is_token(segment: &str) -> bool {
    segment.len() >= 32
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The standard methods by name; any other as `other`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map_or("other", |m| m.as_str())
}

/// The hoop that times and counts every request.
#[handler]
pub async fn observe(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
    ctrl: &mut FlowCtrl,
) {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    ctrl.call_next(req, depot, res).await;
    let status = res.status_code.unwrap_or(StatusCode::OK);
    if let Ok(state) = depot.get_typed::<AppState>() {
        state
            .metrics
            .request(&path, &method, status, started.elapsed());
    }
}

/// `GET /metrics`: the scrape, for the bearer of `METRICS_TOKEN`; 404 otherwise, like
/// an unknown path (a wrong token gets no hint that the endpoint exists).
#[handler]
pub async fn scrape(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let Some(expected) = &state.config.metrics_token else {
        return Err(ApiError::NotFound);
    };
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if !presented.is_some_and(|p| same(p, expected.expose_secret())) {
        return Err(ApiError::NotFound);
    }
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res.render(state.metrics.render(&state.db, &state.image_cache));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_placeholders() {
        assert_eq!(
            route_of("/api/v1/images/6f1c2b7e-6d4e-4b8a-9a57-3c1f0e2d4b5a/thumbnail"),
            "/api/v1/images/{id}/thumbnail"
        );
        assert_eq!(route_of("/static/app.3f2a.css"), "/static/{id}");
        assert_eq!(route_of("/api/v1/me"), "/api/v1/me");
        let token = "Yk3nH0dD8bX2Vv9pQ1sLr5tZ7wMa4cE6gJ-fK_uNiOo";
        assert_eq!(
            route_of(&format!("/api/v1/public/shares/{token}/images/1/view")),
            "/api/v1/public/shares/{id}/images/1/view"
        );
    }

    #[test]
    fn only_paths_that_succeeded_become_labels_and_never_too_many() {
        let metrics = Metrics::new();
        for status in [StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST] {
            let id = "/6f1c2b7e-6d4e-4b8a-9a57-3c1f0e2d4b5a/x";
            assert_eq!(metrics.route_label(id, status), "unmatched");
        }
        assert_eq!(
            metrics.route_label("/api/v1/me", StatusCode::UNAUTHORIZED),
            "unmatched"
        );
        assert_eq!(
            metrics.route_label("/api/v1/me", StatusCode::OK),
            "/api/v1/me"
        );
        assert_eq!(
            metrics.route_label("/api/v1/me", StatusCode::UNAUTHORIZED),
            "/api/v1/me"
        );
        for n in 0..(MAX_ROUTES + 50) {
            let label = metrics.route_label(&format!("/x{n}"), StatusCode::OK);
            if n >= MAX_ROUTES {
                assert_eq!(label, "other");
            }
        }
    }

    #[test]
    fn long_paths_are_cut_between_characters_and_odd_methods_are_other() {
        let path = format!("/{}é", "a".repeat(118));
        assert!(route_of(&path).len() <= 122);
        let path = format!("/{}", "é".repeat(300));
        assert_eq!(route_of(&path).chars().count(), 120);
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"FOO1").unwrap()), "other");
    }
}
