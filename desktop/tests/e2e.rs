//! The whole desktop journey in the built app: a real window under Xvfb driven through
//! `tauri-driver` and WebKitWebDriver, against the real server with its SMTP sink, with
//! the token in a real Secret Service, and files brought in by a real OS drag-and-drop.
//!
//! register (live rules) → the emailed link → sign in (token in the keychain, seen with
//! `secret-tool`) → drag three files onto the window (one refused) → previews and
//! verdicts → upload → the gallery shows the two accepted images → share both (the link
//! on the clipboard), list and revoke the link → view and delete one →
//! Settings: turn on two-step sign-in (QR code, a code from an authenticator built here,
//! ten recovery codes) and see this session listed → restart: still signed in → sign
//! out: keychain entry gone, server token revoked → sign in again from the keyboard
//! alone: the code step, then Tab and Enter to the gallery and its viewer, Escape back.
//! Every screen passes axe-core (serious and critical rules) in the app's web view; a
//! batch's end is a notification the session's dunst shows.
//!
//! `desktop_single_sign_on`: the window's single sign-on button, through xdg-open to
//! Chromium (the session's default browser) and a real OpenID Provider, back to the
//! app's loopback listener: signed in, the token in the Secret Service.
//!
//! `IMAGEVAULT_SCREENSHOTS=$PWD/docs/screenshots` saves the screenshots shown in the README.
//!
//! `drop_of_50_photos` is the drop benchmark of docs/PERFORMANCE.md (ignored by default):
//! `cargo test -p imagevault-desktop --test e2e -- --ignored --nocapture drop_of_50_photos`.

mod support;

use std::path::PathBuf;

use support::display::{
    drag_files, notification_daemon, notifications, tauri_driver, window_geometry, xvfb,
};
use support::secret_service::{enter, lookup};
use support::server::images::{jpeg, png};
use support::server::{Engine, PASSWORD, TestApp};
use support::webdriver::{ENTER, ESCAPE, Session, TAB};

const EMAIL: &str = "desktop@example.com";

