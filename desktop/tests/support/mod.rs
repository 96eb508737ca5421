//! Shared by the desktop's integration tests: the real server with its own test support
//! (a fresh database and a real SMTP sink), a real Secret Service to run inside, and an
//! [`Events`](imagevault_desktop::events::Events) sink that records what the app reports.
#![allow(dead_code)]

pub use imagevault_test_support as server;

pub mod display;
pub mod ipc;
pub mod photo;
pub mod proxy;
pub mod recorder;
pub mod secret_service;
pub mod webdriver;

use imagevault_desktop::session::{AccountInfo, Session, SignInOutcome};

/// Signs `session` in as `email` with the test password (an account without two-step
/// sign-in).
pub async fn sign_in(session: &Session, email: &str) -> AccountInfo {
    match session
        .sign_in(email, server::PASSWORD.into())
        .await
        .unwrap()
    {
        SignInOutcome::SignedIn { account } => account,
        SignInOutcome::CodeNeeded => panic!("{email} has two-step sign-in on"),
    }
}
