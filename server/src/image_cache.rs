//! A bounded, memory-only cache of verified, decrypted images and thumbnails, so a
//! gallery that shows the same pictures again does not pay for reading, checking and
//! decrypting their blobs again (`docs/DESIGN.md`, "Upload idempotency and caching"),
//! and of listing pages as sent, so a gallery that lists the same images again does not
//! pay for reading their rows and opening their names again.
//!
//! The cache never decides who may see what: it is consulted only after the image's row
//! was found for its owner, so a deleted image or account is never served from it, even
//! by an instance that did not hear of the deletion. Deleting still drops the entries at
//! once, so their memory is freed and wiped then rather than at some later eviction.
//! A listing page is kept under the owner's listing version (a counter in the database
//! that every insert and delete of their images raises), read with the request's
//! session, before the page's rows: once any instance changes the list, no instance
//! finds the old pages again, and they age out.
//!
//! An entry's bytes are one buffer shared by the cache and the answers being written
//! from it; the buffer is zeroised when the last of them lets go (eviction, removal, or
//! the last answer sent). Nothing is ever written to disk.

use base64::Engine as _;
use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::db::ids::{ImageId, UserId};
use crate::db::images::After;
use crate::vault::blob::BlobKind;

/// What an entry costs beyond its bytes (key, tag, bookkeeping), so a flood of tiny
/// thumbnails is bounded too.
const ENTRY_OVERHEAD: u64 = 128;
/// The least memory one shard is given: a whole 5 MiB image and its thumbnail fit.
const MIN_SHARD_BYTES: u64 = 8 * 1024 * 1024;
/// Most shards: enough that 16 concurrent fetches rarely meet on one lock.
const MAX_SHARDS: u64 = 16;

/// Decrypted bytes whose blob's tag checked out, and that tag: an authenticated digest
/// of the stored blob, hence a strong validator for `ETag`.
#[derive(Clone)]
pub struct Plain {
    bytes: Bytes,
    tag: [u8; 32],
}

impl Plain {
    /// Wraps decrypted bytes so they are wiped when the last copy of the handle goes.
    pub fn new(bytes: Vec<u8>, tag: [u8; 32]) -> Self {
        Self {
            bytes: Bytes::from_owner(Zeroizing::new(bytes)),
            tag,
        }
    }

    /// Wraps bytes that have no blob tag (a listing page): their SHA-256 is the tag.
    pub fn digested(bytes: Vec<u8>) -> Self {
        let tag = Sha256::digest(&bytes).into();
        Self::new(bytes, tag)
    }

    /// The bytes, shared (not copied) with the cache.
    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// The strong entity tag, quoted as the `ETag` header wants it.
    pub fn etag(&self) -> String {
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.tag);
        format!("\"{tag}\"")
    }

    fn weight(&self) -> u64 {
        u64::try_from(self.bytes.len()).unwrap_or(u64::MAX) + ENTRY_OVERHEAD
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Blob {
        owner: UserId,
        image: ImageId,
        kind: BlobKind,
    },
    Page {
        owner: UserId,
        page: PageKey,
    },
}

impl Key {
    fn owner(&self) -> UserId {
        match self {
            Key::Blob { owner, .. } | Key::Page { owner, .. } => *owner,
        }
    }
}

/// Which page of an owner's listing, as of which version of their list.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// The owner's listing version, read before the page's rows.
    pub version: i64,
    /// Where the page starts (`None`: the newest).
    pub after: Option<After>,
    /// At most this many images.
    pub limit: i64,
}

#[derive(Clone)]
struct ByLength;

impl Weighter<Key, Plain> for ByLength {
    fn weight(&self, _key: &Key, plain: &Plain) -> u64 {
        plain.weight()
    }
}

/// The cache, or nothing when `IMAGE_CACHE_BYTES` is 0.
pub struct ImageCache {
    entries: Option<Cache<Key, Plain, ByLength>>,
}

impl ImageCache {
    /// A cache holding at most `capacity` bytes (0: a cache that keeps nothing).
    pub fn new(capacity: u64) -> Self {
        if capacity == 0 {
            return Self { entries: None };
        }
        let shards = (capacity / MIN_SHARD_BYTES).clamp(1, MAX_SHARDS);
        // quick_cache rounds the shard count up to a power of two; give it one.
        let shards = 1 << shards.ilog2();
        let options = OptionsBuilder::new()
            .estimated_items_capacity(usize::try_from(capacity / (64 * 1024)).unwrap_or(1).max(16))
            .weight_capacity(capacity)
            .shards(usize::try_from(shards).unwrap_or(1))
            .build()
            .expect("both capacities are set");
        let entries = Cache::with_options(
            options,
            ByLength,
            DefaultHashBuilder::default(),
            quick_cache::sync::DefaultLifecycle::default(),
        );
        Self {
            entries: Some(entries),
        }
    }

    /// The cached bytes of `owner`'s `image` of `kind`, if held.
    pub fn get(&self, owner: UserId, image: ImageId, kind: BlobKind) -> Option<Plain> {
        let key = Key::Blob { owner, image, kind };
        self.entries.as_ref()?.get(&key)
    }

    /// Keeps `plain` for later; an entry larger than a shard is simply not kept.
    pub fn insert(&self, owner: UserId, image: ImageId, kind: BlobKind, plain: Plain) {
        if let Some(entries) = &self.entries {
            entries.insert(Key::Blob { owner, image, kind }, plain);
        }
    }