#[test]
fn desktop_journey() {
    if enter("desktop_journey").is_some() {
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(journey());
}

/// Single sign-on in the built app: its button opens "the system browser" — the
/// desktop's default http handler, registered in the test's private XDG folders as
/// Debian's Chromium driven by `e2e/sso-browser.mjs` — through xdg-open; Chromium signs
/// in at a real OpenID Provider, which sends it back to the app's loopback listener;
/// the window then shows the signed-in account, with the token in the Secret Service.
#[test]
fn desktop_single_sign_on() {
    if enter("desktop_single_sign_on").is_some() {
        return;
    }
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(single_sign_on());
}

async fn single_sign_on() {
    use support::server::oidc::{OidcProvider, PROVIDER_PASSWORD, Person};
    let email = "lee@example.com";
    let provider = OidcProvider::start(&[Person::verified("lee", email)]);
    let app = provider
        .app(
            Engine::Sqlite,
            &[("OIDC_BUTTON_TEXT", "Sign in with Example Corp")],
        )
        .await;
    let report = app.dir.join("browser-report");
    default_browser(&app.dir, &report, "lee", PROVIDER_PASSWORD);
    let (display, _xvfb) = xvfb();
    let (driver, _driver) = tauri_driver(&display);
    let shots = std::env::var_os("IMAGEVAULT_SCREENSHOTS").map(PathBuf::from);
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_imagevault-desktop"));
    let server = imagevault_desktop::settings::parse_server_url(&app.base).unwrap();

    let ui = Session::start(&driver, exe).await;
    ui.visible("#view-signin").await;
    // The button appears once the typed server says it offers single sign-on.
    ui.fill("#server-url", server.as_str()).await;
    ui.click("#email").await;
    ui.wait_text("#sign-in-sso", "Sign in with Example Corp")
        .await;
    ui.screenshot(shots.as_deref(), "desktop-sso-signin.png")
        .await;
    ui.assert_accessible("signin with single sign-on").await;
    ui.click("#sign-in-sso").await;
    ui.visible("#view-main").await;
    ui.wait_text("#account-email", email).await;
    // The browser writes its report after it closes, which may be after the app's
    // window moved on.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !report.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "ok");
    let username = support::keychain_name(&app.base, email);
    let token = lookup(&username).expect("the token is in the Secret Service");
    assert_eq!(app.me(&token).await.status(), 200);
    ui.quit().await;
    app.finish().await;
}

/// Makes Chromium, driven by `e2e/sso-browser.mjs`, the default handler of http URLs
/// for this test's session (its `XDG_*` folders are the test's own).
fn default_browser(dir: &std::path::Path, report: &std::path::Path, login: &str, password: &str) {
    let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e");
    let settings = dir.join("browser.json");
    let body = serde_json::json!({"login": login, "password": password, "report": report});
    std::fs::write(&settings, body.to_string()).unwrap();
    let node = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v node"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let env = |name: &str| PathBuf::from(std::env::var_os(name).expect("inside the test session"));
    let applications = env("XDG_DATA_HOME").join("applications");
    std::fs::create_dir_all(&applications).unwrap();
    std::fs::write(
        applications.join("iv-test-browser.desktop"),
        format!(
            "[Desktop Entry]\nType=Application\nName=Test browser\n\
             Exec={} {} {} %u\nMimeType=x-scheme-handler/http;\n",
            node.trim(),
            e2e.join("sso-browser.mjs").display(),
            settings.display()
        ),
    )
    .unwrap();
    std::fs::write(
        env("XDG_CONFIG_HOME").join("mimeapps.list"),
        "[Default Applications]\nx-scheme-handler/http=iv-test-browser.desktop\n",
    )
    .unwrap();
}

async fn journey() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let (display, _xvfb) = xvfb();
    let _notifications = notification_daemon(&display);
    let (driver, _driver) = tauri_driver(&display);
    let shots = std::env::var_os("IMAGEVAULT_SCREENSHOTS").map(PathBuf::from);
    let shots = shots.as_deref();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_imagevault-desktop"));
    let server = imagevault_desktop::settings::parse_server_url(&app.base).unwrap();
    let username = support::keychain_name(&app.base, EMAIL);

    let ui = Session::start(&driver, exe).await;
    ui.visible("#view-signin").await;
    // No global Tauri API for any script to reach; the view imports what it uses.
    assert_eq!(
        ui.execute("return typeof window.__TAURI__").await,
        "undefined"
    );
    ui.fill("#server-url", server.as_str()).await;
    ui.screenshot(shots, "desktop-signin.png").await;
    ui.assert_accessible("signin").await;

    // Register, with the live rules failing then passing.
    ui.click("#show-register").await;
    ui.fill("#reg-email", EMAIL).await;
    ui.fill("#reg-password", "short").await;
    ui.wait_text("#reg-rules", "12").await;
    ui.screenshot(shots, "desktop-register.png").await;
    ui.assert_accessible("register").await;
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
    // The header's storage meter: nothing stored yet, of the default quota.
    ui.wait_text("#storage-text", "0 bytes of 10 GiB").await;
    let token = lookup(&username).expect("the token is in the Secret Service");
    assert_eq!(app.me(&token).await.status(), 200);

    drop_three_and_upload(&ui, &app, &display, &token, shots).await;

    // The gallery shows them; one opens in the viewer.
    ui.click("#tab-gallery").await;
    ui.wait_count("#gallery .tile", 2).await;
    ui.wait_images_loaded("#gallery .tile img", 2).await;
    ui.screenshot(shots, "desktop-gallery.png").await;
    ui.assert_accessible("gallery").await;
    share_from_the_gallery(&ui, &app, &token, &display, shots).await;
    ui.click("#gallery .tile").await;
    ui.wait_images_loaded("#viewer-image", 1).await;
    ui.screenshot(shots, "desktop-viewer.png").await;
    ui.assert_accessible("viewer").await;
    // Delete asks once more before it acts.
    ui.click("#viewer-delete").await;
    ui.wait_text("#viewer-delete", "Really").await;
    ui.click("#viewer-delete").await;
    ui.wait_count("#gallery .tile", 1).await;
    let listed = app.listed(&token).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let authenticator = settings_and_two_step(&ui, shots).await;
    ui.quit().await;

    // Restart: signed in silently from the keychain, now watching a folder.
    let camera = support::watch_a_folder(&app.dir);
    let ui = Session::start(&driver, exe).await;
    ui.visible("#view-main").await;
    ui.wait_text("#account-email", EMAIL).await;
    watched_folder_uploads(&ui, &app, &token, &camera, shots).await;

    // Sign out: the keychain entry is gone and the server no longer takes the token.
    ui.click("#sign-out").await;
    ui.visible("#view-signin").await;
    assert_eq!(lookup(&username), None);
    assert_eq!(app.me(&token).await.status(), 401);

    sign_in_with_a_code(&ui, &app, &username, &authenticator, shots).await;
    ui.quit().await;
    app.finish().await;
}

