//! Where encrypted blobs live: one interface over a local folder (the embedded default)
//! and, to come, an S3-compatible object store.
//!
//! Blobs are named only by server-made ids (`BlobName`), never by anything a client
//! sent, and `put` is durable when it returns: the row that points to a blob is
//! committed only after that (see the design's durability rules).

mod files;

pub use files::FileStore;

use uuid::Uuid;

use crate::vault::blob::BlobKind;

/// Storage failures, mapped to 503/507 by the API, never shown in detail.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The disk or bucket is full.
    #[error("storage is full")]
    Full,
    /// Anything else the backend reported.
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
}

impl StorageError {
    pub(crate) fn from_io(err: std::io::Error) -> Self {
        // ENOSPC and EDQUOT: out of space or over quota.
        if matches!(err.raw_os_error(), Some(28 | 122)) {
            Self::Full
        } else {
            Self::Io(err)
        }
    }
}

/// The storage name of a blob: the image id, plus `.thumb` for its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobName(String);

impl BlobName {
    /// The name of an image's blob of `kind`.
    pub fn new(image: Uuid, kind: BlobKind) -> Self {
        let id = image.hyphenated().to_string();
        Self(match kind {
            BlobKind::Image => id,
            BlobKind::Thumbnail => format!("{id}.thumb"),
        })
    }

    /// Parses a stored name back (for listings); `None` for anything we did not write.
    pub fn parse(name: &str) -> Option<(Self, Uuid, BlobKind)> {
        let (id, kind) = match name.strip_suffix(".thumb") {
            Some(id) => (id, BlobKind::Thumbnail),
            None => (name, BlobKind::Image),
        };
        let uuid = Uuid::try_parse(id).ok()?;
        let canonical = Self::new(uuid, kind);
        (canonical.0 == name).then_some((canonical, uuid, kind))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A two-character fan-out folder, so no single folder grows huge.
    fn shard(&self) -> &str {
        &self.0[..2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_refuse_anything_else() {
        let id = Uuid::new_v4();
        for kind in [BlobKind::Image, BlobKind::Thumbnail] {
            let name = BlobName::new(id, kind);
            let (parsed, uuid, parsed_kind) = BlobName::parse(name.as_str()).unwrap();
            assert_eq!((parsed, uuid, parsed_kind), (name, id, kind));
        }
        for bad in [
            "",
            "../etc/passwd",
            "x.thumb",
            "6F1C2B7E-6D4E-4B8A-9A57-3C1F0E2D4B5A",
            ".tmp",
            "a/b",
        ] {
            assert!(BlobName::parse(bad).is_none(), "{bad}");
        }
    }
}
