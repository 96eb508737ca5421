//! The image rules: upload (validate, sanitise, thumbnail, encrypt, store), read,
//! delete. HTTP adapters in [`crate::routes::images`] and the browser pages call these.
//!
//! Durability follows the design: both blobs are durable before the row commits, so
//! a row always points to readable blobs; deletion removes the row first, so a crash
//! leaves at most an orphan blob for `sweep`. Every lookup is scoped to the owner.

use imagevault_common::api::ImageObject;
use imagevault_common::image::{CheckedImage, validate};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::images::{After, ImageRow};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::BlobName;
use crate::vault::blob::{self, BlobId, BlobKind};
use crate::vault::{self, keyring::UserKey};

/// Most images a page of the listing may hold.
pub const MAX_PAGE: i64 = 100;
/// Images per page when the client does not say.
pub const DEFAULT_PAGE: i64 = 50;

/// An upload ready to store: both blobs sealed, the row to commit after them.
struct Sealed {
    row: ImageRow,
    image: Vec<u8>,
    thumbnail: Vec<u8>,
}

/// Validates, sanitises, thumbnails, encrypts and stores one upload for `owner`.
pub async fn upload(
    state: &AppState,
    owner: &str,
    filename: String,
    bytes: Vec<u8>,
) -> Result<ImageObject, ApiError> {
    let owner_id = parse_owner(owner)?;
    let (key, kek_version) = vault::user_key(state, owner).await?;
    // One decode per core at a time. The permit moves into the blocking job, so a client
    // that disconnects mid-decode cannot free its slot while the decode still runs.
    let permit = state
        .image_work
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let sealed = tokio::task::spawn_blocking(move || {
        let sealed = prepare(&bytes, &filename, &key, kek_version, owner_id);
        drop(permit);
        sealed
    })
    .await
    .map_err(|e| ApiError::Internal(format!("upload task: {e}")))??;
    let id = Uuid::parse_str(&sealed.row.id).expect("we made this id");
    let names = [
        BlobName::new(id, BlobKind::Image),
        BlobName::new(id, BlobKind::Thumbnail),
    ];
    // Both writes finish (or fail) before any cleanup, so no write lands after it.
    let (image, thumbnail) = tokio::join!(
        state.store.put(&names[0], sealed.image),
        state.store.put(&names[1], sealed.thumbnail),
    );
    if let Err(e) = image.and(thumbnail) {
        remove_blobs(state, id).await;
        return Err(e.into());
    }
    if let Err(e) = state.db.insert_image(&sealed.row).await {
        // The commit may have happened with only its answer lost: blobs are removed only
        // when the row is known to be absent; otherwise `sweep` decides later.
        if matches!(state.db.image(owner, &sealed.row.id).await, Ok(None)) {
            remove_blobs(state, id).await;
        }
        return Err(e.into());
    }
    tracing::info!(target: "security", event = "image_uploaded", user.id = owner, image.id = %id, size = sealed.row.size, "image stored");
    Ok(object(&sealed.row))
}

/// The CPU part of an upload, run on the blocking pool.
fn prepare(
    bytes: &[u8],
    filename: &str,
    key: &UserKey,
    kek_version: u32,
    owner: Uuid,
) -> Result<Sealed, ApiError> {
    let checked: CheckedImage = validate(bytes, filename)?;
    let thumbnail = checked.thumbnail()?;
    let id = Uuid::new_v4();
    let blob_id = |kind| BlobId {
        image: id,
        owner,
        kind,
    };
    let (width, height) = checked.display_dimensions();
    let row = ImageRow {
        id: id.to_string(),
        owner_id: owner.to_string(),
        filename: checked.filename().to_owned(),
        content_type: checked.format().content_type().to_owned(),
        size: i64::try_from(checked.bytes().len()).expect("at most 5 MiB"),
        width: i64::from(width),
        height: i64::from(height),
        thumbnail_type: thumbnail.format.content_type().to_owned(),
        created_us: now_us(),
    };
    Ok(Sealed {
        image: blob::seal(key, kek_version, &blob_id(BlobKind::Image), checked.bytes()),
        thumbnail: blob::seal(
            key,
            kek_version,
            &blob_id(BlobKind::Thumbnail),
            &thumbnail.bytes,
        ),
        row,
    })
}

