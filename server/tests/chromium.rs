//! The browser gallery's full journey in real headless Chromium (Debian's `chromium`,
//! driven by Playwright from `e2e/journey.mjs`), against the real server and SMTP sink:
//! register → the emailed link → sign in → upload three images (one refused, its reason
//! shown) → the gallery → one image → delete it → another user cannot open it → a
//! form without its CSRF token is refused → the second user turns on two-step sign-in
//! → the first adds a passkey (Chromium's virtual authenticator) and signs in with it →
//! sign out → an administrator finds the second user, disables it (its session ends)
//! and reads the audit log, with no photo or file name on any admin page. Every page is
//! scanned with
//! axe-core (no serious violations) and the console must show no CSP violation.
//! A second journey signs in through a real OpenID Provider (single sign-on).
//!
//! Screenshots: `IMAGEVAULT_SCREENSHOTS=$PWD/docs/screenshots cargo test -p
//! imagevault-server --test chromium` refreshes the README's.

use imagevault_test_support as support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::images::{jpeg, png};
use support::{Engine, PASSWORD, TestApp};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_journey_in_chromium() {
    // Passkeys need a domain name, not an address: the browser opens `localhost`.
    let app =
        TestApp::spawn_stack_with(Engine::Sqlite, &[("PUBLIC_URL", "http://localhost")]).await;
    let base = app.base.replace("127.0.0.1", "localhost");
    app.signed_up_user("second@example.com").await;
    support::create_account(&app.state, "admin@example.com", true).await;
    let files = app.dir.join("upload");
    std::fs::create_dir_all(&files).unwrap();
    let paths = [
        ("harbour.jpg", jpeg(1200, 800, 3)),
        ("diagram.png", png(640, 480, 4)),
        (
            "notes.jpg",
            b"These are meeting notes, not a photo.".to_vec(),
        ),
    ]
    .map(|(name, bytes)| {
        let path = files.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    });
    let screenshots = std::env::var("IMAGEVAULT_SCREENSHOTS")
        .unwrap_or_else(|_| app.dir.join("screenshots").display().to_string());

    let mut journey = tokio::process::Command::new("node")
        .arg(e2e_dir().join("journey.mjs"))
        .current_dir(e2e_dir())
        .env("BASE_URL", &base)
        .env("FILES", paths.join(","))
        .env("PASSWORD", PASSWORD)
        .env("SECOND_EMAIL", "second@example.com")
        .env("ADMIN_EMAIL", "admin@example.com")
        .env("SCREENSHOTS", &screenshots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect(
            "node runs e2e/journey.mjs (scripts/test installs node, npm packages and chromium)",
        );
    let mut stdin = journey.stdin.take().unwrap();
    let mut stdout = BufReader::new(journey.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    while let Some(line) = stdout.next_line().await.unwrap() {
        if let Some(address) = line.strip_prefix("MAIL ") {
            let mail = app.smtp.wait_for(address, "/verify?token=", 1).await;
            let link = format!("{base}/verify?token={}\n", mail.token());
            stdin.write_all(link.as_bytes()).await.unwrap();
            stdin.flush().await.unwrap();
        } else {
            said.push(line);
        }
    }
    let out = tokio::time::timeout(
        std::time::Duration::from_mins(3),
        journey.wait_with_output(),
    )
    .await
    .expect("the journey finishes within 3 minutes")
    .unwrap();
    assert!(
        out.status.success(),
        "journey failed:\n{}\n{}",
        said.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "register",
        "gallery-empty",
        "upload",
        "gallery",
        "image",
        "gallery-phone",
        "login",
        "two-step-setup",
        "two-step-code",
        "passkeys",
        "admin-users",
        "admin-audit",
    ] {
        let shot = Path::new(&screenshots).join(format!("{name}.png"));
        assert!(
            shot.metadata().is_ok_and(|m| m.len() > 1000),
            "{name} screenshot"
        );
    }
    app.finish().await;
}

/// Single sign-on in Chromium: the button, the provider's own pages, back signed in
/// (`e2e/sso.mjs` against `e2e/oidc-provider.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_in_chromium() {
    use support::oidc::{OidcProvider, PROVIDER_PASSWORD, Person};
    let provider = OidcProvider::start(&[Person::verified("ines", "ines@example.com")]);
    let button = "Sign in with Example Corp";
    let app = provider
        .app(Engine::Sqlite, &[("OIDC_BUTTON_TEXT", button)])
        .await;
    let screenshots = std::env::var("IMAGEVAULT_SCREENSHOTS")
        .unwrap_or_else(|_| app.dir.join("screenshots").display().to_string());
    let journey = tokio::process::Command::new("node")
        .arg(e2e_dir().join("sso.mjs"))
        .current_dir(e2e_dir())
        .env("BASE_URL", &app.base)
        .env("LOGIN", "ines")
        .env("PROVIDER_PASSWORD", PROVIDER_PASSWORD)
        .env("EMAIL", "ines@example.com")
        .env("BUTTON", button)
        .env("SCREENSHOTS", &screenshots)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_mins(2), journey)
        .await
        .expect("the journey finishes within 2 minutes")
        .expect("node runs e2e/sso.mjs (scripts/test installs node, npm packages and chromium)");
    assert!(
        out.status.success(),
        "single sign-on journey failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let shot = Path::new(&screenshots).join("sso-login.png");
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 1000),
        "sso-login screenshot"
    );
    app.finish().await;
}