/// A real drag-and-drop of three files from a GTK drag source (one refused), then the
/// upload of the two accepted, told by a native notification.
async fn drop_three_and_upload(
    ui: &Session,
    app: &TestApp,
    display: &str,
    token: &str,
    shots: Option<&std::path::Path>,
) {
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
    let (left, top, width, height) = window_geometry(display, "ImageVault");
    drag_files(display, &files, left + width / 2, top + height / 2);
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
    ui.wait_images_loaded(".card img.preview", 2).await;
    ui.screenshot(shots, "desktop-drop.png").await;
    ui.assert_accessible("drop").await;

    // Upload: only the two accepted files are sent.
    ui.click("#upload-button").await;
    ui.wait_count(".card[data-state=\"done\"]", 2).await;
    // The batch's end is a native notification, shown by the session's daemon.
    support::display::wait_until("the notification", || {
        notifications().contains("2 photos uploaded")
    });
    // The meter follows: now some KiB or MiB of the quota ("0 bytes" has no "iB of").
    ui.wait_text("#storage-text", "iB of 10 GiB").await;
    ui.screenshot(shots, "desktop-uploaded.png").await;
    ui.assert_accessible("uploaded").await;
    let listed = app.listed(token).await.to_string();
    assert!(
        listed.contains("beach.jpg") && listed.contains("map.png"),
        "{listed}"
    );
    assert!(!listed.contains("notes.jpg"));
}

/// Photos copied into the watched folder arrive as cards marked with it and are
/// uploaded; copied in again under other names they are recognised and nothing new
/// is stored. Settings lists the folder.
async fn watched_folder_uploads(
    ui: &Session,
    app: &TestApp,
    token: &str,
    camera: &std::path::Path,
    shots: Option<&std::path::Path>,
) {
    let before = app.listed(token).await["items"].as_array().unwrap().len();
    std::fs::write(camera.join("IMG_0101.jpg"), jpeg(1200, 900, 21)).unwrap();
    std::fs::write(camera.join("IMG_0102.jpg"), jpeg(900, 1200, 22)).unwrap();
    ui.wait_count(".card[data-state=\"done\"]", 2).await;
    ui.wait_text(".card .meta", "from Camera").await;
    ui.screenshot(shots, "desktop-watched-upload.png").await;
    ui.assert_accessible("watched-upload").await;
    assert_eq!(
        app.listed(token).await["items"].as_array().unwrap().len(),
        before + 2
    );
    for name in ["IMG_0101.jpg", "IMG_0102.jpg"] {
        std::fs::copy(camera.join(name), camera.join(format!("copy of {name}"))).unwrap();
    }
    ui.wait_count(".card[data-state=\"done\"]", 4).await;
    ui.wait_text(".card .reason", "Already uploaded").await;
    assert_eq!(
        app.listed(token).await["items"].as_array().unwrap().len(),
        before + 2,
        "nothing new stored"
    );
    ui.click("#tab-settings").await;
    ui.wait_text("#watched-list", &camera.display().to_string())
        .await;
    ui.screenshot(shots, "desktop-watched-folders.png").await;
    ui.assert_accessible("watched-folders").await;
}

