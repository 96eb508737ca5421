//! The commands the web view may call, grouped by area. Each is listed in `build.rs`
//! (which generates its `allow-…` permission) and granted in `capabilities/main.json`;
//! nothing else — no file system, shell or HTTP — is reachable from JavaScript.

// Tauri hands commands their arguments and `State` by value.
#![allow(clippy::needless_pass_by_value)]

pub mod account;
pub mod files;
pub mod gallery;
pub mod settings;

mod list;

pub use list::ALL;
