//! The OpenAPI document, generated from the endpoint annotations, and an interactive
//! viewer (Swagger UI) that obeys the strict CSP: salvo-oapi's own index page starts
//! Swagger UI from an inline script, so this module serves its own page that loads the
//! same bundled assets plus a small script file.

use salvo::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use salvo::prelude::*;
use salvo_oapi::OpenApi;
use salvo_oapi::security::{Http, HttpAuthScheme, SecurityScheme};
use salvo_oapi::swagger_ui::SwaggerUi;

/// Name of the bearer-token security scheme endpoints refer to.
pub const BEARER: &str = "bearer";

/// The OpenAPI document of `api`, with the bearer scheme the desktop and scripts use
/// (so the viewer's "Authorize" button works).
pub fn openapi(api: &Router) -> OpenApi {
    let bearer = SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer).bearer_format("opaque"));
    OpenApi::new("ImageVault API", env!("CARGO_PKG_VERSION"))
        .add_security_scheme(BEARER, bearer)
        .merge_router(api)
}

/// `/api/openapi.json`, `/api/docs` and the viewer's assets.
pub fn router(openapi: OpenApi) -> Router {
    Router::new()
        .push(openapi.into_router("/api/openapi.json"))
        .push(Router::with_path("api/docs").get(viewer))
        .push(SwaggerUi::new("/api/openapi.json").into_router("/api/docs"))
        .push(Router::with_path("static/api-docs.js").get(viewer_script))
}

#[handler]
async fn viewer(res: &mut Response) {
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res.render(Text::Html(include_str!("../../templates/api_docs.html")));
}

#[handler]
async fn viewer_script(res: &mut Response) {
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res.write_body(include_str!("../../static/api-docs.js"))
        .ok();
}
