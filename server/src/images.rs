//! The image rules: upload (validate, sanitise, thumbnail, encrypt, store), read,
//! delete. HTTP adapters in [`crate::routes::images`] and the browser pages call these.
//!
//! Durability follows `docs/DESIGN.md` ("Storage and durability"): both blobs are
//! durable before the row commits, so a row always points to readable blobs; deletion
//! removes the row first, so a crash leaves at most an orphan blob for `sweep`. Every
//! lookup is scoped to the owner. Quotas: an upload is refused before its blobs are
//! written when it plainly cannot fit, and its bytes are taken from the quota in the
//! transaction that commits its row, so concurrent uploads never overshoot it.

use std::sync::Arc;

use imagevault_common::api::{ImageList, ImageObject};
use imagevault_common::image::{CheckedImage, validate};
use time::OffsetDateTime;

use crate::db::ids::{ImageId, UserId};
use crate::db::images::{self as rows, After, ImageRow};
use crate::db::usage::{self, Usage};
use crate::db::{DbError, upload_keys, user_keys};
use crate::error::ApiError;
use crate::image_cache::{PageKey, Plain};
use crate::image_names;
use crate::keys;
use crate::state::AppState;
use crate::storage::BlobName;
use crate::throttle;
use crate::vault::blob::{self, BlobId, BlobKind, NameKey};
use crate::vault::keyring::UserKey;

/// Longest wait for an upload slot before 503 `busy`: a client trickling bytes may hold
/// a slot up to `UPLOAD_TIMEOUT_SECONDS`, but never makes others wait without end.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Most images a page of the listing may hold.
pub const MAX_PAGE: i64 = 100;
/// Images per page when the client does not say.
pub const DEFAULT_PAGE: i64 = 50;

/// An image's row with its name opened: what the API and the pages show.
#[derive(Debug, Clone)]
pub struct Image {
    /// The row as stored.
    pub row: ImageRow,
    /// Its sanitised display name.
    pub filename: String,
}

/// A client's `Idempotency-Key` for an upload: 1–64 printable ASCII characters
/// (design.md). Desktop keys are keyed digests of the file, never a bare content hash,
/// so the stored key does not tell a database reader which photo it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadKey(String);

impl UploadKey {
    /// Longest key accepted.
    pub const MAX_LEN: usize = 64;

    /// The key from its header value, or 400 with what a key must look like.
    pub fn parse(raw: &[u8]) -> Result<Self, ApiError> {
        let printable = raw.iter().all(|b| (0x20..=0x7e).contains(b));
        match std::str::from_utf8(raw) {
            Ok(key) if printable && (1..=Self::MAX_LEN).contains(&key.len()) => {
                Ok(Self(key.to_owned()))
            }
            _ => Err(ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {} printable ASCII characters.",
                Self::MAX_LEN
            ))),
        }
    }

    /// The key as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An upload ready to store: both blobs and the name sealed, the row to commit after
/// them.
struct Sealed {
    image: Image,
    blob: Vec<u8>,
    thumbnail: Vec<u8>,
}

/// Validates, sanitises, thumbnails, encrypts and stores one upload for `owner`. With
/// an `upload_key`, an upload racing another with the same key answers with whichever image
/// committed first, and its own blobs are removed.
#[tracing::instrument(skip_all, fields(user.id = %owner, image.id))]
pub async fn upload(
    state: &AppState,
    owner: UserId,
    filename: String,
    bytes: Vec<u8>,
    upload_key: Option<&UploadKey>,
) -> Result<ImageObject, ApiError> {
    let bytes = Arc::new(bytes);
    // Sealed under a key a rotation has just retired, it is sealed again once.
    for _ in 0..2 {
        let (key, kek_version, epoch) = keys::sealing_key(&state.db, &state.keyring, owner).await?;
        let (bytes, filename) = (bytes.clone(), filename.clone());
        let sealed = on_image_pool(state, move || {
            prepare(&bytes, &filename, &key, kek_version, owner, epoch)
        })
        .await??;
        if let Some(stored) = store(state, sealed, upload_key).await? {
            return Ok(stored);
        }
    }
    Err(ApiError::internal("the user's key kept changing"))
}

