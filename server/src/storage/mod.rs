//! Where encrypted blobs live: one interface over a local folder (the embedded default)
//! and an S3-compatible object store (production).
//!
//! Blobs are named only by server-made ids (`BlobName`), never by anything a client
//! sent, and `put` is durable when it returns: the row that points to a blob is
//! committed only after that (`docs/DESIGN.md`, "Storage and durability"). Both
//! backends only ever see ciphertext.

mod files;
mod s3;

pub use files::FileStore;
pub use s3::S3Store;

use std::time::SystemTime;

use uuid::Uuid;

use crate::config::StorageUrl;
use crate::vault::blob::BlobKind;

/// Storage failures, mapped to 503/507 by the API, never shown in detail.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The disk or bucket is full.
    #[error("storage is full")]
    Full,
    /// The store could not be reached or refused the request; a retry may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The store is misconfigured (bad credentials, missing bucket, bad endpoint).
    #[error("storage misconfigured: {0}")]
    Config(String),
    /// Anything else the backend reported.
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
}

impl StorageError {
    pub(crate) fn from_io(err: std::io::Error) -> Self {
        // ENOSPC and EDQUOT: out of space or over quota — also when a library wrapped
        // the OS error in one of its own (with a path, say).
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(error) = cause {
            let os = error
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error);
            if matches!(os, Some(28 | 122)) {
                return Self::Full;
            }
            cause = error.source();
        }
        Self::Io(err)
    }
}

/// A stored blob as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its name.
    pub name: BlobName,
    /// The image it belongs to.
    pub image: Uuid,
    /// Image or thumbnail.
    pub kind: BlobKind,
    /// When it was last written: `sweep` leaves young orphans alone, since they may be
    /// uploads whose row is about to commit.
    pub modified: SystemTime,
}

/// The configured backend.
#[derive(Debug, Clone)]
pub enum BlobStore {
    /// A local folder.
    Files(FileStore),
    /// An S3-compatible bucket.
    S3(S3Store),
}

impl BlobStore {
    /// Opens the store `STORAGE_URL` names.
    pub fn open(url: &StorageUrl) -> Result<Self, StorageError> {
        Ok(match url {
            StorageUrl::Files(path) => Self::Files(FileStore::open(path)?),
            StorageUrl::S3 {
                bucket,
                prefix,
                options,
            } => Self::S3(S3Store::open(bucket, prefix, options)?),
        })
    }

    /// Stores `bytes` durably under `name`.
    pub async fn put(&self, name: &BlobName, bytes: Vec<u8>) -> Result<(), StorageError> {
        match self {
            Self::Files(store) => store.put(name, bytes).await,
            Self::S3(store) => store.put(name, bytes).await,
        }
    }

    /// The blob, or `None` if there is none.
    pub async fn get(&self, name: &BlobName) -> Result<Option<Vec<u8>>, StorageError> {
        match self {
            Self::Files(store) => store.get(name).await,
            Self::S3(store) => store.get(name).await,
        }
    }

    /// Removes the blob; removing a missing blob is not an error.
    pub async fn delete(&self, name: &BlobName) -> Result<(), StorageError> {
        match self {
            Self::Files(store) => store.delete(name).await,
            Self::S3(store) => store.delete(name).await,
        }
    }

    /// Every blob we wrote, sorted by name.
    pub async fn list(&self) -> Result<Vec<Listed>, StorageError> {
        let mut listed = match self {
            Self::Files(store) => store.list().await?,
            Self::S3(store) => store.list().await?,
        };
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        match self {
            Self::Files(store) => store.ping().await,
            Self::S3(store) => store.ping().await,
        }
    }
}

/// The storage name of a blob: the image id, then `.e<N>` when it is sealed under the
/// owner's N-th key (N > 0: after `rotate-user-keys`), then `.thumb` for a thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobName(String);

impl BlobName {
    /// The name of an image's blob of `kind` under the owner's first key.
    pub fn new(image: Uuid, kind: BlobKind) -> Self {
        Self::at(image, kind, 0)
    }

    /// The name of an image's blob of `kind` sealed under the owner's key `epoch`.
    pub fn at(image: Uuid, kind: BlobKind, epoch: u32) -> Self {
        let mut name = image.hyphenated().to_string();
        if epoch > 0 {
            use std::fmt::Write as _;
            let _ = write!(name, ".e{epoch}");
        }
        if kind == BlobKind::Thumbnail {
            name.push_str(".thumb");
        }
        Self(name)
    }

    /// Parses a stored name back (for listings); `None` for anything we did not write.
    pub fn parse(name: &str) -> Option<(Self, Uuid, BlobKind)> {
        let (rest, kind) = match name.strip_suffix(".thumb") {
            Some(rest) => (rest, BlobKind::Thumbnail),
            None => (name, BlobKind::Image),
        };
        let (id, epoch) = match rest.split_once(".e") {
            Some((id, epoch)) => (id, epoch.parse().ok()?),
            None => (rest, 0),
        };
        let uuid = Uuid::try_parse(id).ok()?;
        let canonical = Self::at(uuid, kind, epoch);
        (canonical.0 == name).then_some((canonical, uuid, kind))
    }

    /// The owner's key epoch the blob is sealed under (0 for a name without `.e<N>`).
    pub fn epoch(&self) -> u32 {
        let rest = self.0.strip_suffix(".thumb").unwrap_or(&self.0);
        rest.split_once(".e")
            .and_then(|(_, epoch)| epoch.parse().ok())
            .unwrap_or(0)
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
            for epoch in [0, 1, 70_000] {
                let name = BlobName::at(id, kind, epoch);
                let (parsed, uuid, parsed_kind) = BlobName::parse(name.as_str()).unwrap();
                assert_eq!((parsed.epoch(), uuid, parsed_kind), (epoch, id, kind));
                assert_eq!(parsed, name);
            }
        }
        assert_eq!(
            BlobName::new(id, BlobKind::Image),
            BlobName::at(id, BlobKind::Image, 0)
        );
        let id = id.hyphenated();
        for bad in [
            format!("{id}.e0"),
            format!("{id}.e01"),
            format!("{id}.e-1"),
            format!("{id}.e"),
            format!("{id}.thumb.e1"),
            format!("{id}.e1.e2"),
        ] {
            assert!(BlobName::parse(&bad).is_none(), "{bad}");
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

    #[test]
    fn a_full_disk_is_recognised_even_inside_a_wrapping_error() {
        #[derive(Debug)]
        struct WithPath(std::io::Error);
        impl std::fmt::Display for WithPath {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} at /some/path", self.0)
            }
        }
        impl std::error::Error for WithPath {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let full = || std::io::Error::from_raw_os_error(28);
        assert!(matches!(StorageError::from_io(full()), StorageError::Full));
        let wrapped = std::io::Error::other(WithPath(full()));
        assert!(matches!(StorageError::from_io(wrapped), StorageError::Full));
        let other = std::io::Error::other(WithPath(std::io::Error::from_raw_os_error(13)));
        assert!(matches!(StorageError::from_io(other), StorageError::Io(_)));
    }
}
