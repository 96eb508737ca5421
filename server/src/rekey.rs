//! `rotate-user-keys`: gives users fresh data keys and re-encrypts their images and
//! thumbnails under them, while servers keep serving.
//!
//! Per user: the next key is stored wrapped beside the current one (new uploads are
//! sealed with it from then on); each image still under the current key is opened,
//! sealed again under the next key into blobs of new names (`.e<N>`), made durable, and
//! only then is its row pointed at them (compare-and-swap on its epoch, which also
//! stores its name sealed again) and the old blobs removed. When no image is left under
//! the current key, one transaction seals the TOTP seed again and makes the next key
//! current, destroying the old one.
//!
//! Every step is safe to interrupt: a SIGKILL leaves at most new blobs no row points to
//! (written again on the next run) or old blobs of moved rows (removed by the next run
//! or by `sweep`), and every row always points to blobs that open under a stored key.
//! Run again, the job picks up where it stopped, with the same next key.

use crate::audit::{Event, Kind};
use crate::db::ids::{ImageId, UserId};
use crate::db::images as rows;
use crate::db::user_keys;
use crate::db::{Db, DbError, mfa, users};
use crate::image_names;
use crate::maintenance::JobError;
use crate::storage::{BlobName, BlobStore};
use crate::vault::MasterKeys;
use crate::vault::blob::{self, BlobId, BlobKind, NameKey};
use crate::vault::keyring::UserKey;

/// Images re-encrypted per database round trip.
const BATCH: i64 = 50;

/// Whose keys to replace.
#[derive(Debug, Clone)]
pub enum Whom {
    /// The account with this email address.
    Email(String),
    /// Every account that has a key.
    All,
}

/// What one user's rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rekeyed {
    /// The account.
    pub user: UserId,
    /// Images (each with its thumbnail) re-encrypted by this run.
    pub images: u64,
    /// The user's key epoch after the rotation.
    pub epoch: u32,
}

/// Progress as the job goes: `(user, images done, images left under the old key)`.
pub type Progress<'a> = &'a mut (dyn FnMut(UserId, u64, i64) + Send);

/// Replaces the keys of `whom`, one user after another.
pub async fn rotate_user_keys(
    db: &Db,
    store: &BlobStore,
    keys: &MasterKeys,
    whom: &Whom,
    progress: Progress<'_>,
) -> Result<Vec<Rekeyed>, JobError> {
    // Names still in clear (rows of earlier versions) would have no sealed name to move.
    image_names::seal_legacy(db, keys).await?;
    let users = match whom {
        Whom::Email(email) => {
            let user = users::by_email(db.pool(), email)
                .await?
                .ok_or_else(|| JobError::NoSuchUser(email.clone()))?;
            vec![user.id]
        }
        Whom::All => user_keys::users_with_keys(db.pool()).await?,
    };
    let mut done = Vec::with_capacity(users.len());
    for user in users {
        if let Some(rekeyed) = rotate_one(db, store, keys, user, progress).await? {
            done.push(rekeyed);
        }
    }
    Ok(done)
}

/// Replaces one user's key; `None` when the user has no key yet (nothing to protect).
async fn rotate_one(
    db: &Db,
    store: &BlobStore,
    keys: &MasterKeys,
    user: UserId,
    progress: Progress<'_>,
) -> Result<Option<Rekeyed>, JobError> {
    let Some(stored) = user_keys::get_keys(db.pool(), user).await? else {
        return Ok(None);
    };
    let resuming = stored.next.is_some();
    if !resuming {
        let next = keys.wrap(&UserKey::generate())?;
        user_keys::set_next(db.pool(), user, stored.epoch, &next).await?;
    }
    let stored = user_keys::get_keys(db.pool(), user)
        .await?
        .ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))?;
    let Some(next) = &stored.next else {
        // Another run finished this user meanwhile.
        return Ok(None);
    };
    let (from, to) = (stored.epoch, stored.epoch + 1);
    let old_key = keys.unwrap(&stored.current)?;
    let new_key = keys.unwrap(next)?;
    let mover = Mover {
        db,
        store,
        user,
        old_key: &old_key,
        new_key: &new_key,
        names: (
            NameKey::new(&old_key, user.uuid()),
            NameKey::new(&new_key, user.uuid()),
        ),
        kek_version: next.kek_version,
        from,
        to,
    };
    if resuming {
        mover.remove_leftovers().await?;
    }
    let mut images = 0;
    loop {
        let batch = rows::ids_at_epoch(db.pool(), user, from, BATCH).await?;
        if batch.is_empty() {
            if promote(db, user, from, (&old_key, &new_key), next.kek_version).await? {
                break;
            }
            continue;
        }
        for id in batch {
            images += u64::from(mover.move_image(id).await?);
        }
        progress(
            user,
            images,
            rows::count_at_epoch(db.pool(), user, from).await?,
        );
    }
    let event = Event::new(Kind::UserKeyRotated)
        .user(user)
        .with("images", images)
        .with("epoch", to);
    crate::audit::append(db, keys, &event).await?;
    tracing::info!(target: "security", event = "user_key_rotated", user.id = %user, images, "user key replaced");
    Ok(Some(Rekeyed {
        user,
        images,
        epoch: to,
    }))
}

