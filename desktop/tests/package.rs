//! The desktop app as people install it. The .deb that `scripts/package` builds (into
//! `dist/`; `scripts/test` builds it first) is installed with `apt-get`, so its declared
//! dependencies are resolved for real; the installed binary is started from its
//! installed path in a real window under Xvfb, signs in to a real server, watches a
//! folder and uploads a photo saved there, which the browser gallery then shows; its
//! desktop entry and icons are where a desktop looks for them; then the package is
//! removed and leaves nothing behind. The .rpm is read with `rpm`: the same app, files and dependencies.
//!
//! Installing needs root (CI runs as root).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::display::{tauri_driver, xvfb};
use support::secret_service::enter;
use support::server::images::jpeg;
use support::server::{Engine, TestApp};
use support::webdriver::Session;

const EMAIL: &str = "newcomer@example.com";

/// The binary's installed path.
const BINARY: &str = "/usr/bin/imagevault-desktop";

/// The one package of `kind` (`deb` or `rpm`) in `dist/`.
fn package(kind: &str) -> PathBuf {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    let found: Vec<PathBuf> = std::fs::read_dir(&dist)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/package first", dist.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == kind))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one .{kind} in {}: {found:?}",
        dist.display()
    );
    found[0].canonicalize().unwrap()
}

/// Runs `program` and returns its standard output; fails the test with everything it
/// said when it fails.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// An installed package, removed with `apt-get remove` when dropped.
struct Installed(String);

impl Drop for Installed {
    fn drop(&mut self) {
        let removed = Command::new("apt-get")
            .args(["remove", "-y", &self.0])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output();
        let ok = removed.as_ref().is_ok_and(|o| o.status.success());
        assert!(
            ok || std::thread::panicking(),
            "apt-get remove {}: {removed:?}",
            self.0
        );
    }
}

#[test]
fn the_deb_installs_starts_and_removes_cleanly() {
    if enter("the_deb_installs_starts_and_removes_cleanly").is_some() {
        return;
    }
    let deb = package("deb");
    let name = run("dpkg-deb", &["--field", deb.to_str().unwrap(), "Package"])
        .trim()
        .to_owned();
    let control = run("dpkg-deb", &["--field", deb.to_str().unwrap()]);
    for field in [
        "Version: 0.1.0",
        "Depends: ",
        "libwebkit2gtk-4.1-0",
        "Description: ",
    ] {
        assert!(control.contains(field), "{field} in\n{control}");
    }

    run(
        "apt-get",
        &[
            "install",
            "-y",
            "--no-install-recommends",
            deb.to_str().unwrap(),
        ],
    );
    // Removed again even when a step below fails, so no run leaves it installed.
    let installed = Installed(name.clone());
    let files = run("dpkg", &["--listfiles", &name]);
    assert!(files.lines().any(|f| f == BINARY), "{files}");
    let entry = files
        .lines()
        .find(|f| f.starts_with("/usr/share/applications/") && f.ends_with(".desktop"))
        .unwrap_or_else(|| panic!("a desktop entry in\n{files}"));
    run("desktop-file-validate", &[entry]);
    let entry_text = std::fs::read_to_string(entry).unwrap();
    for line in ["Name=ImageVault", "Exec=imagevault-desktop", "Categories="] {
        assert!(entry_text.contains(line), "{line} in\n{entry_text}");
    }
    for size in ["32x32", "128x128", "256x256@2"] {
        assert!(
            files
                .lines()
                .any(|f| f.starts_with(&format!("/usr/share/icons/hicolor/{size}/apps/"))),
            "a {size} icon in\n{files}"
        );
    }

    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(a_newcomers_first_run());

    drop(installed);
    assert!(!Path::new(BINARY).exists(), "the binary is removed");
    assert!(!Path::new(entry).exists(), "the desktop entry is removed");
    let status = Command::new("dpkg-query")
        .args(["--show", "--showformat=${Status}", &name])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&status.stdout).contains("install ok installed"),
        "{name} is no longer installed"
    );
}

/// What a newcomer does with the installed app: sign in, point it at a folder, and see
/// a new photo there arrive in the browser gallery.
async fn a_newcomers_first_run() {
    let shots = std::env::var_os("IMAGEVAULT_SCREENSHOTS").map(PathBuf::from);
    let shots = shots.as_deref();
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.signed_up_user(EMAIL).await;
    let (display, _xvfb) = xvfb();
    let (driver, _driver) = tauri_driver(&display);
    let ui = Session::start(&driver, Path::new(BINARY)).await;
    ui.visible("#view-signin").await;
    ui.screenshot(shots, "desktop-installed.png").await;
    ui.sign_in(&app.base, EMAIL).await;
    ui.quit().await;

    // A folder to watch (the picker's part), then the app again, signed in from the
    // keychain; a new photo saved into the folder goes up by itself.
    let camera = support::watch_a_folder(&app.dir);
    let ui = Session::start(&driver, Path::new(BINARY)).await;
    ui.visible("#view-main").await;
    std::fs::write(camera.join("first-photo.jpg"), jpeg(1024, 768, 9)).unwrap();
    ui.wait_count(".card[data-state=\"done\"]", 1).await;
    ui.quit().await;
    let browser = support::server::browser();
    let signed_in = app.login_form(&browser, EMAIL).await;
    assert_eq!(signed_in.status(), reqwest::StatusCode::SEE_OTHER);
    let gallery = app.page(&browser, "/").await;
    assert!(
        gallery.contains("first-photo.jpg"),
        "the browser gallery shows it:\n{gallery}"
    );
    app.finish().await;
}

#[test]
fn the_rpm_carries_the_same_app() {
    let rpm = package("rpm");
    let rpm = rpm.to_str().unwrap();
    let info = run("rpm", &["--query", "--package", "--info", rpm]);
    for field in [
        "Version     : 0.1.0",
        "Architecture: x86_64",
        "Summary     :",
    ] {
        assert!(info.contains(field), "{field} in\n{info}");
    }
    let files = run("rpm", &["--query", "--package", "--list", rpm]);
    assert!(files.lines().any(|f| f == BINARY), "{files}");
    assert!(files.contains("/usr/share/applications/"), "{files}");
    let requires = run("rpm", &["--query", "--package", "--requires", rpm]);
    assert!(requires.contains("libwebkit2gtk-4.1.so.0"), "{requires}");
    let recommends = run("rpm", &["--query", "--package", "--recommends", rpm]);
    assert!(
        recommends.contains("gnome-keyring"),
        "a Secret Service: {recommends}"
    );
}
