//! The commands the web view may call, grouped by area. Each is listed in `build.rs`
//! (which generates its `allow-…` permission) and granted in `capabilities/main.json`;
//! nothing else — no file system, shell or HTTP — is reachable from JavaScript.

pub mod account;
pub mod files;
pub mod gallery;
pub mod settings;

mod list;

pub use list::ALL;