/// Moves images of one user from key `from` to key `to`.
struct Mover<'a> {
    db: &'a Db,
    store: &'a BlobStore,
    user: UserId,
    old_key: &'a UserKey,
    new_key: &'a UserKey,
    /// The name keys of the old and the new key.
    names: (NameKey, NameKey),
    kek_version: u32,
    from: u32,
    to: u32,
}

const KINDS: [BlobKind; 2] = [BlobKind::Image, BlobKind::Thumbnail];

impl Mover<'_> {
    fn blob_id(&self, id: ImageId, kind: BlobKind) -> BlobId {
        BlobId {
            image: id.uuid(),
            owner: self.user.uuid(),
            kind,
        }
    }

    /// Re-encrypts one image, its thumbnail and its name: `false` when it was deleted
    /// meanwhile.
    async fn move_image(&self, id: ImageId) -> Result<bool, JobError> {
        // Deleted, or moved by another run of the job, meanwhile.
        let Some(row) = rows::get(self.db.pool(), self.user, id)
            .await?
            .filter(|row| row.key_epoch == self.from)
        else {
            return Ok(false);
        };
        let name = image_names::open(&self.names.0, id, &row.sealed_name).map_err(|e| {
            JobError::Integrity(format!(
                "the name of image {id} does not open under its key ({e}); nothing of it \
                 was changed: restore its row from a backup or delete the image, then run \
                 the job again"
            ))
        })?;
        let name = image_names::seal(&self.names.1, self.kek_version, id, &name);
        let mut sealed = Vec::with_capacity(KINDS.len());
        for kind in KINDS {
            let Some(old) = self
                .store
                .get(&BlobName::at(id.uuid(), kind, self.from))
                .await?
            else {
                return self.missing(id, kind).await;
            };
            let blob_id = self.blob_id(id, kind);
            let plain = blob::open_owned(self.old_key, &blob_id, old).map_err(|e| {
                JobError::Integrity(format!(
                    "image {id} ({kind:?}) does not open under its key ({e}); nothing of it \
                     was changed: restore the blob from a backup, then run the job again"
                ))
            })?;
            let plain = zeroize::Zeroizing::new(plain);
            sealed.push((
                kind,
                blob::seal(self.new_key, self.kek_version, &blob_id, &plain),
            ));
        }
        for (kind, bytes) in sealed {
            self.store
                .put(&BlobName::at(id.uuid(), kind, self.to), bytes)
                .await?;
        }
        if !rows::move_epoch(self.db.pool(), id, (self.from, self.to), &name).await? {
            // Deleted meanwhile: the new blobs have no row (a moved row is never moved
            // back, so they are not someone else's).
            if rows::get(self.db.pool(), self.user, id).await?.is_none() {
                crate::images::remove_blobs(self.store, id, self.to).await;
            }
            return Ok(false);
        }
        crate::images::remove_blobs(self.store, id, self.from).await;
        Ok(true)
    }

    /// An old blob is gone: fine when the image was deleted or moved meanwhile, an
    /// integrity failure otherwise (the job stops rather than destroy the key of a
    /// blob it could not re-encrypt).
    async fn missing(&self, id: ImageId, kind: BlobKind) -> Result<bool, JobError> {
        match rows::get(self.db.pool(), self.user, id).await? {
            Some(row) if row.key_epoch == self.from => Err(JobError::Integrity(format!(
                "image {id} ({kind:?}) has a row but no blob: restore it from a backup \
                 (`sweep` lists such rows)"
            ))),
            _ => Ok(false),
        }
    }

    /// On a resumed run: the old blobs of images the interrupted run had moved.
    async fn remove_leftovers(&self) -> Result<(), JobError> {
        for (id, epoch) in rows::ids_of(self.db.pool(), self.user).await? {
            if epoch == self.to {
                crate::images::remove_blobs(self.store, id, self.from).await;
            }
        }
        Ok(())
    }
}

/// Seals the TOTP seed again under the new key and makes it the current one, in one
/// transaction that first locks the key row and then checks no image is left under the
/// old key; `false` (nothing changed) when one is, or the seed changed meanwhile.
async fn promote(
    db: &Db,
    user: UserId,
    from: u32,
    (old_key, new_key): (&UserKey, &UserKey),
    kek_version: u32,
) -> Result<bool, JobError> {
    let mut tx = db.begin().await?;
    if !user_keys::promote(&mut *tx, user, from).await? {
        // Another run of the job finished this user.
        return Ok(true);
    }
    if rows::count_at_epoch(&mut *tx, user, from).await? > 0 {
        return Ok(false);
    }
    if let Some(totp) = mfa::totp(&mut *tx, user).await? {
        use base64::Engine as _;
        let codec = base64::engine::general_purpose::STANDARD;
        let old = codec
            .decode(&totp.sealed)
            .map_err(|_| DbError::Corrupt(format!("TOTP seed of {user}")))?;
        let seed = zeroize::Zeroizing::new(blob::open_user_secret(old_key, user.uuid(), &old)?);
        let new = blob::seal_user_secret(new_key, kek_version, user.uuid(), &seed);
        if !mfa::reseal_totp(&mut *tx, user, &totp.sealed, &codec.encode(new)).await? {
            return Ok(false);
        }
    }
    tx.commit().await.map_err(DbError::from)?;
    Ok(true)
}
