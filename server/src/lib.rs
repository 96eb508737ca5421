//! The ImageVault server.
//!
//! One binary, several jobs (`serve`, `migrate`, `create-user`, `rotate-keys`, `sweep`);
//! this crate is their library so integration tests can start the real application on
//! port 0 and talk to it over TCP, exactly as clients do.
//!
//! - [`config`]: configuration from the environment, validated before anything starts.
//! - [`app`] and [`state`]: building and running the HTTP application, and what every
//!   request shares.
//! - [`db`]: the data-access layer (SQLite and PostgreSQL), typed ids, transactions.
//! - Services, where the rules live: [`accounts`] (registration, verification, sign-in
//!   and lockout, reset, deletion), [`images`] (upload, listing, reading, deleting;
//!   [`image_cache`] keeps decrypted bytes in memory for the next fetch),
//!   [`keys`] (user keys and the master-key checks), [`maintenance`] (`sweep`,
//!   `rotate-keys`, account deletion), [`rekey`] (`rotate-user-keys`: fresh user keys,
//!   images re-encrypted online), [`throttle`] (rate limits).
//! - [`routes`], [`pages`] and [`http`]: the JSON API, the browser pages, and the
//!   cross-cutting HTTP concerns (request span, headers, hosts, extractors, uploads).
//! - [`error`]: the one place errors become responses.
//! - [`vault`]: envelope encryption at rest (master keys, user keys, blob format) —
//!   cryptography and key custody only, no database.
//! - [`storage`]: where encrypted blobs live (a local folder or an S3 bucket).
//! - [`email`], [`passwords`], [`crypto`], [`secret`]: outgoing mail, Argon2id hashing,
//!   tokens and MACs, secrets that cannot leak by accident.

pub mod accounts;
pub mod admin;
pub mod alerts;
pub mod app;
pub mod audit;
pub mod config;
pub mod crypto;
pub mod db;
pub mod email;
pub mod error;
pub mod http;
pub mod image_cache;
pub mod image_names;
pub mod images;
pub mod keys;
pub mod maintenance;
pub mod metrics;
pub mod pages;
pub mod passwords;
pub mod rekey;
pub mod rendering;
pub mod routes;
pub mod secret;
pub mod shares;
pub mod sso;
pub mod state;
pub mod storage;
pub mod throttle;
pub mod vault;
