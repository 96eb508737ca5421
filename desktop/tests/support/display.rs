//! The desktop's surroundings for end-to-end runs: a virtual X display (Xvfb), the
//! WebDriver bridge (`tauri-driver` + WebKitWebDriver), and real pointer drags with
//! `xdotool` from a GTK drag source. Each is a child process killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process that is killed when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free X display number, with Xvfb running on it.
pub fn xvfb() -> (String, Guard) {
    let n = (90..200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free X display");
    let display = format!(":{n}");
    let child = Command::new("Xvfb")
        .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb runs (apt-get install xvfb)");
    let socket = format!("/tmp/.X11-unix/X{n}");
    wait_until("Xvfb", || Path::new(&socket).exists());
    (display, Guard(child))
}

/// A real notification daemon (dunst) on `display`, owning the session bus's
/// `org.freedesktop.Notifications`, so the app's notifications are shown and kept in its
/// history ([`notifications`]).
pub fn notification_daemon(display: &str) -> Guard {
    let child = Command::new("dunst")
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dunst runs (apt-get install dunst)");
    wait_until("dunst", || {
        Command::new("dunstctl")
            .arg("is-paused")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    Guard(child)
}

/// What the notification daemon has shown so far (`dunstctl history`, JSON).
pub fn notifications() -> String {
    let out = Command::new("dunstctl").arg("history").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tauri-driver` on a free port, using Debian's WebKitWebDriver.
pub fn tauri_driver(display: &str) -> (String, Guard) {
    let port = free_port();
    let native = free_port();
    let bin =
        std::env::var_os("IMAGEVAULT_TAURI_DRIVER").map_or_else(default_driver, PathBuf::from);
    let child = Command::new(&bin)
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} runs ({e}); scripts/test installs it", bin.display()));
    (format!("http://127.0.0.1:{port}"), Guard(child))
}

fn default_driver() -> PathBuf {
    let cached = PathBuf::from("/var/cache/imagevault/tools/bin/tauri-driver");
    if cached.exists() {
        cached
    } else {
        PathBuf::from("tauri-driver")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (at most 20 s) until `ready` holds.
pub fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} did not come"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The geometry (x, y, width, height) of the first window titled exactly `title`.
pub fn window_geometry(display: &str, title: &str) -> (i32, i32, i32, i32) {
    let started = Instant::now();
    loop {
        let out = Command::new("xdotool")
            .args([
                "search",
                "--onlyvisible",
                "--name",
                &format!("^{title}$"),
                "getwindowgeometry",
                "--shell",
            ])
            .env("DISPLAY", display)
            .output()
            .expect("xdotool runs (apt-get install xdotool)");
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.trim().parse::<i32>().ok())
        };
        if let (Some(x), Some(y), Some(w), Some(h)) =
            (field("X"), field("Y"), field("WIDTH"), field("HEIGHT"))
        {
            return (x, y, w, h);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no window titled {title}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Drags `files` from a GTK drag source onto the point (`x`, `y`) with real pointer
/// events, as a person dragging from a file manager does.
pub fn drag_files(display: &str, files: &[PathBuf], x: i32, y: i32) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/drag_source.py");
    let (sx, sy) = (1130, 640);
    let mut source = Command::new("/usr/bin/python3")
        .arg(script)
        .args([sx.to_string(), sy.to_string()])
        .args(files)
        .env("DISPLAY", display)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3-gi runs (apt-get install python3-gi gir1.2-gtk-3.0)");
    let mut lines = BufReader::new(source.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let source = Guard(source);
    let (gx, gy, gw, gh) = window_geometry(display, "imagevault-drag-source");
    let xdo = |args: &[String]| {
        let ok = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", display)
            .status()
            .unwrap();
        assert!(ok.success(), "xdotool {args:?}");
    };
    let (from_x, from_y) = (gx + gw / 2, gy + gh / 2);
    xdo(&["mousemove".into(), from_x.to_string(), from_y.to_string()]);
    std::thread::sleep(Duration::from_millis(200));
    xdo(&["mousedown".into(), "1".into()]);
    // Stepped moves: GTK starts a drag only after the pointer travels past a threshold,
    // and the target sees enter/motion events on the way in.
    for step in 1..=30 {
        let px = from_x + (x - from_x) * step / 30;
        let py = from_y + (y - from_y) * step / 30;
        xdo(&["mousemove".into(), px.to_string(), py.to_string()]);
        std::thread::sleep(Duration::from_millis(40));
    }
    std::thread::sleep(Duration::from_millis(300));
    xdo(&["mouseup".into(), "1".into()]);
    assert_eq!(
        lines.next().map(|l| l.unwrap()).as_deref(),
        Some("drag-end")
    );
    drop(source);
}

/// Peak RSS (`VmHWM`) in MiB of the newest process named `name` and of its web
/// content child (WebKit renders in a separate process).
pub fn peak_rss_mib(name: &str) -> (f64, f64) {
    let hwm = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kib| kib / 1024.0)
    };
    let out = Command::new("pgrep")
        .args(["-n", "-x", &name[..name.len().min(15)]])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let children = Command::new("pgrep").args(["-P", &pid]).output().unwrap();
    let web = String::from_utf8_lossy(&children.stdout)
        .lines()
        .map(hwm)
        .fold(0.0, f64::max);
    (hwm(&pid), web)
}

/// The text on the clipboard of `display` (what a paste would give), as `xclip` reads it
/// from whichever window owns the selection.
pub fn clipboard_text(display: &str) -> String {
    let out = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .env("DISPLAY", display)
        .output()
        .expect("xclip runs (apt-get install xclip)");
    assert!(out.status.success(), "nothing on the clipboard: {out:?}");
    String::from_utf8(out.stdout).expect("text")
}
