//! The whole desktop journey in the built app: a real window under Xvfb driven through
//! `tauri-driver` and WebKitWebDriver, against the real server with its SMTP sink, with
//! the token in a real Secret Service, and files brought in by a real OS drag-and-drop.
//!
//! register (live rules) → the emailed link → sign in (token in the keychain, seen with
//! `secret-tool`) → drag three files onto the window (one refused) → previews and
//! verdicts → upload → the gallery shows the two accepted images → restart: still signed
//! in → sign out: keychain entry gone, server token revoked.
//!
//! `IMAGEVAULT_SCREENSHOTS=$PWD/docs/screenshots` saves the screenshots shown in the README.

mod support;

use std::path::PathBuf;

use support::display::{drag_files, tauri_driver, window_geometry, xvfb};
use support::secret_service::{enter, lookup};
use support::server::images::{jpeg, png};
use support::server::{Engine, PASSWORD, TestApp};
use support::webdriver::Session;

const EMAIL: &str = "desktop@example.com";

#[test]
fn desktop_journey() {
    if enter("desktop_journey").is_some() {
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(journey());
}

async fn journey() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let (display, _xvfb) = xvfb();
    let (driver, _driver) = tauri_driver(&display);
    let shots = std::env::var_os("IMAGEVAULT_SCREENSHOTS").map(PathBuf::from);
    let shots = shots.as_deref();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_imagevault-desktop"));
    let server = imagevault_desktop::settings::parse_server_url(&app.base).unwrap();
    let username = imagevault_desktop::keychain::Account::new(EMAIL, &server)
        .username()
        .to_owned();

    let s = Session::start(&driver, exe).await;
    s.visible("#view-signin").await;
    s.fill("#server-url", server.as_str()).await;
    s.screenshot(shots, "desktop-signin.png").await;

    // Register, with the live rules failing then passing.
    s.click("#show-register").await;
    s.fill("#reg-email", EMAIL).await;
    s.fill("#reg-password", "short").await;
    s.wait_text("#reg-rules", "12").await;
    s.screenshot(shots, "desktop-register.png").await;
    s.fill("#reg-password", PASSWORD).await;
    s.wait_count("#reg-rules li", 0).await;
    s.click("#register").await;
    s.visible("#view-check-email").await;
    let mail = app.smtp.wait_for(EMAIL, "/verify?token=", 1).await;
    assert_eq!(app.verify(&mail.token()).await.status(), 200);

    // Sign in: the token goes to the keychain, not to a file.
    s.click("#back-to-signin").await;
    s.fill("#email", EMAIL).await;
    s.fill("#password", PASSWORD).await;
    s.click("#sign-in").await;
    s.visible("#view-main").await;
    s.wait_text("#account-email", EMAIL).await;
    let token = lookup(&username).expect("the token is in the Secret Service");
    assert_eq!(app.me(&token).await.status(), 200);

    // A real drag-and-drop of three files from a GTK drag source.
    let photos = app.dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let files: Vec<PathBuf> = [
        ("beach.jpg", jpeg(1600, 1067, 7)),
        ("map.png", png(800, 600, 8)),
        ("notes.jpg", b"shopping list: not a photo".to_vec()),
    ]
    .into_iter()
    .map(|(name, bytes)| {
        let path = photos.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    })
    .collect();
    let (x, y, w, h) = window_geometry(&display, "ImageVault");
    drag_files(&display, &files, x + w / 2, y + h / 2);
    let accepted = s.wait_count(".card[data-state=\"accepted\"]", 2).await;
    s.wait_count(".card[data-state=\"refused\"]", 1).await;
    s.wait_text(
        ".card[data-state=\"refused\"] .reason",
        "Only JPEG, PNG and GIF images are accepted.",
    )
    .await;
    for card in &accepted {
        assert!(s.text(card).await.contains('×'), "dimensions are shown");
    }
    wait_images_loaded(&s, ".card img.preview", 2).await;
    s.screenshot(shots, "desktop-drop.png").await;

    // Upload: only the two accepted files are sent.
    s.click("#upload-button").await;
    s.wait_count(".card[data-state=\"done\"]", 2).await;
    s.screenshot(shots, "desktop-uploaded.png").await;
    let listed = app
        .get_bearer("/api/v1/images", &token)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("beach.jpg") && listed.contains("map.png"),
        "{listed}"
    );
    assert!(!listed.contains("notes.jpg"));

    // The gallery shows them; one opens in the viewer.
    s.click("#tab-gallery").await;
    s.wait_count("#gallery .tile", 2).await;
    wait_images_loaded(&s, "#gallery .tile img", 2).await;
    s.screenshot(shots, "desktop-gallery.png").await;
    s.click("#gallery .tile").await;
    wait_images_loaded(&s, "#viewer-image", 1).await;
    s.screenshot(shots, "desktop-viewer.png").await;
    s.click("#viewer-close").await;
    s.quit().await;

    // Restart: signed in silently from the keychain.
    let s = Session::start(&driver, exe).await;
    s.visible("#view-main").await;
    s.wait_text("#account-email", EMAIL).await;

    // Sign out: the keychain entry is gone and the server no longer takes the token.
    s.click("#sign-out").await;
    s.visible("#view-signin").await;
    assert_eq!(lookup(&username), None);
    assert_eq!(app.me(&token).await.status(), 401);
    s.quit().await;
    app.finish().await;
}

/// Waits until `count` images matching `css` have decoded (a non-zero natural width).
async fn wait_images_loaded(s: &Session, css: &str, count: usize) {
    let started = std::time::Instant::now();
    loop {
        let mut loaded = 0;
        for img in s.all(css).await {
            if s.property(&img, "naturalWidth").await.as_u64().unwrap_or(0) > 0 {
                loaded += 1;
            }
        }
        if loaded >= count {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "only {loaded} of {count} × {css} loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
