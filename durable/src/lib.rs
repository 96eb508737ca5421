//! Private files that survive a crash, written one way for the whole workspace.
//!
//! The server keeps its keys, blobs and outgoing mail in files, the desktop app keeps its
//! settings in one; all of them go through these four functions, so every such file has
//! the same guarantees:
//!
//! - **Owner-only.** Folders are created 0700 and files 0600 (on Unix; the process umask
//!   can only take bits away). A folder that already exists is left as it is.
//! - **Whole or not at all.** A file is written to a uniquely named temporary file in the
//!   same folder (`.<name>.XXXXXX.tmp`), flushed to disk (`fsync`), and only then renamed
//!   to its name. A reader, or the program after a crash, finds the old content or the
//!   new content, never a mix and never a truncated file. A write that fails removes its
//!   temporary file; a crash may leave one behind, which is never read as the file.
//! - **Durable on return.** After the rename the folder is fsynced too, so once
//!   [`write_private`] or [`create_private`] returns `Ok` the new name and content
//!   survive a power loss. A folder made by [`private_dir`] is fsynced into its parent
//!   the same way, so files put in it do not vanish with it.
//! - **No clobbering on create.** [`create_private`] fails with
//!   [`std::io::ErrorKind::AlreadyExists`] when the file exists, even when another
//!   process creates it at the same moment: exactly one of them wins.
//! - **Checked on read.** [`read_private`], for key files, refuses a file that other
//!   users may read or write, or that belongs to another user, with an error naming the
//!   file and the command that fixes it.
//!
//! Errors are [`std::io::Error`] with the operating system's reason; callers wrap them in
//! their own error types. Everything here blocks: async code calls it from a blocking
//! thread.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

/// Permission bits of the folders this crate creates (Unix).
pub const DIR_MODE: u32 = 0o700;
/// Permission bits of the files this crate writes (Unix).
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and any missing parents, owner-only (0700), and fsyncs each new
/// folder into its parent so it survives a crash. A folder that already exists is
/// accepted as it is (its mode is not changed).
pub fn private_dir(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    // The folders about to be made, outermost first: each is fsynced into its parent.
    let mut missing: Vec<&Path> = path
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .collect();
    missing.reverse();
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)?;
    for dir in missing {
        sync_dir(folder_of(dir))?;
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically and durably: a unique temporary file (0600)
/// in the same folder is written and fsynced, renamed over `path`, and the folder is
/// fsynced. The folder is made with [`private_dir`] if missing. Until the rename,
/// `path` keeps its old content; on failure the temporary file is removed.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    publish(path, bytes, true)
}

/// Like [`write_private`], but fails with [`io::ErrorKind::AlreadyExists`] if `path`
/// exists, leaving it untouched. The check and the publication are one atomic step
/// (`renameat2(RENAME_NOREPLACE)`, or a hard link where that is not supported), so of
/// several processes creating the same file at once exactly one succeeds.
pub fn create_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    publish(path, bytes, false)
}

/// Reads a key file, first checking (on Unix) that it is the owner's alone: no group or
/// other permission bits, and owned by the user this process runs as. A file that fails
/// the check is not read, and the error ([`io::ErrorKind::PermissionDenied`]) names the
/// file and the command that fixes it. A missing file is [`io::ErrorKind::NotFound`].
///
/// The bytes are zeroised when dropped.
pub fn read_private(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut file = File::open(path)?;
    // The checks look at the opened file, so the file read is the file checked.
    let meta = file.metadata()?;
    #[cfg(unix)]
    check_private(path, &meta)?;
    // Room beyond the size so reading to the end never grows the buffer, which would
    // leave an unzeroised copy of the key behind.
    let capacity = usize::try_from(meta.len()).unwrap_or(0).saturating_add(64);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn publish(path: &Path, bytes: &[u8], replace: bool) -> io::Result<()> {
    let dir = folder_of(path);
    private_dir(dir)?;
    // Dropping `temp` before it is persisted deletes the temporary file.
    let mut temp = temp_file(path, dir)?;
    // Through the file itself: `NamedTempFile`'s own `Write` wraps errors with its path,
    // which hides the OS error (callers tell a full disk by ENOSPC).
    temp.as_file_mut().write_all(bytes)?;
    temp.as_file().sync_all()?;
    let published = if replace {
        temp.persist(path)
    } else {
        temp.persist_noclobber(path)
    };
    published.map_err(|e| e.error)?;
    sync_dir(dir)
}

/// A new, empty, owner-only file `.<name>.XXXXXX.tmp` beside `path`.
fn temp_file(path: &Path, dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let mut prefix = OsString::from(".");
    prefix.push(path.file_name().unwrap_or(OsStr::new("file")));
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(FILE_MODE));
    builder.tempfile_in(dir)
}

