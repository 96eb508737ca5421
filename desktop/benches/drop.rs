//! A drop of 50 camera-sized JPEGs (4000×3000, just under 5 MiB each): time until the
//! first preview and until all 50, against the time one core needs to check them one by
//! one, and the process's peak RSS. This is the app's own work — walk, read, full check,
//! thumbnail, preview encoding, events — measured without the web view.
//!
//! `cargo bench -p imagevault-desktop --bench drop` (`-- N` for another count).
// Report figures, where the casts are the point.
#![allow(clippy::cast_precision_loss)]

#[path = "../tests/support/photo.rs"]
mod photo;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagevault_desktop::events::{BatchEvent, CardCheck, CardEvent, Events, UploadEvent};
use imagevault_desktop::files::Files;
use imagevault_desktop::intake::{self, Verdict};

/// Records when each preview arrived.
struct Clock {
    start: Instant,
    previews: Mutex<Vec<Duration>>,
    refused: Mutex<Vec<String>>,
}

impl Events for Clock {
    fn card(&self, event: CardEvent) {
        match event.check {
            CardCheck::Done(Verdict::Accepted { .. }) => {
                self.previews.lock().unwrap().push(self.start.elapsed());
            }
            CardCheck::Done(Verdict::Refused { reason }) => {
                self.refused.lock().unwrap().push(reason);
            }
            CardCheck::Checking { .. } => {}
        }
    }
    fn upload(&self, _: UploadEvent) {}
    fn signed_out(&self, _: &str) {}
    fn drop_hover(&self, _: bool) {}
    fn batch(&self, _: BatchEvent) {}
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let dir = std::env::temp_dir().join(format!("iv-drop-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = photo::camera_jpeg();
    let paths: Vec<PathBuf> = (0..count)
        .map(|i| {
            // Copies of one photo: each is still read, checked and thumbnailed in full,
            // and encoding 50 distinct 12 MP JPEGs would take longer than the drop.
            let path = dir.join(format!("IMG_{i:04}.jpg"));
            std::fs::write(&path, &template).unwrap();
            path
        })
        .collect();
    let size = template.len();
    let rss_before = peak_rss_mib();

    // One core, one file at a time: the baseline the parallel drop is compared with.
    let one = Instant::now();
    assert!(matches!(intake::check(&paths[0]), Verdict::Accepted { .. }));
    let single = one.elapsed();

    let clock = Arc::new(Clock {
        start: Instant::now(),
        previews: Mutex::default(),
        refused: Mutex::default(),
    });
    let files = Arc::new(Files::new(
        clock.clone(),
        imagevault_desktop::journal::Journal::in_dir(&dir),
    ));
    let clock2 = Arc::clone(&clock);
    tauri::async_runtime::block_on(async move {
        let clock = clock2;
        let start = Instant::now();
        let (added, _) = files.add(vec![dir.clone()]).await;
        assert_eq!(added, count);
        while clock.previews.lock().unwrap().len() + clock.refused.lock().unwrap().len() < count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = start;
    });
    let previews = clock.previews.lock().unwrap().clone();
    assert!(
        clock.refused.lock().unwrap().is_empty(),
        "{:?}",
        clock.refused.lock().unwrap()
    );
    let all = *previews.last().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let ideal = single.as_secs_f64() * count as f64 / cores as f64;
    println!(
        "drop of {count} × {:.2} MiB 4000×3000 JPEGs on {cores} cores",
        size as f64 / 1_048_576.0
    );
    println!(
        "  first preview after   {:>8.0} ms",
        previews[0].as_secs_f64() * 1e3
    );
    println!(
        "  10th preview after    {:>8.0} ms",
        previews[9.min(count - 1)].as_secs_f64() * 1e3
    );
    println!("  all previews after    {:>8.2} s", all.as_secs_f64());
    println!(
        "  one file on one core  {:>8.0} ms",
        single.as_secs_f64() * 1e3
    );
    println!(
        "  parallel efficiency   {:>8.0} % (one-core time × files / cores ÷ wall time)",
        100.0 * ideal / all.as_secs_f64()
    );
    println!(
        "  peak RSS              {:>8.0} MiB (before the drop: {rss_before:.0} MiB)",
        peak_rss_mib()
    );
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("iv-drop-bench-{}", std::process::id())),
    );
}
