//! Runs a test inside its own D-Bus session with GNOME Keyring's Secret Service
//! unlocked, so keychain code meets the real thing (not a mock) and never the
//! developer's own keyring.
//!
//! A test calls [`enter`] first: outside a session it re-runs just itself, in a child
//! process, under `dbus-run-session` (with a private `HOME` and XDG folders) and
//! asserts that the child passed; inside, it returns and the test proceeds.

use std::path::PathBuf;
use std::process::Command;

const INSIDE: &str = "IMAGEVAULT_TEST_SECRET_SERVICE";

/// `None` when the caller is already inside a Secret Service session and should run the
/// test; `Some(())` after the test ran (and passed) in a child process.
#[must_use]
pub fn enter(test_name: &str) -> Option<()> {
    if std::env::var_os(INSIDE).is_some() {
        return None;
    }
    let home = std::env::temp_dir().join(format!("iv-keyring-{}", uuid::Uuid::new_v4()));
    for dir in ["data", "config", "cache", "runtime"] {
        std::fs::create_dir_all(home.join(dir)).unwrap();
    }
    set_private(&home.join("runtime"));
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", UNLOCK_THEN_RUN, "sh"])
        .arg(&exe)
        .args([
            test_name,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(INSIDE, "1")
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_RUNTIME_DIR", home.join("runtime"))
        .status()
        .expect("dbus-run-session runs (apt-get install dbus-x11 gnome-keyring)");
    let _ = std::fs::remove_dir_all(&home);
    assert!(
        status.success(),
        "{test_name} failed inside the Secret Service session"
    );
    Some(())
}

/// Starts the keyring daemon with an unlocked login keyring, then runs the test.
const UNLOCK_THEN_RUN: &str = "printf 'test-keyring-password' | \
     gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"";

fn set_private(dir: &PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// What `secret-tool lookup` finds for the app's session-token entry `username`, if
/// anything.
pub fn lookup(username: &str) -> Option<String> {
    lookup_in(imagevault_desktop::keychain::SERVICE, username)
}

/// What `secret-tool lookup` finds for the entry `username` of `service`, if anything.
pub fn lookup_in(service: &str, username: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", username])
        .output()
        .expect("secret-tool runs (apt-get install libsecret-tools)");
    let value = String::from_utf8(out.stdout).unwrap();
    (out.status.success() && !value.is_empty()).then_some(value)
}