/// What an upload with `key` first stored for `owner` within the key's 24 h, if that
/// image still exists: the answer a retry gets again, before any upload work.
pub async fn stored_under(
    state: &AppState,
    owner: UserId,
    key: &UploadKey,
) -> Result<Option<ImageObject>, ApiError> {
    let found = upload_keys::find(state.db.pool(), owner, key.as_str(), crate::db::now()).await?;
    let Some(id) = found else {
        return Ok(None);
    };
    match get(state, owner, id).await {
        Ok(image) => Ok(Some(object(&image))),
        // Deleted since: its key went with it, so the upload stores afresh.
        Err(ApiError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the blobs, then commits the row: the image; or the one another upload with
/// the same idempotency key committed first; or `None` when the key that sealed it
/// stopped being current meanwhile (nothing of this upload is kept in either case).
async fn store(
    state: &AppState,
    sealed: Sealed,
    key: Option<&UploadKey>,
) -> Result<Option<ImageObject>, ApiError> {
    let row = &sealed.image.row;
    let (id, owner, epoch) = (row.id, row.owner_id, row.key_epoch);
    tracing::Span::current().record("image.id", tracing::field::display(id));
    let stored =
        i64::try_from(sealed.blob.len() + sealed.thumbnail.len()).map_err(ApiError::internal)?;
    fits(state, owner, stored).await?;
    let names = [
        BlobName::at(id.uuid(), BlobKind::Image, epoch),
        BlobName::at(id.uuid(), BlobKind::Thumbnail, epoch),
    ];
    // Both writes finish (or fail) before any cleanup, so no write lands after it.
    let (image, thumbnail) = tokio::join!(
        state.store.put(&names[0], sealed.blob),
        state.store.put(&names[1], sealed.thumbnail),
    );
    if let Err(e) = image.and(thumbnail) {
        remove_blobs(&state.store, id, epoch).await;
        return Err(e.into());
    }
    match commit_row(state, row, stored, key).await {
        Ok(Committed::Yes) => {}
        Ok(outcome) => {
            remove_blobs(&state.store, id, epoch).await;
            return match (outcome, key) {
                (Committed::OverQuota, _) => Err(over_quota(state, owner).await),
                (Committed::KeyTaken, Some(key)) => stored_under(state, owner, key).await,
                _ => Ok(None),
            };
        }
        Err(e) => {
            // The commit may have happened with only its answer lost: blobs are removed
            // only when the row is known to be absent; otherwise `sweep` decides later.
            if matches!(rows::get(state.db.pool(), owner, id).await, Ok(None)) {
                remove_blobs(&state.store, id, epoch).await;
            }
            return Err(e.into());
        }
    }
    tracing::info!(target: "security", event = "image_uploaded", size = row.size, "image stored");
    Ok(Some(object(&sealed.image)))
}

/// Runs CPU-heavy image work (decode, thumbnail, rendering) on the blocking pool, one
/// job per core at a time. The permit moves into the blocking job, so a client that
/// disconnects mid-decode cannot free its slot while the decode still runs.
pub async fn on_image_pool<T: Send + 'static>(
    state: &AppState,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let permit = state
        .image_work
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let done = job();
        drop(permit);
        done
    })
    .await
    .map_err(ApiError::internal)
}

