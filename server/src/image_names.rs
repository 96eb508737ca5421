//! Filenames sealed under their owner's key: a copy of the database shows no
//! `passport_scan.jpg`. Each name is sealed in the vault's blob format under a name key
//! derived from the user key whose epoch the row records (so `rotate-user-keys` seals it
//! again with the blobs), with the image and owner ids bound in: a name copied onto
//! another row does not open.
//!
//! Reading names needs the user's keys as well as the rows. The keys are read first:
//! a row read after them is under the current or the next key, unless a rotation
//! finished in between, and then the rows are read again.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::db::ids::{ImageId, UserId};
use crate::db::images::{self as rows, ImageRow, Unsealed};
use crate::db::{Db, DbError, user_keys};
use crate::images::Image;
use crate::keys::{self, KeyError};
use crate::vault::blob::NameKey;
use crate::vault::{MasterKeys, VaultError};

/// What a name that does not open is shown as: the image stays listed (and can be
/// opened, shared or deleted) while the integrity failure is logged.
pub const UNREADABLE: &str = "(name unreadable)";

/// Rows of earlier versions sealed per database round trip.
const BATCH: i64 = 500;

/// Seals `name` of `image` for its row, under `key` (the owner's name key).
pub fn seal(key: &NameKey, kek_version: u32, image: ImageId, name: &str) -> String {
    STANDARD.encode(key.seal(kek_version, image.uuid(), name))
}

/// Opens the sealed name of `image` under `key` (the owner's name key).
pub fn open(key: &NameKey, image: ImageId, sealed: &str) -> Result<String, VaultError> {
    let sealed = STANDARD.decode(sealed).map_err(|_| VaultError::Integrity)?;
    key.open(image.uuid(), sealed)
}

/// The name keys of one user's current key and, during a rotation, of the next.
struct NameKeys {
    owner: UserId,
    by_epoch: Vec<(u32, NameKey)>,
}

impl NameKeys {
    async fn of(db: &Db, master: &MasterKeys, owner: UserId) -> Result<Self, KeyError> {
        let mut by_epoch = Vec::with_capacity(2);
        if let Some(stored) = user_keys::get_keys(db.pool(), owner).await? {
            let epochs = [
                Some((stored.epoch, stored.current)),
                stored.next.map(|n| (stored.epoch + 1, n)),
            ];
            for (epoch, wrapped) in epochs.into_iter().flatten() {
                let key = keys::unwrap(master, owner, &wrapped)?;
                by_epoch.push((epoch, NameKey::new(&key, owner.uuid())));
            }
        }
        Ok(Self { owner, by_epoch })
    }

    fn at(&self, epoch: u32) -> Option<&NameKey> {
        self.by_epoch
            .iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, key)| key)
    }

    fn cover(&self, rows: &[ImageRow]) -> bool {
        rows.iter().all(|row| self.at(row.key_epoch).is_some())
    }

    fn open(&self, row: ImageRow) -> Image {
        let opened = self
            .at(row.key_epoch)
            .and_then(|key| open(key, row.id, &row.sealed_name).ok());
        let filename = opened.unwrap_or_else(|| {
            tracing::error!(target: "security", event = "integrity", user.id = %self.owner, image.id = %row.id, "image name does not open under its key");
            UNREADABLE.to_owned()
        });
        Image { row, filename }
    }
}

/// The rows `fetch` reads for `owner`, with their names opened.
pub async fn named<F, Fut>(
    db: &Db,
    master: &MasterKeys,
    owner: UserId,
    fetch: F,
) -> Result<Vec<Image>, KeyError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<ImageRow>, DbError>>,
{
    let mut tries = 3;
    loop {
        let keys = NameKeys::of(db, master, owner).await?;
        let rows = fetch().await?;
        tries -= 1;
        if tries == 0 || keys.cover(&rows) {
            return Ok(rows.into_iter().map(|row| keys.open(row)).collect());
        }
    }
}

/// Seals the names that rows of earlier versions hold in clear, and empties those:
/// run by every process that opens the master keys, before it serves. Returns how many
/// it sealed. A user whose key does not unwrap keeps clear names (logged); the next
/// start tries again.
pub async fn seal_legacy(db: &Db, master: &MasterKeys) -> Result<u64, DbError> {
    // A user's key of an epoch never changes once it exists, so it is unwrapped once.
    let mut keys: HashMap<(UserId, u32), Option<(NameKey, u32)>> = HashMap::new();
    let (mut sealed, mut after) = (0, None);
    loop {
        let batch = rows::unsealed(db.pool(), after, BATCH).await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = Some(last.id);
        // The keys first: making a missing one writes, which must not wait on the
        // transaction below.
        for row in &batch {
            if let Entry::Vacant(slot) = keys.entry((row.owner_id, row.key_epoch)) {
                slot.insert(name_key(db, master, row).await?);
            }
        }
        // One commit (one sync to disk) per batch rather than per row.
        let mut tx = db.begin().await?;
        for row in batch {
            // No key of its epoch (moved on meanwhile, or not unwrapping): left for the next start.
            let Some((key, kek_version)) = &keys[&(row.owner_id, row.key_epoch)] else {
                continue;
            };
            let name = seal(key, *kek_version, row.id, &row.filename);
            sealed += u64::from(rows::seal_name(&mut *tx, row.id, row.key_epoch, &name).await?);
        }
        tx.commit().await?;
    }
    if sealed > 0 {
        tracing::info!(sealed, "names of earlier versions sealed");
    }
    Ok(sealed)
}

/// The name key of the row's owner at the row's epoch and the master-key version that
/// wraps it, or `None` (logged when the key does not unwrap).
async fn name_key(
    db: &Db,
    master: &MasterKeys,
    row: &Unsealed,
) -> Result<Option<(NameKey, u32)>, DbError> {
    // Rows of earlier versions were written by a server that had made the owner's key;
    // this makes one should it be missing all the same.
    let key = match keys::user_key(db, master, row.owner_id).await {
        Ok(_) => keys::user_key_at(db, master, row.owner_id, row.key_epoch).await,
        Err(e) => Err(e),
    };
    match key {
        Ok(key) => Ok(key.map(|(key, version)| (NameKey::new(&key, row.owner_id.uuid()), version))),
        Err(KeyError::Db(e)) => Err(e),
        Err(e) => {
            tracing::error!(target: "security", event = "integrity", image.id = %row.id, error = %e, "name left in clear: its key does not unwrap");
            Ok(None)
        }
    }
}
