//! The rules the ImageVault server and desktop app must agree on, implemented once.
//!
//! Both front doors call these functions, so a file the desktop accepts is a file the
//! server accepts, and a password the registration form allows is one the server
//! allows. The crate does no I/O: it takes bytes and strings and returns verdicts.
//!
//! - [`api`]: the JSON wire types and error codes of the HTTP API.
//! - [`email`]: email addresses, normalised.
//! - [`password`]: the password policy, reporting every failed rule at once.
//! - [`filename`]: user filenames reduced to safe display text.
//! - [`image`]: validation, metadata stripping and thumbnails.

pub mod api;
pub mod email;
pub mod filename;
pub mod image;
pub mod password;
