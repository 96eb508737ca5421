//! Operator jobs run from the command line while servers keep serving: `sweep` (orphan
//! blobs) and `rotate-keys` (a new master-key version), plus account deletion
//! (crypto-shredding), which the API also uses.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::audit::{Event, Kind};
use crate::db::ids::{ImageId, UserId};
use crate::db::user_keys::Slot;
use crate::db::{Db, DbError, images, user_keys, users};
use crate::keys::{self, MismatchedKey};
use crate::storage::{BlobStore, StorageError};
use crate::vault::blob::BlobKind;
use crate::vault::{MasterKeys, VaultError};

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
    /// The audit log could not be written.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// No account has this email address.
    #[error("no account has the email address {0:?}")]
    NoSuchUser(String),
    /// Stored data is not what its row says; the job stopped before changing it.
    #[error("{0}")]
    Integrity(String),
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
    pub rows_without_blobs: Vec<ImageId>,
}

/// Removes blobs that no row points to (older than `grace`) and reports rows without
/// blobs (uploaded more than `grace` ago). Blobs are listed before rows are read, so a blob whose row commits during the
/// sweep is never taken for an orphan.
pub async fn sweep(db: &Db, store: &BlobStore, grace: Duration) -> Result<SweepReport, JobError> {
    let started = SystemTime::now();
    let blobs = store.list().await?;
    let epochs: HashMap<ImageId, u32> = images::all_ids(db.pool()).await?.into_iter().collect();
    let mut report = SweepReport {
        blobs: blobs.len(),
        ..SweepReport::default()
    };
    let mut present: HashSet<(ImageId, BlobKind)> = HashSet::new();
    for blob in blobs {
        let image = ImageId::from(blob.image);
        // A blob under another key than its row's is a leftover of a key rotation.
        if epochs.get(&image) == Some(&blob.name.epoch()) {
            present.insert((image, blob.kind));
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
    report.rows_without_blobs = epochs
        .into_keys()
        .filter(|id| listed_before.contains(id))
        .filter(|id| {
            !present.contains(&(*id, BlobKind::Image))
                || !present.contains(&(*id, BlobKind::Thumbnail))
        })
        .collect();
    report.rows_without_blobs.sort();
    Ok(report)
}

/// Ids of rows committed before `time`: only those can be expected in a listing taken
/// at `time`.
async fn db_rows_created_before(db: &Db, time: SystemTime) -> Result<HashSet<ImageId>, JobError> {
    let us = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    Ok(images::ids_created_before(db.pool(), us)
        .await?
        .into_iter()
        .collect())
}

/// What `rotate-keys` did.
#[derive(Debug, PartialEq, Eq)]
pub struct RotateReport {
    /// The new master-key version.
    pub version: u32,
    /// User keys rewrapped with it.
    pub rewrapped: usize,
    /// Versions removed (with `--retire`).
    pub retired: Vec<u32>,
}

/// Adds a master-key version, records its fingerprint, and rewraps every user key not
/// yet wrapped by it. Images are untouched (their keys derive from the user key, which
/// does not change). Interrupted, it leaves every key readable (old versions stay);
/// run again, it adds a version and finishes the rewrap. With `retire`, it then removes
/// every older version that no user key uses (see [`retire_unused`]).
pub async fn rotate_keys(
    db: &Db,
    keys: &MasterKeys,
    retire: bool,
) -> Result<RotateReport, JobError> {
    let floor = user_keys::newest_recorded_version(db.pool()).await?;
    let version = keys.rotate(floor)?;
    match keys::check_fingerprints(db, keys).await {
        Ok(()) => {}
        Err(MismatchedKey::Db(e)) => return Err(e.into()),
        Err(MismatchedKey::Vault(e)) => return Err(e.into()),
        Err(mismatch @ MismatchedKey::Version(_)) => {
            return Err(JobError::Vault(VaultError::Token(format!(
                "{}: {mismatch}",
                keys.name()
            ))));
        }
    }
    let rewrapped = rewrap_older_than(db, keys, version).await?;
    let retired = if retire {
        retire_unused(db, keys, version).await?
    } else {
        Vec::new()
    };
    let event = Event::new(Kind::KeyRotation)
        .with("version", version)
        .with("rewrapped", rewrapped)
        .with("retired", format!("{retired:?}"));
    crate::audit::append(db, keys, &event).await?;
    Ok(RotateReport {
        version,
        rewrapped,
        retired,
    })
}

/// Rewraps every current and next user key wrapped by a master-key version older than
/// `version` with the newest one.
async fn rewrap_older_than(db: &Db, keys: &MasterKeys, version: u32) -> Result<usize, JobError> {
    let mut rewrapped = 0;
    for slot in [Slot::Current, Slot::Next] {
        loop {
            let batch = user_keys::older_than(db.pool(), slot, version, 500).await?;
            if batch.is_empty() {
                break;
            }
            for (user_id, old) in batch {
                let new = keys.wrap(&keys.unwrap(&old)?)?;
                let done = user_keys::rewrap(db.pool(), slot, user_id, &old, &new).await?;
                rewrapped += usize::from(done);
            }
        }
    }
    Ok(rewrapped)
}

/// Removes the master-key versions below `newest` that no user key uses. Each is first
/// marked retired in the database, which from then on refuses to store a user key
/// wrapped by it (a server that wrapped a new user's key just before the rotation must
/// retry with the newest version); then keys still wrapped by it are rewrapped, and only
/// then is it removed from the file or token, its audit key kept.
pub async fn retire_unused(db: &Db, keys: &MasterKeys, newest: u32) -> Result<Vec<u32>, JobError> {
    let old: Vec<u32> = keys
        .versions()?
        .into_iter()
        .filter(|v| *v < newest)
        .collect();
    for version in &old {
        user_keys::mark_retired(db.pool(), *version).await?;
    }
    rewrap_older_than(db, keys, newest).await?;
    let in_use = user_keys::kek_versions_in_use(db.pool()).await?;
    let unused: Vec<u32> = old.into_iter().filter(|v| !in_use.contains(v)).collect();
    keys.retire(&unused)?;
    tracing::info!(target: "security", event = "master_keys_retired", versions = ?unused, "master-key versions retired");
    Ok(unused)
}

/// Deletes an account for good: its key (crypto-shredding: from the commit on, every
/// blob of the account is undecryptable), the account and its rows, in one transaction
/// — a failure midway leaves the account whole and usable, never keyless — then the
/// blobs themselves (what fails stays as orphans for `sweep`).
#[tracing::instrument(skip_all, fields(user.id = %user_id))]
pub async fn delete_account(db: &Db, store: &BlobStore, user_id: UserId) -> Result<(), JobError> {
    let mut tx = db.begin().await?;
    let images = images::ids_of(&mut *tx, user_id).await?;
    user_keys::delete(&mut *tx, user_id).await?;
    users::delete(&mut *tx, user_id).await?;
    tx.commit().await.map_err(DbError::from)?;
    // The account is gone whatever happens here: a failure is logged, not returned.
    match db.scrub_deleted().await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "the write-ahead log was in use: the deleted key's old page stays in it until the next checkpoint"
        ),
        Err(e) => tracing::warn!(error = %e, "the write-ahead log was not checkpointed"),
    }
    for (id, epoch) in &images {
        crate::images::remove_blobs(store, *id, *epoch).await;
    }
    tracing::info!(target: "security", event = "account_deleted", images = images.len(), "account deleted, key destroyed");
    Ok(())
}