/// One of the owner's images; someone else's id answers exactly like a missing one.
pub async fn get(state: &AppState, owner: &str, id: &str) -> Result<ImageRow, ApiError> {
    let id = Uuid::try_parse(id).map_err(|_| ApiError::NotFound)?;
    state
        .db
        .image(owner, &id.to_string())
        .await?
        .ok_or(ApiError::NotFound)
}

/// A page of the owner's images, newest first, and the cursor of the next page.
pub async fn list(
    state: &AppState,
    owner: &str,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<(Vec<ImageObject>, Option<String>), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}."
        )));
    }
    let after = cursor.map(decode_cursor).transpose()?;
    let mut rows = state
        .db
        .images_page(owner, after.as_ref(), limit + 1)
        .await?;
    let more = rows.len() > usize::try_from(limit).expect("positive");
    rows.truncate(usize::try_from(limit).expect("positive"));
    let next = rows
        .last()
        .filter(|_| more)
        .map(|last| encode_cursor(last.created_us, &last.id));
    Ok((rows.iter().map(object).collect(), next))
}

/// The decrypted image or thumbnail, after its tag checked out.
pub async fn content(
    state: &AppState,
    row: &ImageRow,
    kind: BlobKind,
) -> Result<Vec<u8>, ApiError> {
    let image = Uuid::try_parse(&row.id).map_err(|_| corrupt_row(row))?;
    let owner = parse_owner(&row.owner_id)?;
    let Some(sealed) = state.store.get(&BlobName::new(image, kind)).await? else {
        // Deleted meanwhile (row first, then blobs) is a 404; a row without its blob is not.
        return match state.db.image(&row.owner_id, &row.id).await? {
            None => Err(ApiError::NotFound),
            Some(_) => Err(ApiError::Integrity(format!(
                "blob of {image} ({kind:?}) is missing"
            ))),
        };
    };
    let (key, _) = vault::user_key(state, &row.owner_id).await?;
    let id = BlobId { image, owner, kind };
    tokio::task::spawn_blocking(move || blob::open_owned(&key, &id, sealed))
        .await
        .map_err(|e| ApiError::Internal(format!("decrypt task: {e}")))?
        .map_err(|e| ApiError::Integrity(format!("blob of {image} ({kind:?}): {e}")))
}

/// Deletes one of the owner's images: the row, then its blobs.
pub async fn delete(state: &AppState, owner: &str, id: &str) -> Result<(), ApiError> {
    let id = Uuid::try_parse(id).map_err(|_| ApiError::NotFound)?;
    if !state.db.delete_image(owner, &id.to_string()).await? {
        return Err(ApiError::NotFound);
    }
    remove_blobs(state, id).await;
    tracing::info!(target: "security", event = "image_deleted", user.id = owner, image.id = %id, "image deleted");
    Ok(())
}

/// Removes an image's blobs, best effort: whatever fails stays as an orphan that no
/// row points to and `sweep` removes.
pub async fn remove_blobs(state: &AppState, id: Uuid) {
    for kind in [BlobKind::Image, BlobKind::Thumbnail] {
        if let Err(e) = state.store.delete(&BlobName::new(id, kind)).await {
            tracing::warn!(image.id = %id, error = %e, "blob not removed; sweep will");
        }
    }
}

/// The API object of a row.
pub fn object(row: &ImageRow) -> ImageObject {
    ImageObject {
        id: Uuid::try_parse(&row.id).unwrap_or_default(),
        filename: row.filename.clone(),
        content_type: row.content_type.clone(),
        size: u64::try_from(row.size).unwrap_or_default(),
        width: u32::try_from(row.width).unwrap_or_default(),
        height: u32::try_from(row.height).unwrap_or_default(),
        created_at: from_us(row.created_us),
    }
}

fn parse_owner(owner: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(owner)
        .map_err(|_| ApiError::Internal(format!("user id {owner:?} is not a UUID")))
}

fn corrupt_row(row: &ImageRow) -> ApiError {
    ApiError::Internal(format!("image row {:?} has a malformed id", row.id))
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
fn encode_cursor(created_us: i64, id: &str) -> String {
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
    let id = Uuid::try_parse(id).map_err(|_| bad())?;
    Ok(After {
        created_us: created_us.parse().map_err(|_| bad())?,
        id: id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let id = Uuid::new_v4().to_string();
        let after = decode_cursor(&encode_cursor(1_764_000_000_123_456, &id)).unwrap();
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