/// "Select", tick both photos, "Share…": the new link is on the clipboard (read back
/// from the X server, as a paste would) and works; the "Shared links" view lists it and
/// revokes it, and then it no longer opens.
async fn share_from_the_gallery(
    ui: &Session,
    app: &TestApp,
    token: &str,
    display: &str,
    shots: Option<&std::path::Path>,
) {
    ui.click("#gallery-select").await;
    ui.wait_text("#selection-count", "Choose photos to share")
        .await;
    for tile in ui.all("#gallery .tile").await {
        ui.click_on(&tile).await;
    }
    ui.wait_text("#selection-count", "2 selected").await;
    ui.wait_count("#gallery .tile[aria-pressed=\"true\"]", 2)
        .await;
    ui.click("#share-selected").await;
    ui.visible("#share-form").await;
    ui.fill("#share-title", "Beach days").await;
    ui.screenshot(shots, "desktop-share.png").await;
    ui.assert_accessible("share").await;
    ui.click("#share-create").await;
    ui.wait_text("#share-copied", "Link copied to the clipboard.")
        .await;
    let link = ui.visible("#share-link").await;
    let link = ui
        .property(&link, "value")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.starts_with("http://app.test/s/"), "{link}");
    assert_eq!(support::display::clipboard_text(display), link);
    ui.screenshot(shots, "desktop-share-link.png").await;
    ui.assert_accessible("share-link").await;
    let share = app.url(&format!(
        "/api/v1/public/shares/{}",
        link.rsplit('/').next().unwrap()
    ));
    assert_eq!(app.client.get(&share).send().await.unwrap().status(), 200);

    ui.click("#share-open-list").await;
    ui.visible("#panel-shares").await;
    ui.wait_text("#shares-table", "Beach days").await;
    ui.wait_text("#shares-table .status", "Active").await;
    ui.screenshot(shots, "desktop-shared-links.png").await;
    ui.assert_accessible("shared-links").await;
    ui.click("#shares-table button.revoke").await;
    ui.wait_text("#shares-table button.revoke", "Really").await;
    ui.click("#shares-table button.revoke").await;
    ui.wait_text("#shares-table .status", "Revoked").await;
    assert_eq!(app.client.get(&share).send().await.unwrap().status(), 404);
    let listed = app
        .bearer(reqwest::Method::GET, "/api/v1/shares", token, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains("\"revoked\":true"), "{listed}");
    ui.click("#tab-gallery").await;
}

/// Signing in again asks for a code; the confirming code's step is spent, so the
/// authenticator's next one is used (one step of drift is accepted).
async fn sign_in_with_a_code(
    ui: &Session,
    app: &TestApp,
    username: &str,
    authenticator: &totp_rs::Totp,
    shots: Option<&std::path::Path>,
) {
    // From the keyboard only: the focus waits in the email field, Tab moves to the
    // password, Enter submits, and the code field has the focus next.
    assert_eq!(ui.focused().await, "email");
    ui.keys(&format!("{EMAIL}{TAB}")).await;
    assert_eq!(ui.focused().await, "password");
    ui.keys(&format!("{PASSWORD}{ENTER}")).await;
    ui.visible("#view-code").await;
    ui.screenshot(shots, "desktop-two-step-code.png").await;
    ui.assert_accessible("two-step-code").await;
    assert_eq!(ui.focused().await, "signin-code");
    let code = authenticator.generate(now() + 30).to_string();
    ui.keys(&format!("{code}{ENTER}")).await;
    ui.visible("#view-main").await;
    ui.wait_text("#account-email", EMAIL).await;
    let token = lookup(username).expect("signed in with the code: a new token");
    assert_eq!(app.me(&token).await.status(), 200);
    keyboard_to_the_viewer_and_back(ui).await;
}

