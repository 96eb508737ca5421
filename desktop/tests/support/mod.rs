//! Shared by the desktop's integration tests: the real server with its own test support
//! (a fresh database and a real SMTP sink), a real Secret Service to run inside, and an
//! [`Events`](imagevault_desktop::events::Events) sink that records what the app reports.
#![allow(dead_code)]

#[path = "../../../server/tests/support/mod.rs"]
pub mod server;

pub mod display;
pub mod photo;
pub mod proxy;
pub mod recorder;
pub mod secret_service;
pub mod webdriver;
