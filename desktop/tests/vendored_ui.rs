//! The Tauri API modules the view imports (`ui/vendor/tauri-api`) are
//! `@tauri-apps/api` exactly as the npm registry publishes it, at the version of the
//! `tauri` crate in Cargo.lock (`scripts/vendor-ui --check`).

use std::path::Path;
use std::process::Command;

#[test]
fn the_vendored_tauri_api_is_the_published_one_at_the_crates_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/vendor-ui"))
        .arg("--check")
        .output()
        .expect("bash runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    let crate_version = lock
        .split("\n[[package]]\n")
        .find(|p| p.starts_with("name = \"tauri\"\n"))
        .and_then(|p| p.lines().nth(1))
        .unwrap()
        .trim_start_matches("version = ")
        .trim_matches('"')
        .to_owned();
    assert!(
        said.contains(&format!("@tauri-apps/api {crate_version} as published")),
        "{said}"
    );
}