/// The main view from the keyboard: the drop's alternatives have the focus first; Tab
/// reaches the Gallery tab, Enter opens it; Tab reaches a photo, Enter opens it in the
/// viewer, Escape closes it and the focus returns to the photo.
async fn keyboard_to_the_viewer_and_back(ui: &Session) {
    assert_eq!(
        ui.focused().await,
        "choose-files",
        "Choose photos… has the focus"
    );
    ui.keys(&TAB.to_string()).await;
    assert_eq!(ui.focused().await, "choose-folder");
    ui.tab_to("#tab-gallery").await;
    ui.keys(&ENTER.to_string()).await;
    ui.visible("#panel-gallery").await;
    ui.wait_count("#gallery .tile", 3).await; // one left after the delete, two from the folder
    ui.tab_to("#gallery .tile").await;
    ui.keys(&ENTER.to_string()).await;
    ui.wait_images_loaded("#viewer-image", 1).await;
    ui.keys(&ESCAPE.to_string()).await;
    let viewer = ui.all("#viewer").await;
    for _ in 0..50 {
        if !ui.displayed(&viewer[0]).await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!ui.displayed(&viewer[0]).await, "Escape closes the viewer");
    let back = ui
        .execute("return document.activeElement.classList.contains('tile')")
        .await;
    assert_eq!(
        back,
        serde_json::Value::Bool(true),
        "the focus is back on the photo"
    );
}

