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
    let mut doc = OpenApi::new("ImageVault API", env!("CARGO_PKG_VERSION"))
        .add_security_scheme(BEARER, bearer)
        .merge_router(api);
    document_upload_body(&mut doc);
    doc
}

/// The upload body is read by hand (`http::upload`, never spooled to disk), so no
/// extractor describes it; this does: multipart with one binary `file` part.
fn document_upload_body(doc: &mut OpenApi) {
    use salvo_oapi::schema::{BasicType, KnownFormat, Object, SchemaFormat};
    use salvo_oapi::{Content, PathItemType, RequestBody, Required};
    let file = Object::new()
        .schema_type(BasicType::String)
        .format(SchemaFormat::KnownFormat(KnownFormat::Binary))
        .description("A JPEG, PNG or GIF image of at most 5 MiB; its name's extension must match its content.");
    let form = Object::new()
        .schema_type(BasicType::Object)
        .property("file", file)
        .required("file");
    if let Some(upload) = doc
        .paths
        .get_mut("/api/v1/images")
        .and_then(|item| item.operations.get_mut(&PathItemType::Post))
    {
        upload.request_body = Some(
            RequestBody::new()
                .required(Required::True)
                .add_content("multipart/form-data", Content::new(form)),
        );
    }
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
