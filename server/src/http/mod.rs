//! Cross-cutting HTTP concerns, applied to every response (errors and 404s included):
//! security headers, the `Host` allow-list, the client address, authentication.

pub mod auth;
pub mod client;
pub mod headers;
pub mod hosts;
pub mod upload;