/// The folder holding `path` (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Flushes a folder's entries (new names, renames) to disk.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    // Elsewhere a folder cannot be opened for fsync; the rename is as durable as the
    // platform makes it.
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display();
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{shown} is open to other users (mode {mode:03o}); a key file must be \
                 readable by its owner only: run `chmod 600 {shown}`"
            ),
        ));
    }
    let owner = meta.uid();
    let me = rustix::process::geteuid().as_raw();
    if owner != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{shown} belongs to user id {owner}, but this program runs as user id {me}; \
                 a key file must belong to the user that reads it: run `chown {me} {shown}`"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Names in `dir` that look like this crate's temporary files.
    fn temporaries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.') && n.contains(".tmp"))
            .collect()
    }

    #[test]
    fn folders_are_made_owner_only_all_the_way_down() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        private_dir(&deep).unwrap();
        assert!(deep.is_dir());
        #[cfg(unix)]
        for dir in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&root.path().join(dir)), 0o700, "{dir}");
        }
        // Again: nothing to do. An existing folder keeps its mode.
        private_dir(&deep).unwrap();
        #[cfg(unix)]
        {
            let open = root.path().join("open");
            std::fs::create_dir(&open).unwrap();
            set_mode(&open, 0o755);
            private_dir(&open).unwrap();
            assert_eq!(mode(&open), 0o755);
        }
        // A file in the way is an error, not a folder.
        let file = root.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(private_dir(&file).is_err());
        assert!(private_dir(&file.join("below")).is_err());
    }

    #[test]
    fn written_files_are_owner_only_replaced_whole_and_leave_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("keys/secret.key");
        write_private(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        write_private(&path, b"second, longer").unwrap();
        write_private(&path, b"3").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"3");
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        assert!(temporaries(path.parent().unwrap()).is_empty());
    }

    #[test]
    fn a_bare_file_name_is_written_in_the_current_folder() {
        assert_eq!(folder_of(Path::new("settings.json")), Path::new("."));
        assert_eq!(folder_of(Path::new("/a/b")), Path::new("/a"));
    }

    #[test]
    fn readers_see_the_old_file_or_the_new_one_never_a_mix() {
        const SIZE: usize = 256 * 1024;
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("blob");
        write_private(&path, &vec![b'a'; SIZE]).unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for round in 0..100 {
                    let byte = if round % 2 == 0 { b'b' } else { b'a' };
                    write_private(&path, &vec![byte; SIZE]).unwrap();
                }
                done.store(true, std::sync::atomic::Ordering::Release);
            });
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) || reads == 0 {
                let seen = std::fs::read(&path).unwrap();
                assert_eq!(seen.len(), SIZE, "a whole file");
                assert!(seen.iter().all(|b| *b == seen[0]), "one version, not a mix");
                reads += 1;
            }
        });
        assert!(temporaries(root.path()).is_empty());
    }

    #[test]
    fn a_failed_replace_removes_its_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        // A non-empty folder where the file should go: the rename fails.
        let path = root.path().join("taken");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"kept").unwrap();
        assert!(write_private(&path, b"new").is_err());
        assert_eq!(std::fs::read(path.join("inside")).unwrap(), b"kept");
        assert!(temporaries(root.path()).is_empty());
    }

    #[test]
    fn create_never_overwrites() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("master.key");
        create_private(&path, b"original").unwrap();
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let err = create_private(&path, b"replacement").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"original");
        assert!(temporaries(root.path()).is_empty());
    }

    #[test]
    fn of_many_racing_creates_exactly_one_wins() {
        const RACERS: usize = 8;
        for _ in 0..20 {
            let root = tempfile::tempdir().unwrap();
            let path = root.path().join("keys/master.key");
            let start = std::sync::Barrier::new(RACERS);
            let results: Vec<io::Result<()>> = std::thread::scope(|s| {
                let racers: Vec<_> = (0..RACERS)
                    .map(|i| {
                        let (path, start) = (&path, &start);
                        s.spawn(move || {
                            start.wait();
                            create_private(path, format!("racer {i}").as_bytes())
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            let winners: Vec<usize> = (0..RACERS).filter(|i| results[*i].is_ok()).collect();
            assert_eq!(winners.len(), 1, "{results:?}");
            for result in &results {
                if let Err(e) = result {
                    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
                }
            }
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                format!("racer {}", winners[0])
            );
            assert!(temporaries(path.parent().unwrap()).is_empty());
        }
    }

    #[test]
    fn a_written_file_reads_back_and_a_missing_one_is_not_found() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("secret.key");
        let err = read_private(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        create_private(&path, b"0123456789abcdef").unwrap();
        assert_eq!(read_private(&path).unwrap().as_slice(), b"0123456789abcdef");
    }

    #[cfg(unix)]
    #[test]
    fn key_files_open_to_others_are_refused_with_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("master.key");
        std::fs::write(&path, b"key").unwrap();
        for refused in [0o644, 0o640, 0o604, 0o660, 0o602, 0o620, 0o666] {
            set_mode(&path, refused);
            let err = read_private(&path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
            let text = err.to_string();
            assert!(
                text.contains(&format!("mode {refused:03o}")),
                "{refused:o}: {text}"
            );
            assert!(
                text.contains(&format!("chmod 600 {}", path.display())),
                "{text}"
            );
        }
        for accepted in [0o600, 0o400] {
            set_mode(&path, accepted);
            assert_eq!(read_private(&path).unwrap().as_slice(), b"key");
        }
    }

    /// Only root can give a file away, so this runs (and checks) only as root.
    #[cfg(unix)]
    #[test]
    fn key_files_of_another_user_are_refused() {
        const NOBODY: u32 = 65534;
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("master.key");
        create_private(&path, b"key").unwrap();
        if std::os::unix::fs::chown(&path, Some(NOBODY), None).is_err() {
            eprintln!("not root: cannot give a file to another user; ownership check not run");
            return;
        }
        let err = read_private(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let text = err.to_string();
        assert!(text.contains(&format!("user id {NOBODY}")), "{text}");
        assert!(text.contains("chown"), "{text}");
    }
}