/// Admits one upload request of `owner` before its body is read: the account's upload
/// rate (`UPLOAD_RATE_PER_MINUTE`, 429), a quota already full or too full for the
/// declared body (507), one of the account's concurrent uploads (`UPLOADS_PER_USER`,
/// 429), then an upload slot within [`SLOT_WAIT`] (503 `busy`). The per-account lease
/// comes before the wait for a slot, so one account can never hold more slots than its
/// share, however many requests it opens. Give the pass back with
/// [`UploadPass::release`] when the upload is over.
pub async fn admit(
    state: &AppState,
    owner: UserId,
    declared: Option<usize>,
) -> Result<UploadPass<'_>, ApiError> {
    let per_minute = throttle::Limit {
        name: "upload-user",
        max: i64::from(state.config.upload_rate_per_minute),
        window: 60,
    };
    throttle::check(&state.db, per_minute, &owner.to_string()).await?;
    let declared = declared.map_or(0, |d| i64::try_from(d).unwrap_or(i64::MAX));
    fits(state, owner, declared.max(1)).await?;
    let lease = Lease::take(state, owner).await?;
    let waited = std::time::Instant::now();
    let slot = tokio::time::timeout(SLOT_WAIT, state.upload_slots.acquire()).await;
    state.metrics.slot_waited(waited.elapsed());
    let Ok(slot) = slot else {
        tracing::warn!(target: "security", event = "upload_busy", "no upload slot within the wait");
        lease.release().await;
        return Err(ApiError::Busy);
    };
    Ok(UploadPass {
        _slot: slot.map_err(ApiError::internal)?,
        lease,
    })
}

/// An admitted upload: its slot and its account's lease.
pub struct UploadPass<'a> {
    _slot: tokio::sync::SemaphorePermit<'a>,
    lease: Lease,
}

impl UploadPass<'_> {
    /// Ends the upload: the lease is given back before the answer goes out, so a client
    /// that starts its next upload on the answer finds it free.
    pub async fn release(self) {
        self.lease.release().await;
    }
}

/// One of the account's concurrent uploads, counted in the database. Dropped without
/// [`Lease::release`] (a client gone mid-upload), it is given back in the background.
struct Lease {
    db: crate::db::Db,
    id: Option<String>,
}

/// How long a lease outlives the longest upload: its body's deadline, then the work.
const LEASE_MARGIN: i64 = 120;

impl Lease {
    async fn take(state: &AppState, owner: UserId) -> Result<Self, ApiError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = crate::db::now();
        let body_deadline = i64::try_from(state.config.upload_timeout.as_secs()).unwrap_or(0);
        let expires_at = now + body_deadline + SLOT_WAIT.as_secs().cast_signed() + LEASE_MARGIN;
        let max = i64::from(state.config.uploads_per_user);
        let mut tx = state.db.begin().await?;
        if !usage::lease(&mut tx, owner, &id, max, now, expires_at).await? {
            tracing::info!(target: "security", event = "uploads_per_user", "upload refused: too many at once");
            return Err(ApiError::TooManyUploads(state.config.uploads_per_user));
        }
        tx.commit().await?;
        Ok(Self {
            db: state.db.clone(),
            id: Some(id),
        })
    }

    async fn release(mut self) {
        if let Some(id) = self.id.take()
            && let Err(e) = usage::release(self.db.pool(), &id).await
        {
            tracing::warn!(error = %e, "upload lease not given back; it expires on its own");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let db = self.db.clone();
            tokio::spawn(async move {
                let _ = usage::release(db.pool(), &id).await;
            });
        }
    }
}

/// What [`commit_row`] did.
enum Committed {
    Yes,
    /// Nothing written: it does not fit the quota.
    OverQuota,
    /// Nothing written: the key that sealed it is no longer the user's.
    StaleKey,
    /// Nothing written: another upload with the same idempotency key committed first.
    KeyTaken,
}

/// Takes `stored` bytes from the owner's quota, inserts the row and claims the upload's
/// idempotency key, in one transaction that also checks the key that sealed the blobs
/// is still the user's (a rotation waits for it, or it sees the rotation and writes
/// nothing).
async fn commit_row(
    state: &AppState,
    row: &ImageRow,
    stored: i64,
    key: Option<&UploadKey>,
) -> Result<Committed, DbError> {
    let mut tx = state.db.begin().await?;
    let engine = state.db.engine();
    if !user_keys::epoch_is_live(&mut tx, engine, row.owner_id, row.key_epoch).await? {
        return Ok(Committed::StaleKey);
    }
    if !usage::take(&mut tx, row.owner_id, stored, default_quota(state)).await? {
        return Ok(Committed::OverQuota);
    }
    rows::insert(&mut *tx, row, stored).await?;
    if let Some(key) = key {
        let now = crate::db::now();
        if !upload_keys::claim(&mut *tx, row.owner_id, key.as_str(), row.id, now).await? {
            return Ok(Committed::KeyTaken);
        }
    }
    tx.commit().await?;
    Ok(Committed::Yes)
}

