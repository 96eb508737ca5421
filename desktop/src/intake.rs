//! Dropped and picked files: folders walked, each file checked with the same rules the
//! server applies (`imagevault_common::image::validate`) and given a preview.
//!
//! These are plain functions over paths so they can be tested without a window (Tauri's
//! mock runtime does not deliver drop events); [`crate::files`] runs them off the UI
//! thread and streams the results to the view.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use imagevault_common::image::{ImageError, MAX_IMAGE_BYTES, validate};
use serde::Serialize;

/// Most files taken from one drop or pick; a dropped home folder must not queue up a
/// million cards.
pub const MAX_FILES_PER_DROP: usize = 2_000;
/// How deep folders are walked.
const MAX_DEPTH: usize = 16;

/// The files under the dropped paths: files as given, folders walked (sorted, hidden
/// entries and symlinked folders skipped, so a link loop cannot trap the walk), at most
/// [`MAX_FILES_PER_DROP`]. The flag says whether the cap cut the list short.
pub fn expand(paths: &[PathBuf]) -> (Vec<PathBuf>, bool) {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, 0, &mut out);
        } else {
            out.push(path.clone());
        }
        if out.len() > MAX_FILES_PER_DROP {
            break;
        }
    }
    let truncated = out.len() > MAX_FILES_PER_DROP;
    out.truncate(MAX_FILES_PER_DROP);
    (out, truncated)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH || out.len() > MAX_FILES_PER_DROP {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&entry.path(), depth + 1, out);
        } else if kind.is_file() || (kind.is_symlink() && entry.path().is_file()) {
            out.push(entry.path());
        }
        if out.len() > MAX_FILES_PER_DROP {
            return;
        }
    }
}

/// The name shown for a file: its last path component.
pub fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// What the check of one file found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Verdict {
    /// It will be accepted by the server.
    Accepted {
        /// Width as displayed.
        width: u32,
        /// Height as displayed.
        height: u32,
        /// `JPEG`, `PNG` or `GIF`.
        format: String,
        /// A `data:` URL of a small preview.
        preview: String,
    },
    /// It would be refused; nothing is sent.
    Refused {
        /// Why, in the same words the server would use.
        reason: String,
    },
}

/// Reads and checks one file. Oversized files are refused from their size alone,
/// before a byte is read.
pub fn check(path: &Path) -> Verdict {
    check_with_digest(path).0
}

/// [`check`], and the SHA-256 (base64url) of the bytes it read, when it could read them:
/// the queue's journal tells by it whether a file changed while the app was closed.
pub fn check_with_digest(path: &Path) -> (Verdict, Option<String>) {
    let data = match read(path) {
        Ok(data) => data,
        Err(reason) => return (Verdict::Refused { reason }, None),
    };
    let digest = digest(&data);
    let checked = validate(&data, &display_name(path)).map_err(|e| e.to_string());
    (verdict(checked), Some(digest))
}

/// The SHA-256 of `data` in base64url.
pub fn digest(data: &[u8]) -> String {
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(data))
}

fn verdict(checked: Result<imagevault_common::image::CheckedImage, String>) -> Verdict {
    match checked {
        Ok(checked) => match checked.thumbnail() {
            Ok(thumb) => {
                let (width, height) = checked.display_dimensions();
                let b64 = base64::engine::general_purpose::STANDARD.encode(&thumb.bytes);
                Verdict::Accepted {
                    width,
                    height,
                    format: checked.format().name().to_owned(),
                    preview: format!("data:{};base64,{b64}", thumb.format.content_type()),
                }
            }
            Err(e) => refused(&e),
        },
        Err(reason) => Verdict::Refused { reason },
    }
}

/// The file's bytes after the full check, metadata stripped: what an upload sends, so
/// GPS positions and other hidden metadata never leave the machine. The file is read
/// again at upload time, so a file changed since the drop is checked as it is now.
pub fn read_checked(path: &Path) -> Result<imagevault_common::image::CheckedImage, String> {
    validate(&read(path)?, &display_name(path)).map_err(|e| e.to_string())
}

