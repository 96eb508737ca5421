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

/// Names a folder (`dir/Camera`, created) to watch in the app's settings file under
/// `XDG_CONFIG_HOME`, as "Add a folder…" does after its native picker (which WebDriver
/// cannot drive). Returns the folder.
pub fn watch_a_folder(dir: &std::path::Path) -> std::path::PathBuf {
    let camera = dir.join("Camera");
    std::fs::create_dir_all(&camera).unwrap();
    let config = std::path::PathBuf::from(std::env::var_os("XDG_CONFIG_HOME").unwrap())
        .join("org.imagevault.desktop/settings.json");
    let mut settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    settings["watched_folders"] = serde_json::json!([camera]);
    std::fs::write(&config, serde_json::to_vec(&settings).unwrap()).unwrap();
    camera
}

/// The keychain entry's user name of `email` on the server at `base`, as the app names
/// it (for `secret_service::lookup`).
pub fn keychain_name(base: &str, email: &str) -> String {
    let server = imagevault_desktop::settings::parse_server_url(base).unwrap();
    imagevault_desktop::keychain::Account::new(email, &server)
        .username()
        .to_owned()
}

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
        SignInOutcome::LinkNeeded => unreachable!("a password sign-in links nothing"),
    }
}