/// The server's default quota, as the database compares it.
fn default_quota(state: &AppState) -> i64 {
    i64::try_from(state.config.default_quota_bytes).unwrap_or(i64::MAX)
}

/// The account's usage and its quota in bytes.
pub async fn usage(state: &AppState, owner: UserId) -> Result<(Usage, u64), ApiError> {
    let usage = usage::of(state.db.pool(), owner)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let quota = usage
        .quota_bytes
        .map_or(state.config.default_quota_bytes, |q| {
            u64::try_from(q).unwrap_or(0)
        });
    Ok((usage, quota))
}

/// Refuses (507) an upload of `bytes` more that cannot fit the owner's quota now —
/// before anything is written. (The commit checks again, atomically.)
pub async fn fits(state: &AppState, owner: UserId, bytes: i64) -> Result<(), ApiError> {
    let (usage, quota) = usage(state, owner).await?;
    let after = u64::try_from(usage.bytes_used.saturating_add(bytes)).unwrap_or(0);
    if after > quota {
        tracing::info!(target: "security", event = "quota_exceeded", "upload refused: over quota");
        return Err(ApiError::QuotaExceeded(quota));
    }
    Ok(())
}

async fn over_quota(state: &AppState, owner: UserId) -> ApiError {
    tracing::info!(target: "security", event = "quota_exceeded", "upload refused: over quota");
    match usage(state, owner).await {
        Ok((_, quota)) => ApiError::QuotaExceeded(quota),
        Err(e) => e,
    }
}

/// The CPU part of an upload, run on the blocking pool.
fn prepare(
    bytes: &[u8],
    filename: &str,
    key: &UserKey,
    kek_version: u32,
    owner: UserId,
    key_epoch: u32,
) -> Result<Sealed, ApiError> {
    let checked: CheckedImage = validate(bytes, filename)?;
    let thumbnail = checked.thumbnail()?;
    let id = ImageId::random();
    let blob_id = |kind| BlobId {
        image: id.uuid(),
        owner: owner.uuid(),
        kind,
    };
    let (width, height) = checked.display_dimensions();
    let names = NameKey::new(key, owner.uuid());
    let row = ImageRow {
        id,
        owner_id: owner,
        sealed_name: image_names::seal(&names, kek_version, id, checked.filename()),
        content_type: checked.format().content_type().to_owned(),
        size: u64::try_from(checked.bytes().len()).expect("at most 5 MiB"),
        width,
        height,
        thumbnail_type: thumbnail.format.content_type().to_owned(),
        created_us: now_us(),
        key_epoch,
    };
    Ok(Sealed {
        blob: blob::seal(key, kek_version, &blob_id(BlobKind::Image), checked.bytes()),
        thumbnail: blob::seal(
            key,
            kek_version,
            &blob_id(BlobKind::Thumbnail),
            &thumbnail.bytes,
        ),
        image: Image {
            row,
            filename: checked.filename().to_owned(),
        },
    })
}

/// One of the owner's images with its name; someone else's id answers exactly like a
/// missing one.
pub async fn get(state: &AppState, owner: UserId, id: ImageId) -> Result<Image, ApiError> {
    let fetch = || async move {
        Ok(rows::get(state.db.pool(), owner, id)
            .await?
            .into_iter()
            .collect())
    };
    image_names::named(&state.db, &state.keyring, owner, fetch)
        .await?
        .pop()
        .ok_or(ApiError::NotFound)
}