/// Settings: no CA file is set (one is chosen in a native picker); then two-step
/// sign-in is turned on as a person would with an authenticator app, which is returned.
async fn settings_and_two_step(ui: &Session, shots: Option<&std::path::Path>) -> totp_rs::Totp {
    ui.click("#tab-settings").await;
    ui.wait_text("#settings-ca-file", "None").await;
    let clear = ui.all("#clear-ca-file").await;
    assert!(!ui.displayed(&clear[0]).await);
    ui.wait_text("#two-step-status", "Off").await;
    // This computer's session is listed, marked as this device.
    ui.wait_text("#sessions-table", "This device").await;
    ui.fill("#two-step-start-password", PASSWORD).await;
    ui.click("#two-step-start").await;
    ui.wait_images_loaded("#two-step-qr", 1).await;
    let secret = ui.all("#two-step-secret").await;
    let secret = ui.text(&secret[0]).await.replace(' ', "");
    let seed = totp_rs::Secret::try_from_base32(&secret)
        .unwrap()
        .as_bytes()
        .to_vec();
    let authenticator = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(seed)
        .build()
        .unwrap();
    ui.screenshot(shots, "desktop-two-step-setup.png").await;
    ui.assert_accessible("two-step-setup").await;
    ui.fill(
        "#two-step-confirm-code",
        &authenticator.generate(now()).to_string(),
    )
    .await;
    ui.click("#two-step-confirm").await;
    ui.wait_count("#recovery-codes li", 10).await;
    ui.wait_text("#two-step-status", "On").await;
    ui.screenshot(shots, "desktop-settings.png").await;
    ui.assert_accessible("settings").await;
    authenticator
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
#[ignore = "benchmark for docs/PERFORMANCE.md; run with --ignored"]
fn drop_of_50_photos() {
    if enter("drop_of_50_photos").is_some() {
        return;
    }
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(drop_benchmark(50));
}

/// Polls until `count` elements match `css` (at most 5 minutes); returns when the first
/// matched, after `start`.
async fn first_and_all(
    ui: &Session,
    css: &str,
    count: usize,
    start: std::time::Instant,
) -> std::time::Duration {
    let mut first = None;
    loop {
        let n = ui.all(css).await.len();
        if n > 0 && first.is_none() {
            first = Some(start.elapsed());
        }
        if n == count {
            return first.unwrap_or_default();
        }
        assert!(
            start.elapsed().as_secs() < 300,
            "{n} of {count} match {css}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The watched-folder benchmark of docs/PERFORMANCE.md (ignored by default):
/// `cargo test -p imagevault-desktop --test e2e -- --ignored --nocapture watched_folder_of_1000_photos`.
#[test]
#[ignore = "benchmark for docs/PERFORMANCE.md; run with --ignored"]
fn watched_folder_of_1000_photos() {
    if enter("watched_folder_of_1000_photos").is_some() {
        return;
    }
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(watched_benchmark(1000));
}

/// Copies `count` photos (1200×900 JPEGs) into a watched folder at once and reports
/// when the first and the last card are checked, with the app's peak RSS.
async fn watched_benchmark(count: usize) {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.signed_up_user(EMAIL).await;
    let (display, _xvfb) = xvfb();
    let (driver, _driver) = tauri_driver(&display);
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_imagevault-desktop"));
    let ui = Session::start(&driver, exe).await;
    ui.sign_in(&app.base, EMAIL).await;
    ui.quit().await;
    let camera = support::watch_a_folder(&app.dir);
    let ui = Session::start(&driver, exe).await;
    ui.visible("#view-main").await;

    let photo = jpeg(1200, 900, 5);
    let copied = std::time::Instant::now();
    for i in 0..count {
        std::fs::write(camera.join(format!("IMG_{i:04}.jpg")), &photo).unwrap();
    }
    let first = first_and_all(&ui, ".card:not([data-state=\"checking\"])", count, copied).await;
    let all = copied.elapsed();
    let (rust, web) = support::display::peak_rss_mib("imagevault-desktop");
    println!(
        "{count} × {:.0} KiB 1200×900 JPEGs copied into a watched folder: first card checked \
         after {:.2} s, all {count} after {:.2} s (the {} s quiet period included); \
         peak RSS: app {rust:.0} MiB, web content process {web:.0} MiB",
        f64::from(u32::try_from(photo.len()).unwrap()) / 1024.0,
        first.as_secs_f64(),
        all.as_secs_f64(),
        imagevault_desktop::watch::QUIET.as_secs(),
    );
    ui.quit().await;
    app.finish().await;
}

/// Drops a folder of `count` camera-sized JPEGs (4000×3000, just under 5 MiB) on the
/// signed-in app and reports when the cards and previews appear, and the peak RSS of
/// the app and of its web content process.
async fn drop_benchmark(count: usize) {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.signed_up_user(EMAIL).await;
    let (display, _xvfb) = xvfb();
    let (driver, _driver) = tauri_driver(&display);
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_imagevault-desktop"));
    let ui = Session::start(&driver, exe).await;
    ui.sign_in(&app.base, EMAIL).await;

    let folder = app.dir.join("camera");
    std::fs::create_dir_all(&folder).unwrap();
    let photo = support::photo::camera_jpeg();
    for i in 0..count {
        std::fs::write(folder.join(format!("IMG_{i:04}.jpg")), &photo).unwrap();
    }
    let (left, top, width, height) = window_geometry(&display, "ImageVault");
    drag_files(
        &display,
        std::slice::from_ref(&folder),
        left + width / 2,
        top + height / 2,
    );
    let dropped = std::time::Instant::now();
    let first = first_and_all(&ui, ".card[data-state=\"accepted\"]", count, dropped).await;
    let accepted = dropped.elapsed();
    ui.wait_images_loaded(".card img.preview", count).await;
    let shown = dropped.elapsed();
    let (rust, web) = support::display::peak_rss_mib("imagevault-desktop");
    println!(
        "drop of {count} × {:.2} MiB 4000×3000 JPEGs: first card accepted after {:.2} s, \
         all accepted after {:.2} s, all previews shown after {:.2} s; \
         peak RSS: app {rust:.0} MiB, web content process {web:.0} MiB",
        f64::from(u32::try_from(photo.len()).unwrap()) / 1_048_576.0,
        first.as_secs_f64(),
        accepted.as_secs_f64(),
        shown.as_secs_f64(),
    );
    ui.quit().await;
    app.finish().await;
}
