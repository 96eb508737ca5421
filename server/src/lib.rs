//! The ImageVault server.
//!
//! One binary, several jobs (`imagevault-server serve|migrate|create-user|rotate-keys|sweep`
//! as the design lists); this crate is their library so integration tests can start the
//! real application on port 0 and talk to it over TCP, exactly as clients do.
//!
//! - [`config`]: configuration from the environment, validated before anything starts.
//! - [`app`]: building and running the HTTP application.
//! - [`routes`]: the handlers.

pub mod app;
pub mod config;
pub mod routes;
