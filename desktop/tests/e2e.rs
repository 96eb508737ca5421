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

    let ui = Session::start(&driver, exe).await;
    ui.visible("#view-signin").await;
    ui.fill("#server-url", server.as_str()).await;
    ui.screenshot(shots, "desktop-signin.png").await;

    // Register, with the live rules failing then passing.
    ui.click("#show-register").await;
    ui.fill("#reg-email", EMAIL).await;
    ui.fill("#reg-password", "short").await;
    ui.wait_text("#reg-rules", "12").await;
    ui.screenshot(shots, "desktop-register.png").await;
    ui.fill("#reg-password", PASSWORD).await;
    ui.wait_count("#reg-rules li", 0).await;
    ui.click("#register").await;
    ui.visible("#view-check-email").await;
    let mail = app.smtp.wait_for(EMAIL, "/verify?token=", 1).await;
    assert_eq!(app.verify(&mail.token()).await.status(), 200);

    // Sign in: the token goes to the keychain, not to a file.
    ui.click("#back-to-signin").await;
    ui.fill("#email", EMAIL).await;
    ui.fill("#password", PASSWORD).await;
    ui.click("#sign-in").await;
    ui.visible("#view-main").await;
    ui.wait_text("#account-email", EMAIL).await;
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
    let (left, top, width, height) = window_geometry(&display, "ImageVault");
    drag_files(&display, &files, left + width / 2, top + height / 2);
    let accepted = ui.wait_count(".card[data-state=\"accepted\"]", 2).await;
    ui.wait_count(".card[data-state=\"refused\"]", 1).await;
    ui.wait_text(
        ".card[data-state=\"refused\"] .reason",
        "Only JPEG, PNG and GIF images are accepted.",
    )
    .await;
    for card in &accepted {
        assert!(ui.text(card).await.contains('×'), "dimensions are shown");
    }
    wait_images_loaded(&ui, ".card img.preview", 2).await;
    ui.screenshot(shots, "desktop-drop.png").await;

    // Upload: only the two accepted files are sent.
    ui.click("#upload-button").await;
    ui.wait_count(".card[data-state=\"done\"]", 2).await;
    ui.screenshot(shots, "desktop-uploaded.png").await;
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
    ui.click("#tab-gallery").await;
    ui.wait_count("#gallery .tile", 2).await;
    wait_images_loaded(&ui, "#gallery .tile img", 2).await;
    ui.screenshot(shots, "desktop-gallery.png").await;
    ui.click("#gallery .tile").await;
    wait_images_loaded(&ui, "#viewer-image", 1).await;
    ui.screenshot(shots, "desktop-viewer.png").await;
    ui.click("#viewer-close").await;
    ui.quit().await;

    // Restart: signed in silently from the keychain.
    let ui = Session::start(&driver, exe).await;
    ui.visible("#view-main").await;
    ui.wait_text("#account-email", EMAIL).await;

    // Sign out: the keychain entry is gone and the server no longer takes the token.
    ui.click("#sign-out").await;
    ui.visible("#view-signin").await;
    assert_eq!(lookup(&username), None);
    assert_eq!(app.me(&token).await.status(), 401);
    ui.quit().await;
    app.finish().await;
}

/// Waits until `count` images matching `css` have decoded (a non-zero natural width).
async fn wait_images_loaded(ui: &Session, css: &str, count: usize) {
    let started = std::time::Instant::now();
    loop {
        let mut loaded = 0;
        for img in ui.all(css).await {
            if ui
                .property(&img, "naturalWidth")
                .await
                .as_u64()
                .unwrap_or(0)
                > 0
            {
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
