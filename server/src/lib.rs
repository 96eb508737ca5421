//! The ImageVault server.
//!
//! One binary, several jobs (`serve`, `migrate`, `create-user`, `rotate-keys`, `sweep`);
//! this crate is their library so integration tests can start the real application on
//! port 0 and talk to it over TCP, exactly as clients do.
//!
//! - [`config`]: configuration from the environment, validated before anything starts.
//! - [`app`]: building and running the HTTP application.
//! - [`db`]: the data-access layer (SQLite and PostgreSQL).
//! - [`accounts`]: registration, verification, login, lockout, reset — the rules.
//! - [`routes`], [`pages`] and [`http`]: the JSON API, the browser pages and the
//!   cross-cutting HTTP concerns.
//! - [`error`]: the one place errors become responses.
//! - [`vault`]: envelope encryption at rest (master keys, user keys, blob format).
//! - [`images`]: upload, listing, reading and deleting images — the rules.
//! - [`maintenance`]: `sweep`, `rotate-keys` and account deletion.
//! - [`storage`]: where encrypted blobs live (a local folder or an S3 bucket).

pub mod accounts;
pub mod app;
pub mod config;
pub mod crypto;
pub mod db;
pub mod email;
pub mod error;
pub mod http;
pub mod images;
pub mod maintenance;
pub mod pages;
pub mod passwords;
pub mod routes;
pub mod secret;
pub mod state;
pub mod storage;
pub mod throttle;
pub mod vault;