/// One of the owner's image rows, without opening its name (for serving a thumbnail).
pub async fn row(state: &AppState, owner: UserId, id: ImageId) -> Result<ImageRow, ApiError> {
    rows::get(state.db.pool(), owner, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The ids of the owner's next newer and next older image around `row` (the image
/// page's arrows).
pub async fn neighbours(
    state: &AppState,
    row: &ImageRow,
) -> Result<(Option<ImageId>, Option<ImageId>), ApiError> {
    let at = After {
        created_us: row.created_us,
        id: row.id,
    };
    let newer = rows::neighbour(state.db.pool(), row.owner_id, at, true).await?;
    let older = rows::neighbour(state.db.pool(), row.owner_id, at, false).await?;
    Ok((newer, older))
}

/// A page of the owner's images, newest first, and the cursor of the next page.
pub async fn list(
    state: &AppState,
    owner: UserId,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<(Vec<ImageObject>, Option<String>), ApiError> {
    let (limit, after) = page_at(limit, cursor)?;
    page(state, owner, after, limit).await
}

/// A page of the owner's images as the API sends it (an [`ImageList`] in JSON), from
/// the cache while the owner's list is as it was when the page was built. `version` is
/// the owner's listing version read before this call (with the caller's session), so
/// the page built here shows that list or a newer one and is never kept under a
/// version it is older than.
pub async fn list_sent(
    state: &AppState,
    owner: UserId,
    version: i64,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<Plain, ApiError> {
    let (limit, after) = page_at(limit, cursor)?;
    let key = PageKey {
        version,
        after,
        limit,
    };
    let cached = state.image_cache.page(owner, key);
    state.metrics.listing_page_lookup(cached.is_some());
    if let Some(sent) = cached {
        return Ok(sent);
    }
    let (items, next_cursor) = page(state, owner, after, limit).await?;
    // One buffer: salvo's `Json` writes each token separately into its body, which was a
    // tenth of a listing's CPU (docs/PERFORMANCE.md).
    let body = serde_json::to_vec(&ImageList { items, next_cursor }).map_err(ApiError::internal)?;
    let sent = Plain::digested(body);
    state.image_cache.insert_page(owner, key, sent.clone());
    Ok(sent)
}

/// The page size asked for (checked) and where the page starts.
fn page_at(limit: Option<i64>, cursor: Option<&str>) -> Result<(i64, Option<After>), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}."
        )));
    }
    Ok((limit, cursor.map(decode_cursor).transpose()?))
}

/// Up to `limit` of the owner's images after `after`, with their names opened, and the
/// cursor of the next page.
async fn page(
    state: &AppState,
    owner: UserId,
    after: Option<After>,
    limit: i64,
) -> Result<(Vec<ImageObject>, Option<String>), ApiError> {
    let fetch = || rows::page(state.db.pool(), owner, after, limit + 1);
    let mut page = image_names::named(&state.db, &state.keyring, owner, fetch).await?;
    let more = page.len() > usize::try_from(limit).expect("positive");
    page.truncate(usize::try_from(limit).expect("positive"));
    let next = page
        .last()
        .filter(|_| more)
        .map(|last| encode_cursor(last.row.created_us, last.row.id));
    Ok((page.iter().map(object).collect(), next))
}

/// The decrypted image or thumbnail, after its tag checked out: from the cache when it
/// holds them, otherwise read, checked, decrypted and kept there.
#[tracing::instrument(skip_all, fields(user.id = %row.owner_id, image.id = %row.id))]
pub async fn content(state: &AppState, row: &ImageRow, kind: BlobKind) -> Result<Plain, ApiError> {
    let cached = state.image_cache.get(row.owner_id, row.id, kind);
    state.metrics.image_cache_lookup(kind, cached.is_some());
    if let Some(plain) = cached {
        return Ok(plain);
    }
    let plain = open_blob(state, row, kind).await?;
    state
        .image_cache
        .insert(row.owner_id, row.id, kind, plain.clone());
    Ok(plain)
}

