//! Blobs as files under one folder: written to a temporary name, fsynced, renamed into
//! place and the folder fsynced, so after `put` returns the blob survives a crash, and
//! a crash before that leaves at most a temporary file that is never served.

use std::path::{Path, PathBuf};

use super::{BlobName, Listed, StorageError};

/// A local folder of blobs.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// Opens (creating, owner-only) the folder.
    pub fn open(root: &Path) -> Result<Self, StorageError> {
        // Owner-only, and fsynced into its parent so the blobs put in it survive a crash.
        imagevault_durable::private_dir(root).map_err(StorageError::from_io)?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn path(&self, name: &BlobName) -> PathBuf {
        self.root.join(name.shard()).join(name.as_str())
    }

    /// Stores `bytes` durably under `name` (replacing an older blob of that name).
    pub async fn put(&self, name: &BlobName, bytes: Vec<u8>) -> Result<(), StorageError> {
        let path = self.path(name);
        // The shard folder is made on first use; the blob is replaced whole, durably.
        tokio::task::spawn_blocking(move || imagevault_durable::write_private(&path, &bytes))
            .await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
            .map_err(StorageError::from_io)
    }

    /// The blob, or `None` if there is none.
    pub async fn get(&self, name: &BlobName) -> Result<Option<Vec<u8>>, StorageError> {
        match tokio::fs::read(self.path(name)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::from_io(e)),
        }
    }

    /// Removes the blob; removing a missing blob is not an error.
    pub async fn delete(&self, name: &BlobName) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.path(name)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::from_io(e)),
        }
    }

    /// Every stored blob (temporary files and foreign files are skipped).
    pub async fn list(&self) -> Result<Vec<Listed>, StorageError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut listed = Vec::new();
            for shard in std::fs::read_dir(&root)? {
                let shard = shard?;
                if !shard.file_type()?.is_dir() {
                    continue;
                }
                for entry in std::fs::read_dir(shard.path())? {
                    let entry = entry?;
                    let Some((name, image, kind)) =
                        entry.file_name().to_str().and_then(BlobName::parse)
                    else {
                        continue;
                    };
                    // A blob deleted since `read_dir` is simply no longer listed.
                    let modified = match entry.metadata() {
                        Ok(meta) => meta.modified()?,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    };
                    listed.push(Listed {
                        name,
                        image,
                        kind,
                        modified,
                    });
                }
            }
            Ok(listed)
        })
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
        .map_err(StorageError::from_io)
    }

    /// Whether the folder is still there and readable.
    pub async fn ping(&self) -> bool {
        tokio::fs::metadata(&self.root)
            .await
            .is_ok_and(|m| m.is_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::blob::BlobKind;

    fn store() -> (FileStore, PathBuf) {
        let root = std::env::temp_dir().join(format!("iv-blobs-{}", uuid::Uuid::new_v4()));
        (FileStore::open(&root).unwrap(), root)
    }

    async fn names(store: &FileStore) -> Vec<BlobName> {
        let mut names: Vec<_> = store
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn put_get_list_delete() {
        let (store, root) = store();
        let id = uuid::Uuid::new_v4();
        let (image, thumb) = (
            BlobName::new(id, BlobKind::Image),
            BlobName::new(id, BlobKind::Thumbnail),
        );
        store.put(&image, b"cipher".to_vec()).await.unwrap();
        store.put(&thumb, b"small".to_vec()).await.unwrap();
        assert_eq!(
            store.get(&image).await.unwrap().as_deref(),
            Some(&b"cipher"[..])
        );
        let mut expected = vec![image.clone(), thumb.clone()];
        expected.sort();
        assert_eq!(names(&store).await, expected);
        store.delete(&image).await.unwrap();
        store.delete(&image).await.unwrap();
        assert_eq!(store.get(&image).await.unwrap(), None);
        assert_eq!(names(&store).await, vec![thumb]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn blobs_are_private_and_no_temporary_files_remain() {
        let (store, root) = store();
        let name = BlobName::new(uuid::Uuid::new_v4(), BlobKind::Image);
        store.put(&name, vec![7; 4096]).await.unwrap();
        store.put(&name, vec![8; 10]).await.unwrap();
        assert_eq!(
            store.get(&name).await.unwrap(),
            Some(vec![8; 10]),
            "replaced whole"
        );
        let shard = root.join(&name.as_str()[..2]);
        let files: Vec<String> = std::fs::read_dir(&shard)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, vec![name.as_str().to_owned()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(shard.join(name.as_str()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Stray files in the folder are not blobs.
        std::fs::write(shard.join("notes.txt"), "x").unwrap();
        assert_eq!(names(&store).await, vec![name]);
        std::fs::remove_dir_all(root).unwrap();
    }
}
