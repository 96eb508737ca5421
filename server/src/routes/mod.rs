//! HTTP handlers and the router that joins them.

pub mod admin;
pub mod auth;
pub mod docs;
pub mod health;
pub mod images;
pub mod me;
pub mod passkeys;
pub mod policy;
pub mod shares;
pub mod sso;

use salvo::http::ParseError;
use salvo::prelude::*;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest JSON body of the auth endpoints: a password is at most 128 characters.
const MAX_JSON_BYTES: usize = 16 * 1024;

/// The full router of the application.
pub fn router() -> Router {
    let api = Router::with_path("api/v1")
        .push(auth::router())
        .push(me::router())
        .push(images::router())
        .push(policy::router())
        .push(admin::router())
        .push(shares::router())
        .push(shares::public_router())
        .push(sso::router());
    let openapi = docs::openapi(&api);
    Router::new()
        .filter(crate::http::head::HeadAsGet)
        .push(Router::with_path("healthz").get(health::healthz))
        .push(Router::with_path("readyz").get(health::readyz))
        .push(Router::with_path("metrics").get(crate::metrics::scrape))
        .push(api)
        .push(docs::router(openapi))
        .push(crate::pages::router())
}

/// Parses a JSON body, mapping each failure to the documented 4xx.
pub async fn json<T: DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    json_up_to(req, MAX_JSON_BYTES).await
}

/// [`json`] for a body that may be larger: at most `max` bytes.
pub async fn json_up_to<T: DeserializeOwned>(req: &mut Request, max: usize) -> Result<T, ApiError> {
    req.parse_json_with_max_size::<T>(max)
        .await
        .map_err(|e| match e {
            ParseError::PayloadTooLarge => {
                ApiError::TooLarge(format!("The request body is over {} KiB.", max / 1024))
            }
            ParseError::InvalidContentType => ApiError::UnsupportedMediaType(
                "Send JSON with Content-Type: application/json.".into(),
            ),
            ParseError::SerdeJson(e) => ApiError::BadRequest(format!(
                "The request body is not what this endpoint expects: {e}."
            )),
            _ => ApiError::BadRequest("The request body could not be read.".into()),
        })
}