/// Reads, checks and decrypts one blob of the row. A `rotate-user-keys` may move the
/// image to a new key (new blob, row updated, old blob removed) between the row's read
/// and the blob's: then the row is read again, once.
async fn open_blob(state: &AppState, row: &ImageRow, kind: BlobKind) -> Result<Plain, ApiError> {
    let image = row.id;
    let mut epoch = row.key_epoch;
    for _ in 0..2 {
        let sealed = state
            .store
            .get(&BlobName::at(image.uuid(), kind, epoch))
            .await?;
        let key = keys::user_key_at(&state.db, &state.keyring, row.owner_id, epoch)
            .await?
            .map(|(key, _)| key);
        let (Some(sealed), Some(key)) = (sealed, key) else {
            // Deleted meanwhile (row first, then blobs) is a 404; a row without its blob
            // is not, unless the row has moved to another key.
            match rows::get(state.db.pool(), row.owner_id, image).await? {
                None => return Err(ApiError::NotFound),
                Some(now) if now.key_epoch != epoch => {
                    epoch = now.key_epoch;
                    continue;
                }
                Some(_) => break,
            }
        };
        let id = BlobId {
            image: image.uuid(),
            owner: row.owner_id.uuid(),
            kind,
        };
        let broken = |e: String| ApiError::Integrity(format!("blob of {image} ({kind:?}): {e}"));
        let tag = blob::tag(&sealed).ok_or_else(|| broken("shorter than a tag".into()))?;
        let bytes = tokio::task::spawn_blocking(move || blob::open_owned(&key, &id, sealed))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| broken(e.to_string()))?;
        return Ok(Plain::new(bytes, tag));
    }
    Err(ApiError::Integrity(format!(
        "blob of {image} ({kind:?}) is missing"
    )))
}

/// Deletes one of the owner's images: the row, then its blobs.
#[tracing::instrument(skip_all, fields(user.id = %owner, image.id = %id))]
pub async fn delete(state: &AppState, owner: UserId, id: ImageId) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    let (stored, epoch) = rows::delete(&mut *tx, owner, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    usage::give_back(&mut tx, owner, stored).await?;
    tx.commit().await?;
    state.image_cache.forget_image(owner, id);
    remove_blobs(&state.store, id, epoch).await;
    tracing::info!(target: "security", event = "image_deleted", "image deleted");
    Ok(())
}

/// Removes an image's blobs sealed under key `epoch`, best effort: whatever fails stays
/// as an orphan that no row points to and `sweep` removes.
pub async fn remove_blobs(store: &crate::storage::BlobStore, id: ImageId, epoch: u32) {
    for kind in [BlobKind::Image, BlobKind::Thumbnail] {
        if let Err(e) = store.delete(&BlobName::at(id.uuid(), kind, epoch)).await {
            tracing::warn!(image.id = %id, error = %e, "blob not removed; sweep will");
        }
    }
}

/// The API object of an image.
pub fn object(image: &Image) -> ImageObject {
    let row = &image.row;
    ImageObject {
        id: row.id.uuid(),
        filename: image.filename.clone(),
        content_type: row.content_type.clone(),
        size: row.size,
        width: row.width,
        height: row.height,
        created_at: from_us(row.created_us),
    }
}

fn now_us() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000)
        .expect("microseconds since 1970 fit in i64 until the year 294247")
}

fn from_us(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Cursors are opaque to clients: `<created_us>.<id>`, base64url.
fn encode_cursor(created_us: i64, id: ImageId) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_us}.{id}"))
}

fn decode_cursor(cursor: &str) -> Result<After, ApiError> {
    use base64::Engine as _;
    let bad = || ApiError::BadRequest("cursor is not one this server gave out.".into());
    if cursor.len() > 128 {
        return Err(bad());
    }
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (created_us, id) = text.split_once('.').ok_or_else(bad)?;
    Ok(After {
        created_us: created_us.parse().map_err(|_| bad())?,
        id: id.parse().map_err(|_| bad())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let id = ImageId::random();
        let after = decode_cursor(&encode_cursor(1_764_000_000_123_456, id)).unwrap();
        assert_eq!(
            after,
            After {
                created_us: 1_764_000_000_123_456,
                id
            }
        );
        for bad in [
            "",
            "!!",
            "bm90LWEtY3Vyc29y",
            &"A".repeat(200),
            "MTIzLm5vdC1hLXV1aWQ",
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn microsecond_times_round_trip() {
        let us = now_us();
        let t = from_us(us);
        assert_eq!(i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap(), us);
    }
}
