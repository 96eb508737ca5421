//! Cross-cutting HTTP concerns: the request span and id, security headers and the `Host`
//! allow-list (on every response, errors and 404s included), the client address,
//! authentication and the extractors handlers take, and reading upload bodies.

pub mod auth;
pub mod client;
pub mod extract;
pub mod head;
pub mod headers;
pub mod hosts;
pub mod listen;
pub mod trace;
pub mod upload;
