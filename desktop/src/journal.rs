//! The upload queue's journal, so uploads resume after a restart or a crash.
//!
//! `upload-queue.jsonl` in the app's data folder holds one JSON line per change: the
//! session it belongs to, each file queued (its path, size and the SHA-256 of its
//! content; never the photo itself) and each upload settled. A line is fsynced before
//! the upload it records starts, so after a crash the journal names every file that may
//! not be stored yet. One that was stored but not yet marked is sent again with the same
//! `Idempotency-Key` (the token's and the bytes'), and the server answers with the image
//! it already has: each photo is stored once. A torn last line, as a crash mid-write
//! leaves it, is ignored.
//!
//! The journal belongs to one session, named by a keyed digest of its token: queued
//! photos are never sent to another account, so a sign-in as anyone (or a new sign-in
//! as the same person) starts it afresh. Opening it compacts the file to the uploads
//! still open.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The journal's file name in the data folder.
pub const FILE_NAME: &str = "upload-queue.jsonl";

/// One queued upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Unique in the journal.
    pub id: String,
    /// The file as it was dropped or picked.
    pub path: PathBuf,
    /// Its size when it was checked.
    pub size: u64,
    /// SHA-256 (base64url) of its bytes when it was checked.
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Session(String),
    Queued(Entry),
    Settled(String),
}

/// The journal of one data folder.
pub struct Journal {
    path: PathBuf,
    /// The session the file now belongs to, once this process has read or written it.
    session: Mutex<Option<String>>,
}

impl Journal {
    /// The journal in `dir` (created when first written).
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE_NAME),
            session: Mutex::new(None),
        }
    }

    /// The uploads `session` left open, oldest first; the file is rewritten to hold just
    /// them. Anything of another session is dropped.
    pub fn open(&self, session: &str) -> io::Result<Vec<Entry>> {
        let mut current = self.session.lock().unwrap();
        let open = self.take_over(&mut current, session)?;
        Ok(open)
    }

    /// Records that `entries` are queued for `session`, with one fsync for all.
    pub fn queued(&self, session: &str, entries: &[Entry]) -> io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut current = self.session.lock().unwrap();
        if current.as_deref() != Some(session) {
            self.take_over(&mut current, session)?;
        }
        let lines: Vec<Line> = entries.iter().cloned().map(Line::Queued).collect();
        self.append(&lines)
    }

    /// Records that the upload `id` ended (stored, refused, cancelled or given up).
    pub fn settled(&self, id: &str) -> io::Result<()> {
        let _current = self.session.lock().unwrap();
        self.append(&[Line::Settled(id.to_owned())])
    }

    /// Forgets every queued upload (sign-out, or a sign-in that starts a new session).
    pub fn clear(&self) -> io::Result<()> {
        let mut current = self.session.lock().unwrap();
        *current = None;
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Makes the file `session`'s, keeping its open entries if it already was; returns
    /// them.
    fn take_over(&self, current: &mut Option<String>, session: &str) -> io::Result<Vec<Entry>> {
        let (owner, open) = self.read()?;
        let open = if owner.as_deref() == Some(session) {
            open
        } else {
            if !open.is_empty() {
                tracing::info!(
                    count = open.len(),
                    "queued uploads of an earlier session dropped; they are never sent to another"
                );
            }
            Vec::new()
        };
        let mut lines = vec![Line::Session(session.to_owned())];
        lines.extend(open.iter().cloned().map(Line::Queued));
        imagevault_durable::write_private(&self.path, &to_lines(&lines)?)?;
        *current = Some(session.to_owned());
        Ok(open)
    }

    /// The file's session and its open entries, in the order they were queued.
    fn read(&self) -> io::Result<(Option<String>, Vec<Entry>)> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((None, Vec::new())),
            Err(e) => return Err(e),
        };
        let mut session = None;
        let mut open = BTreeMap::new();
        let mut order = 0u64;
        for line in bytes.split(|b| *b == b'\n') {
            // A line that does not parse is a torn write or damage: it is skipped, so
            // at worst a file is queued again, never an unrelated one sent.
            match serde_json::from_slice::<Line>(line) {
                Ok(Line::Session(s)) => {
                    session = Some(s);
                    open.clear();
                }
                Ok(Line::Queued(entry)) => {
                    order += 1;
                    open.insert(entry.id.clone(), (order, entry));
                }
                Ok(Line::Settled(id)) => {
                    open.remove(&id);
                }
                Err(_) => {}
            }
        }
        let mut open: Vec<(u64, Entry)> = open.into_values().collect();
        open.sort_by_key(|(order, _)| *order);
        Ok((session, open.into_iter().map(|(_, e)| e).collect()))
    }

    fn append(&self, lines: &[Line]) -> io::Result<()> {
        let mut file = open_append(&self.path)?;
        file.write_all(&to_lines(lines)?)?;
        file.sync_data()
    }
}

fn to_lines(lines: &[Line]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut out, line)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Opens the journal to append; a new file is the user's alone.
fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry {
            id: id.into(),
            path: PathBuf::from(format!("/photos/{id}.jpg")),
            size: 10,
            sha256: format!("digest-{id}"),
        }
    }

    #[test]
    fn open_uploads_survive_a_restart_and_belong_to_their_session() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::in_dir(dir.path());
        journal
            .queued("s1", &[entry("a"), entry("b"), entry("c")])
            .unwrap();
        journal.settled("b").unwrap();

        // A new process: the open ones, in order, for the same session only.
        let again = Journal::in_dir(dir.path());
        assert_eq!(again.open("s1").unwrap(), [entry("a"), entry("c")]);
        // Compacted: the file now holds just them.
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(!text.contains("\"b\""), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the journal is the user's alone");
        }
        // Another session (a sign-in as anyone) never sees them.
        assert!(Journal::in_dir(dir.path()).open("s2").unwrap().is_empty());
        assert!(Journal::in_dir(dir.path()).open("s1").unwrap().is_empty());
    }

    #[test]
    fn torn_and_hostile_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::in_dir(dir.path());
        journal.queued("s", &[entry("a"), entry("b")]).unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        // Damage in the middle, a line of another shape, and a torn last line.
        file.write_all(
            b"\x00\xff garbage\n{\"queued\":{\"id\":1}}\n{\"settled\":\"a\"}\n{\"settled\":\"b",
        )
        .unwrap();
        assert_eq!(Journal::in_dir(dir.path()).open("s").unwrap(), [entry("b")]);
    }

    #[test]
    fn clearing_forgets_everything_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::in_dir(dir.path());
        assert!(journal.open("s").unwrap().is_empty());
        journal.queued("s", &[entry("a")]).unwrap();
        journal.clear().unwrap();
        journal.clear().unwrap();
        assert!(!dir.path().join(FILE_NAME).exists());
        assert!(Journal::in_dir(dir.path()).open("s").unwrap().is_empty());
    }
}