    /// The listing page `page` of `owner`, as sent, if held.
    pub fn page(&self, owner: UserId, page: PageKey) -> Option<Plain> {
        self.entries.as_ref()?.get(&Key::Page { owner, page })
    }

    /// Keeps a listing page as sent.
    pub fn insert_page(&self, owner: UserId, page: PageKey, sent: Plain) {
        if let Some(entries) = &self.entries {
            entries.insert(Key::Page { owner, page }, sent);
        }
    }

    /// Drops both blobs of one image.
    pub fn forget_image(&self, owner: UserId, image: ImageId) {
        if let Some(entries) = &self.entries {
            for kind in [BlobKind::Image, BlobKind::Thumbnail] {
                entries.remove(&Key::Blob { owner, image, kind });
            }
        }
    }

    /// Drops everything of one account.
    pub fn forget_owner(&self, owner: UserId) {
        if let Some(entries) = &self.entries {
            entries.retain(|key, _| key.owner() != owner);
        }
    }

    /// Bytes held now (entries and their overhead).
    pub fn bytes_held(&self) -> u64 {
        self.entries.as_ref().map_or(0, Cache::weight)
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(len: usize, fill: u8) -> Plain {
        Plain::new(vec![fill; len], [fill; 32])
    }

    #[test]
    fn entries_are_kept_per_owner_image_and_kind_and_dropped_on_delete() {
        let cache = ImageCache::new(64 * 1024 * 1024);
        let (alice, bob) = (UserId::random(), UserId::random());
        let (one, two) = (ImageId::random(), ImageId::random());
        cache.insert(alice, one, BlobKind::Image, plain(1000, 1));
        cache.insert(alice, one, BlobKind::Thumbnail, plain(100, 2));
        cache.insert(alice, two, BlobKind::Image, plain(1000, 3));
        cache.insert(bob, two, BlobKind::Image, plain(1000, 4));
        assert_eq!(
            cache.get(alice, one, BlobKind::Thumbnail).unwrap().bytes()[0],
            2
        );
        assert!(
            cache.get(bob, one, BlobKind::Image).is_none(),
            "another owner's key"
        );
        cache.forget_image(alice, one);
        assert!(cache.get(alice, one, BlobKind::Image).is_none());
        assert!(cache.get(alice, one, BlobKind::Thumbnail).is_none());
        assert!(cache.get(alice, two, BlobKind::Image).is_some());
        cache.forget_owner(alice);
        assert!(cache.get(alice, two, BlobKind::Image).is_none());
        assert_eq!(cache.get(bob, two, BlobKind::Image).unwrap().bytes()[0], 4);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn it_never_holds_more_than_its_bound() {
        let bound = 16 * 1024 * 1024;
        let cache = ImageCache::new(bound);
        let owner = UserId::random();
        for _ in 0..100 {
            cache.insert(
                owner,
                ImageId::random(),
                BlobKind::Image,
                plain(1024 * 1024, 7),
            );
            assert!(
                cache.bytes_held() <= bound,
                "{} > {bound}",
                cache.bytes_held()
            );
        }
        assert!(cache.len() >= 8, "it keeps what fits: {}", cache.len());
    }

    #[test]
    fn pages_are_kept_per_owner_version_and_start_and_go_with_their_owner() {
        let cache = ImageCache::new(64 * 1024 * 1024);
        let (alice, bob) = (UserId::random(), UserId::random());
        let at = |version, after| PageKey {
            version,
            after,
            limit: 100,
        };
        let later = Some(After {
            created_us: 7,
            id: ImageId::random(),
        });
        cache.insert_page(alice, at(3, None), Plain::digested(b"first".to_vec()));
        cache.insert_page(alice, at(3, later), Plain::digested(b"second".to_vec()));
        cache.insert_page(bob, at(3, None), Plain::digested(b"bob's".to_vec()));
        assert_eq!(
            &cache.page(alice, at(3, None)).unwrap().bytes()[..],
            b"first"
        );
        assert_eq!(
            &cache.page(alice, at(3, later)).unwrap().bytes()[..],
            b"second"
        );
        assert!(cache.page(alice, at(4, None)).is_none(), "a newer list");
        assert!(
            cache
                .page(
                    alice,
                    PageKey {
                        limit: 50,
                        ..at(3, None)
                    }
                )
                .is_none(),
            "another page size"
        );
        cache.insert(alice, ImageId::random(), BlobKind::Image, plain(10, 1));
        cache.forget_owner(alice);
        assert!(cache.page(alice, at(3, None)).is_none());
        assert_eq!(&cache.page(bob, at(3, None)).unwrap().bytes()[..], b"bob's");
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_page_is_tagged_by_its_digest() {
        let (a, b) = (
            Plain::digested(b"a".to_vec()),
            Plain::digested(b"b".to_vec()),
        );
        assert_ne!(a.etag(), b.etag());
        assert_eq!(a.etag(), Plain::digested(b"a".to_vec()).etag());
    }

    #[test]
    fn a_cache_of_zero_bytes_keeps_nothing() {
        let cache = ImageCache::new(0);
        let (owner, image) = (UserId::random(), ImageId::random());
        cache.insert(owner, image, BlobKind::Image, plain(10, 1));
        assert!(cache.get(owner, image, BlobKind::Image).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn etags_are_quoted_and_differ_with_the_tag() {
        let a = plain(10, 1).etag();
        assert!(
            a.starts_with('"') && a.ends_with('"') && a.len() == 45,
            "{a}"
        );
        assert_ne!(a, plain(10, 2).etag());
        assert!(a.bytes().all(|b| b.is_ascii_graphic()));
    }
}
