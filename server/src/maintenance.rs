//! Operator jobs run from the command line while servers keep serving: `sweep` (orphan
//! blobs) and `rotate-keys` (a new master-key version), plus account deletion
//! (crypto-shredding), which the API also uses.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::db::{Db, DbError};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{BlobStore, StorageError};
use crate::vault::VaultError;
use crate::vault::blob::BlobKind;
use crate::vault::keyring::Keyring;

/// What can stop a job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The blob store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The key file failed, or a stored key does not unwrap.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// How old an orphan blob must be before `sweep` removes it: younger ones may belong to
/// an upload whose row is about to commit.
pub const SWEEP_GRACE: Duration = Duration::from_hours(1);

/// What `sweep` found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Blobs checked.
    pub blobs: usize,
    /// Orphan blobs removed.
    pub removed: usize,
    /// Orphan blobs left because they are younger than the grace period.
    pub young_orphans: usize,
    /// Image ids whose row has no image or thumbnail blob (reported, never deleted:
    /// they need an operator's eyes, e.g. a restore of the blob store).
    pub rows_without_blobs: Vec<String>,
}

/// Removes blobs that no row points to (older than `grace`) and reports rows without
/// blobs (uploaded more than `grace` ago). Blobs are listed before rows are read, so a blob whose row commits during the
/// sweep is never taken for an orphan.
pub async fn sweep(db: &Db, store: &BlobStore, grace: Duration) -> Result<SweepReport, JobError> {
    let started = SystemTime::now();
    let blobs = store.list().await?;
    let rows: HashSet<Uuid> = db
        .all_image_ids()
        .await?
        .iter()
        .filter_map(|id| Uuid::try_parse(id).ok())
        .collect();
    let mut report = SweepReport {
        blobs: blobs.len(),
        ..SweepReport::default()
    };
    let mut present: HashSet<(Uuid, BlobKind)> = HashSet::new();
    for blob in blobs {
        present.insert((blob.image, blob.kind));
        if rows.contains(&blob.image) {
            continue;
        }
        let age = started.duration_since(blob.modified).unwrap_or_default();
        if age < grace {
            report.young_orphans += 1;
        } else {
            store.delete(&blob.name).await?;
            tracing::info!(blob = blob.name.as_str(), "orphan blob removed");
            report.removed += 1;
        }
    }
    // A row is expected in the listing only if its upload began a grace period before.
    let settled = started.checked_sub(grace).unwrap_or(started);
    let listed_before = db_rows_created_before(db, settled).await?;
    report.rows_without_blobs = rows
        .iter()
        .filter(|id| listed_before.contains(*id))
        .filter(|id| {
            !present.contains(&(**id, BlobKind::Image))
                || !present.contains(&(**id, BlobKind::Thumbnail))
        })
        .map(ToString::to_string)
        .collect();
    report.rows_without_blobs.sort();
    Ok(report)
}

/// Ids of rows committed before `time`: only those can be expected in a listing taken
/// at `time`.
async fn db_rows_created_before(db: &Db, time: SystemTime) -> Result<HashSet<Uuid>, JobError> {
    let us = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    Ok(db
        .image_ids_created_before(us)
        .await?
        .iter()
        .filter_map(|id| Uuid::try_parse(id).ok())
        .collect())
}

/// What `rotate-keys` did.
#[derive(Debug, PartialEq, Eq)]
pub struct RotateReport {
    /// The new master-key version.
    pub version: u32,
    /// User keys rewrapped with it.
    pub rewrapped: usize,
}

/// Adds a master-key version, records its fingerprint, and rewraps every user key not
/// yet wrapped by it. Images are untouched (their keys derive from the user key, which
/// does not change). Interrupted, it leaves every key readable (old versions stay in the
/// file); run again, it adds a version and finishes the rewrap.
pub async fn rotate_keys(db: &Db, key_file: &std::path::Path) -> Result<RotateReport, JobError> {
    let ring = Keyring::rotate(key_file)?;
    let version = ring.current_version();
    for (v, fingerprint) in ring.fingerprints() {
        if db.master_key_fingerprint(v, &fingerprint).await? != fingerprint {
            return Err(JobError::Vault(VaultError::KeyFile {
                path: key_file.display().to_string(),
                reason: format!("master key version {v} differs from the one recorded"),
            }));
        }
    }
    let mut rewrapped = 0;
    loop {
        let batch = db.user_keys_older_than(version, 500).await?;
        if batch.is_empty() {
            break;
        }
        for (user_id, old) in batch {
            let key = ring.unwrap(&old)?;
            if db.rewrap_user_key(&user_id, &old, &ring.wrap(&key)).await? {
                rewrapped += 1;
            }
        }
    }
    Ok(RotateReport { version, rewrapped })
}

/// Deletes an account for good. The user key goes first: from that moment every blob
/// of the account is undecryptable (crypto-shredding), whatever happens to the rest.
/// Then the account and its rows, then the blobs themselves.
pub async fn delete_account(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let images = state.db.image_ids_of(user_id).await?;
    state.db.delete_user_key(user_id).await?;
    state.db.delete_user(user_id).await?;
    for id in images.iter().filter_map(|id| Uuid::try_parse(id).ok()) {
        crate::images::remove_blobs(state, id).await;
    }
    tracing::info!(target: "security", event = "account_deleted", user.id = user_id, images = images.len(), "account deleted, key destroyed");
    Ok(())
}