/// The file's bytes, refused from its size alone when it is too large.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| unreadable(&e))?;
    if !meta.is_file() {
        return Err("This is not a file.".into());
    }
    let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if size > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge { size }.to_string());
    }
    std::fs::read(path).map_err(|e| unreadable(&e))
}

fn refused(err: &ImageError) -> Verdict {
    Verdict::Refused {
        reason: err.to_string(),
    }
}

fn unreadable(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "The file is no longer there.".into(),
        std::io::ErrorKind::PermissionDenied => {
            "You do not have permission to read this file.".into()
        }
        _ => format!("The file could not be read ({err})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("iv-intake-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 40, 40]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn folders_are_walked_sorted_without_hidden_entries() {
        let dir = temp_dir();
        std::fs::create_dir_all(dir.join("trip/day1")).unwrap();
        for f in [
            "trip/b.png",
            "trip/a.png",
            "trip/day1/c.gif",
            "trip/.DS_Store",
            "top.jpg",
        ] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        std::fs::create_dir_all(dir.join("trip/.cache")).unwrap();
        std::fs::write(dir.join("trip/.cache/x.png"), b"x").unwrap();
        let (files, truncated) = expand(&[dir.join("trip"), dir.join("top.jpg")]);
        let names: Vec<_> = files
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap())
            .collect();
        assert_eq!(
            names,
            ["trip/a.png", "trip/b.png", "trip/day1/c.gif", "top.jpg"].map(Path::new)
        );
        assert!(!truncated);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_symlink_loop_does_not_trap_the_walk() {
        let dir = temp_dir();
        std::fs::write(dir.join("a.png"), b"x").unwrap();
        std::os::unix::fs::symlink(&dir, dir.join("loop")).unwrap();
        let (files, _) = expand(std::slice::from_ref(&dir));
        assert_eq!(files, vec![dir.join("a.png")]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn huge_drops_are_capped() {
        let dir = temp_dir();
        for i in 0..=MAX_FILES_PER_DROP {
            std::fs::write(dir.join(format!("{i:05}.png")), b"").unwrap();
        }
        let (files, truncated) = expand(std::slice::from_ref(&dir));
        assert_eq!(files.len(), MAX_FILES_PER_DROP);
        assert!(truncated);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn verdicts_match_the_server_rules() {
        let dir = temp_dir();
        std::fs::write(dir.join("red.png"), png(640, 480)).unwrap();
        std::fs::write(dir.join("notes.jpg"), b"just some text, not a photo").unwrap();
        std::fs::write(dir.join("red.jpg"), png(8, 8)).unwrap();
        std::fs::write(dir.join("big.png"), vec![0u8; MAX_IMAGE_BYTES + 1]).unwrap();

        let Verdict::Accepted {
            width,
            height,
            format,
            preview,
        } = check(&dir.join("red.png"))
        else {
            panic!("a PNG is accepted");
        };
        assert_eq!((width, height, format.as_str()), (640, 480, "PNG"));
        assert!(preview.starts_with("data:image/jpeg;base64,"));

        for (file, expected) in [
            (
                "notes.jpg",
                imagevault_common::image::validate(b"just some text, not a photo", "notes.jpg"),
            ),
            (
                "red.jpg",
                imagevault_common::image::validate(&png(8, 8), "red.jpg"),
            ),
        ] {
            let server_says = expected.unwrap_err().to_string();
            assert_eq!(
                check(&dir.join(file)),
                Verdict::Refused {
                    reason: server_says
                }
            );
        }
        let Verdict::Refused { reason } = check(&dir.join("big.png")) else {
            panic!()
        };
        assert!(
            reason.contains("5 MiB") || reason.contains("MB"),
            "{reason}"
        );
        let Verdict::Refused { reason } = check(&dir.join("gone.png")) else {
            panic!()
        };
        assert_eq!(reason, "The file is no longer there.");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
