//! Watched folders: photos that appear or change in the folders named in Settings are
//! checked with the server's rules and uploaded once they have stopped changing, as if
//! dropped, for the session signed in when watching started.
//!
//! `notify` reports changes (inotify on Linux, `FSEvents` on macOS, `ReadDirectoryChangesW` on Windows);
//! `notify-debouncer-mini` folds each file's burst of events into one, emitted after
//! [`QUIET`] without a change, so a photo still being copied is never read half-written.
//! Resuming after a pause walks the folders for what arrived meanwhile.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, DebouncedEventKind, Debouncer, new_debouncer};
use tauri::async_runtime::{JoinHandle, spawn, spawn_blocking};

use crate::files::Files;
use crate::intake;
use crate::session::{Active, Session};
use crate::settings::Settings;

/// How long a file must stay unchanged before it is taken.
pub const QUIET: Duration = Duration::from_secs(2);

/// The watch of the signed-in session, if any.
#[derive(Default)]
pub struct Watch {
    running: Mutex<Option<Running>>,
    /// When watching was paused (in this run), so resuming finds what came meanwhile.
    paused_since: Mutex<Option<SystemTime>>,
}

struct Running {
    /// Dropping it stops the OS watches.
    _debouncer: Debouncer<RecommendedWatcher>,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watch {
    /// Watches what `settings` names for the signed-in session, replacing any earlier
    /// watch; nothing is watched while paused, signed out or with no folders. Returns a
    /// sentence for each folder that cannot be watched.
    pub fn apply(
        &self,
        settings: &Settings,
        files: &Arc<Files>,
        session: &Arc<Session>,
    ) -> Vec<String> {
        let mut running = self.running.lock().unwrap();
        *running = None;
        if settings.watch_paused {
            self.paused_since
                .lock()
                .unwrap()
                .get_or_insert_with(SystemTime::now);
            return Vec::new();
        }
        let Ok(active) = session.active() else {
            return Vec::new();
        };
        if settings.watched_folders.is_empty() {
            return Vec::new();
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let debouncer = new_debouncer(QUIET, move |events: DebounceEventResult| {
            for event in events.into_iter().flatten() {
                // `AnyContinuous`: still changing; it comes again once it settles.
                if event.kind == DebouncedEventKind::Any {
                    let _ = tx.send(event.path);
                }
            }
        });
        let mut debouncer = match debouncer {
            Ok(debouncer) => debouncer,
            Err(e) => return vec![format!("Folders cannot be watched on this computer ({e}).")],
        };
        let mut problems = Vec::new();
        for folder in &settings.watched_folders {
            if let Err(e) = debouncer.watcher().watch(folder, RecursiveMode::Recursive) {
                tracing::warn!(folder = %folder.display(), error = %e, "folder not watched");
                problems.push(format!("{} cannot be watched ({e}).", folder.display()));
            }
        }
        let since = self.paused_since.lock().unwrap().take();
        let taker = Taker {
            folders: settings.watched_folders.clone(),
            files: Arc::clone(files),
            session: Arc::clone(session),
            active,
            taken: HashMap::new(),
        };
        let task = spawn(taker.run(rx, since));
        *running = Some(Running {
            _debouncer: debouncer,
            task,
        });
        problems
    }

    /// Stops watching (sign-out).
    pub fn stop(&self) {
        *self.running.lock().unwrap() = None;
    }
}

/// Hands settled paths to the upload panel.
struct Taker {
    folders: Vec<PathBuf>,
    files: Arc<Files>,
    session: Arc<Session>,
    active: Active,
    /// Size and modification time of each file when it was taken. Reading a file (the
    /// check, the upload) raises events too, and a file is taken again only when it
    /// really changed, so the app never feeds on its own reads.
    taken: HashMap<PathBuf, (u64, SystemTime)>,
}

impl Taker {
    async fn run(
        mut self,
        mut settled: tokio::sync::mpsc::UnboundedReceiver<PathBuf>,
        since: Option<SystemTime>,
    ) {
        if let Some(since) = since {
            let folders = self.folders.clone();
            let arrived = spawn_blocking(move || arrived_since(&folders, since))
                .await
                .unwrap_or_default();
            for path in arrived {
                self.take(path);
            }
        }
        while let Some(path) = settled.recv().await {
            self.take(path);
        }
    }

    fn take(&mut self, path: PathBuf) {
        // Only for the session that started the watch: never for a later sign-in.
        let current = self
            .session
            .active()
            .is_ok_and(|a| a.token.same(&self.active.token));
        if !current || !is_photo(&path) {
            return;
        }
        let Some(origin) = origin(&self.folders, &path) else {
            return;
        };
        // Its size goes to the card, and with its time tells whether it changed since it
        // was last taken.
        let Ok(stamp) = std::fs::metadata(&path).and_then(|m| Ok((m.len(), m.modified()?))) else {
            return;
        };
        if self.taken.get(&path) == Some(&stamp) {
            return;
        }
        if self
            .files
            .add_watched(path.clone(), stamp.0, origin, &self.session, &self.active)
        {
            self.taken.insert(path, stamp);
        }
    }
}

/// A visible JPEG, PNG or GIF file (by its name; its content is checked later).
fn is_photo(path: &Path) -> bool {
    let visible = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.starts_with('.'));
    let photo = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["jpg", "jpeg", "png", "gif"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    });
    visible && photo && path.is_file()
}

/// The name of the watched folder holding `path` (the innermost, when they nest).
fn origin(folders: &[PathBuf], path: &Path) -> Option<String> {
    folders
        .iter()
        .filter(|f| path.starts_with(f))
        .max_by_key(|f| f.components().count())
        .map(|f| intake::display_name(f))
}

/// Photos in `folders` changed since `since` (the drop's limits apply). File times come
/// from the kernel's coarse clock, which may lag `SystemTime::now` by a tick, so a second
/// of slack keeps a photo saved just after the pause from being missed.
fn arrived_since(folders: &[PathBuf], since: SystemTime) -> Vec<PathBuf> {
    let since = since - Duration::from_secs(1);
    intake::expand(folders)
        .0
        .into_iter()
        .filter(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_told_by_name_and_folders_by_the_innermost() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a.JPG",
            "b.png",
            "c.gif",
            "d.jpeg",
            "notes.txt",
            ".hidden.jpg",
            "e.jpg.part",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let photos: Vec<&str> = ["a.JPG", "b.png", "c.gif", "d.jpeg"].to_vec();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(is_photo(&path), photos.contains(&name), "{name}");
        }
        assert!(
            !is_photo(&dir.path().join("gone.jpg")),
            "a file no longer there"
        );

        let outer = PathBuf::from("/home/me/Pictures");
        let inner = outer.join("Camera");
        let folders = [outer.clone(), inner.clone()];
        assert_eq!(
            origin(&folders, &inner.join("x.jpg")).as_deref(),
            Some("Camera")
        );
        assert_eq!(
            origin(&folders, &outer.join("y.jpg")).as_deref(),
            Some("Pictures")
        );
        assert_eq!(origin(&folders, Path::new("/tmp/z.jpg")), None);
    }
}
