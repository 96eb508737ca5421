//! The at-rest format of images and thumbnails:
//!
//! ```text
//! header (5 bytes: format version 1, KEK version as u32 big-endian)
//! ‖ IV (16 random bytes)
//! ‖ AES-256-CBC(PKCS#7) ciphertext
//! ‖ HMAC-SHA256 tag (32 bytes) over header ‖ IV ‖ ciphertext ‖ image id ‖ owner id
//! ```
//!
//! The encryption and MAC keys are derived per blob with HKDF-SHA256 from the user key,
//! with the blob kind and image id as context, so each blob has keys of its own and a
//! thumbnail cannot pass for its image. The KEK version records which master key
//! wrapped the user key when the blob was written; it is authenticated but not needed
//! to open the blob (rotation rewraps user keys and leaves blobs alone).

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::VaultError;
use super::keyring::UserKey;

/// Format version written in every header.
pub const FORMAT_VERSION: u8 = 1;
const HEADER_BYTES: usize = 5;
const IV_BYTES: usize = 16;
const TAG_BYTES: usize = 32;
const BLOCK_BYTES: usize = 16;
/// Smallest possible blob: header, IV, one padded block, tag.
pub const MIN_BLOB_BYTES: usize = HEADER_BYTES + IV_BYTES + BLOCK_BYTES + TAG_BYTES;
const HKDF_SALT: &[u8] = b"imagevault blob keys v1";

/// Which blob of an image this is; part of key derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// The sanitised image.
    Image,
    /// Its thumbnail.
    Thumbnail,
}

/// Who a blob belongs to: both ids are bound into its tag.
#[derive(Debug, Clone, Copy)]
pub struct BlobId {
    /// The image's random id.
    pub image: Uuid,
    /// The owning user's id.
    pub owner: Uuid,
    /// Image or thumbnail.
    pub kind: BlobKind,
}

struct BlobKeys {
    enc: Zeroizing<[u8; 32]>,
    mac: Zeroizing<[u8; 32]>,
}

/// The first byte of the key-derivation context: which kind of thing is sealed.
fn context(kind: BlobKind) -> u8 {
    match kind {
        BlobKind::Image => 0,
        BlobKind::Thumbnail => 1,
    }
}

/// Context byte of a user's own small secrets (the TOTP seed): no image or thumbnail
/// can ever share its keys.
const USER_SECRET_CONTEXT: u8 = 2;

/// Context byte of the key that seals a user's filenames ([`NameKey`]).
const NAME_CONTEXT: u8 = 3;

fn derive(user_key: &UserKey, context: u8, id: &BlobId) -> BlobKeys {
    let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), user_key.expose_secret());
    let mut info = Vec::with_capacity(17);
    info.push(context);
    info.extend_from_slice(id.image.as_bytes());
    let mut okm = Zeroizing::new([0u8; 64]);
    hkdf.expand(&info, okm.as_mut())
        .expect("64 bytes is a valid HKDF-SHA256 output length");
    let mut keys = BlobKeys {
        enc: Zeroizing::new([0u8; 32]),
        mac: Zeroizing::new([0u8; 32]),
    };
    keys.enc.copy_from_slice(&okm[..32]);
    keys.mac.copy_from_slice(&okm[32..]);
    keys
}

fn mac(keys: &BlobKeys, id: &BlobId, authenticated: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(keys.mac.as_ref())
        .expect("HMAC takes any key length");
    mac.update(authenticated);
    mac.update(id.image.as_bytes());
    mac.update(id.owner.as_bytes());
    mac
}

/// Encrypts `plaintext` for `id`.
pub fn seal(user_key: &UserKey, kek_version: u32, id: &BlobId, plaintext: &[u8]) -> Vec<u8> {
    seal_in(user_key, kek_version, context(id.kind), id, plaintext)
}

/// Seals a small secret of the user's own (the TOTP seed) in the same format, bound to
/// the user's id, under keys no blob can have.
pub fn seal_user_secret(
    user_key: &UserKey,
    kek_version: u32,
    owner: Uuid,
    plaintext: &[u8],
) -> Vec<u8> {
    seal_in(
        user_key,
        kek_version,
        USER_SECRET_CONTEXT,
        &secret_id(owner),
        plaintext,
    )
}

/// Opens what [`seal_user_secret`] sealed for `owner`.
pub fn open_user_secret(
    user_key: &UserKey,
    owner: Uuid,
    sealed: &[u8],
) -> Result<Vec<u8>, VaultError> {
    open_in(
        user_key,
        USER_SECRET_CONTEXT,
        &secret_id(owner),
        sealed.to_vec(),
    )
}

fn secret_id(owner: Uuid) -> BlobId {
    // The kind is not used for user secrets: their context byte is their own.
    BlobId {
        image: owner,
        owner,
        kind: BlobKind::Image,
    }
}

fn seal_in(
    user_key: &UserKey,
    kek_version: u32,
    context: u8,
    id: &BlobId,
    plaintext: &[u8],
) -> Vec<u8> {
    seal_with(&derive(user_key, context, id), kek_version, id, plaintext)
}

fn seal_with(keys: &BlobKeys, kek_version: u32, id: &BlobId, plaintext: &[u8]) -> Vec<u8> {
    let mut iv = [0u8; IV_BYTES];
    getrandom::fill(&mut iv).expect("the OS random source is available");
    let ciphertext = cbc::Encryptor::<Aes256>::new((&*keys.enc).into(), &iv.into())
        .encrypt_padded_vec::<Pkcs7>(plaintext);
    let mut blob = Vec::with_capacity(HEADER_BYTES + IV_BYTES + ciphertext.len() + TAG_BYTES);
    blob.push(FORMAT_VERSION);
    blob.extend_from_slice(&kek_version.to_be_bytes());
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&ciphertext);
    let tag = mac(keys, id, &blob).finalize().into_bytes();
    blob.extend_from_slice(&tag);
    blob
}

/// Checks the tag (constant time) and only then decrypts.
pub fn open(user_key: &UserKey, id: &BlobId, blob: &[u8]) -> Result<Vec<u8>, VaultError> {
    open_owned(user_key, id, blob.to_vec())
}

/// [`open`] decrypting in the blob's own buffer: serving an image then needs no second
/// image-sized allocation.
pub fn open_owned(user_key: &UserKey, id: &BlobId, blob: Vec<u8>) -> Result<Vec<u8>, VaultError> {
    open_in(user_key, context(id.kind), id, blob)
}

fn open_in(
    user_key: &UserKey,
    context: u8,
    id: &BlobId,
    blob: Vec<u8>,
) -> Result<Vec<u8>, VaultError> {
    open_with(&derive(user_key, context, id), id, blob)
}

fn well_formed(blob: &[u8]) -> bool {
    blob.len() >= MIN_BLOB_BYTES
        && blob[0] == FORMAT_VERSION
        && (blob.len() - HEADER_BYTES - IV_BYTES - TAG_BYTES).is_multiple_of(BLOCK_BYTES)
}

fn open_with(keys: &BlobKeys, id: &BlobId, mut blob: Vec<u8>) -> Result<Vec<u8>, VaultError> {
    if !well_formed(&blob) {
        return Err(VaultError::Integrity);
    }
    let body = blob.len() - TAG_BYTES;
    mac(keys, id, &blob[..body])
        .verify_slice(&blob[body..])
        .map_err(|_| VaultError::Integrity)?;
    let iv: [u8; IV_BYTES] = blob[HEADER_BYTES..HEADER_BYTES + IV_BYTES]
        .try_into()
        .expect("length checked above");
    let plain_len = cbc::Decryptor::<Aes256>::new((&*keys.enc).into(), &iv.into())
        .decrypt_padded::<Pkcs7>(&mut blob[HEADER_BYTES + IV_BYTES..body])
        .map_err(|_| VaultError::Integrity)?
        .len();
    blob.truncate(HEADER_BYTES + IV_BYTES + plain_len);
    blob.drain(..HEADER_BYTES + IV_BYTES);
    Ok(blob)
}

/// The key that seals one user's filenames, in the blob format above: derived once per
/// user (not per image, as blob keys are), because a listing opens a whole page of
/// names and an HKDF per name would cost more than the rest of the page. Each name is
/// still bound to its image and owner: both ids are in its tag, so a name copied to
/// another row, or another user's, does not open.
pub struct NameKey {
    keys: BlobKeys,
    owner: Uuid,
}

impl NameKey {
    /// The name key of `owner`'s user key.
    pub fn new(user_key: &UserKey, owner: Uuid) -> Self {
        Self {
            keys: derive(user_key, NAME_CONTEXT, &secret_id(owner)),
            owner,
        }
    }

    fn id(&self, image: Uuid) -> BlobId {
        BlobId {
            image,
            owner: self.owner,
            kind: BlobKind::Image,
        }
    }

    /// Seals the name of `image` (its id is the associated data).
    pub fn seal(&self, kek_version: u32, image: Uuid, name: &str) -> Vec<u8> {
        seal_with(&self.keys, kek_version, &self.id(image), name.as_bytes())
    }

    /// Opens the name of `image`: the tag is checked first, then the text must be UTF-8.
    pub fn open(&self, image: Uuid, sealed: Vec<u8>) -> Result<String, VaultError> {
        let plain = open_with(&self.keys, &self.id(image), sealed)?;
        String::from_utf8(plain).map_err(|_| VaultError::Integrity)
    }
}

/// The blob's tag (its last 32 bytes): an authenticated digest of the whole blob once
/// [`open`] accepted it, and an untrusted string of bytes before.
pub fn tag(blob: &[u8]) -> Option<[u8; TAG_BYTES]> {
    let at = blob.len().checked_sub(TAG_BYTES)?;
    blob[at..].try_into().ok()
}

/// The KEK version recorded in a blob's header (unauthenticated until opened).
pub fn kek_version(blob: &[u8]) -> Option<u32> {
    blob.get(1..HEADER_BYTES)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: BlobKind) -> BlobId {
        BlobId {
            image: Uuid::new_v4(),
            owner: Uuid::new_v4(),
            kind,
        }
    }

    /// A plaintext with structure (repeated text), as image headers have.
    fn plaintext() -> Vec<u8> {
        b"\xff\xd8\xff\xe0 JFIF sample image bytes with structure 0123456789 "
            .iter()
            .copied()
            .cycle()
            .take(3000)
            .collect()
    }

    #[test]
    fn round_trips_images_and_thumbnails() {
        let key = UserKey::generate();
        for kind in [BlobKind::Image, BlobKind::Thumbnail] {
            let id = id(kind);
            let blob = seal(&key, 7, &id, &plaintext());
            assert_eq!(kek_version(&blob), Some(7));
            assert_eq!(open(&key, &id, &blob).unwrap(), plaintext());
        }
        let empty_id = id(BlobKind::Image);
        let empty = seal(&key, 1, &empty_id, b"");
        assert_eq!(empty.len(), MIN_BLOB_BYTES);
        assert_eq!(open(&key, &empty_id, &empty).unwrap(), b"");
    }

    #[test]
    fn flipping_any_byte_fails_the_check() {
        let key = UserKey::generate();
        let id = id(BlobKind::Image);
        let blob = seal(&key, 1, &id, &plaintext()[..200]);
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x80;
            assert!(
                matches!(open(&key, &id, &bad), Err(VaultError::Integrity)),
                "byte {i}"
            );
        }
        for len in [0, 1, MIN_BLOB_BYTES - 1, blob.len() - 1] {
            assert!(open(&key, &id, &blob[..len]).is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn blobs_are_bound_to_their_image_owner_kind_and_key() {
        let key = UserKey::generate();
        let id = id(BlobKind::Image);
        let blob = seal(&key, 1, &id, &plaintext());
        let other_image = BlobId {
            image: Uuid::new_v4(),
            ..id
        };
        let other_owner = BlobId {
            owner: Uuid::new_v4(),
            ..id
        };
        let as_thumbnail = BlobId {
            kind: BlobKind::Thumbnail,
            ..id
        };
        for wrong in [other_image, other_owner, as_thumbnail] {
            assert!(matches!(
                open(&key, &wrong, &blob),
                Err(VaultError::Integrity)
            ));
        }
        assert!(
            open(&UserKey::generate(), &id, &blob).is_err(),
            "another user's key"
        );
    }

    #[test]
    fn no_plaintext_window_survives_and_ivs_differ() {
        let key = UserKey::generate();
        let id = id(BlobKind::Image);
        let plain = plaintext();
        let a = seal(&key, 1, &id, &plain);
        let b = seal(&key, 1, &id, &plain);
        assert_ne!(a, b, "fresh IV every time");
        for window in plain.windows(8).step_by(8) {
            assert!(!a.windows(8).any(|w| w == window));
        }
    }

    #[test]
    fn user_secrets_are_bound_to_their_owner_and_never_open_as_images() {
        let key = UserKey::generate();
        let owner = Uuid::new_v4();
        let sealed = seal_user_secret(&key, 3, owner, b"twenty byte seed....");
        assert_eq!(kek_version(&sealed), Some(3));
        assert_eq!(
            open_user_secret(&key, owner, &sealed).unwrap(),
            b"twenty byte seed...."
        );
        assert!(open_user_secret(&key, Uuid::new_v4(), &sealed).is_err());
        assert!(open_user_secret(&UserKey::generate(), owner, &sealed).is_err());
        // An image whose id happened to be the user's id still has other keys.
        let as_image = BlobId {
            image: owner,
            owner,
            kind: BlobKind::Image,
        };
        assert!(open(&key, &as_image, &sealed).is_err());
        let image = seal(&key, 3, &as_image, b"image");
        assert!(open_user_secret(&key, owner, &image).is_err());
    }

    #[test]
    fn names_open_only_for_their_image_owner_and_key() {
        let key = UserKey::generate();
        let (owner, image) = (Uuid::new_v4(), Uuid::new_v4());
        let names = NameKey::new(&key, owner);
        let sealed = names.seal(4, image, "passport_scan.jpg");
        assert_eq!(kek_version(&sealed), Some(4));
        assert!(!sealed.windows(8).any(|w| w == b"passport"));
        assert_eq!(
            names.open(image, sealed.clone()).unwrap(),
            "passport_scan.jpg"
        );
        assert_eq!(
            NameKey::new(&key, owner)
                .open(image, sealed.clone())
                .unwrap(),
            "passport_scan.jpg"
        );
        assert!(
            names.open(Uuid::new_v4(), sealed.clone()).is_err(),
            "another image"
        );
        assert!(
            NameKey::new(&key, Uuid::new_v4())
                .open(image, sealed.clone())
                .is_err(),
            "another owner"
        );
        assert!(
            NameKey::new(&UserKey::generate(), owner)
                .open(image, sealed.clone())
                .is_err(),
            "another key"
        );
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(names.open(image, bad).is_err(), "byte {i}");
        }
        assert!(names.open(image, Vec::new()).is_err());
        // Neither a blob nor a user secret of the same ids opens as a name, nor the reverse.
        let as_blob = BlobId {
            image,
            owner,
            kind: BlobKind::Image,
        };
        assert!(
            names
                .open(image, seal(&key, 4, &as_blob, b"x.jpg"))
                .is_err()
        );
        assert!(open(&key, &as_blob, &sealed).is_err());
        assert!(
            names
                .open(owner, seal_user_secret(&key, 4, owner, b"x.jpg"))
                .is_err()
        );
        // A sealed name that is not UTF-8 inside is refused, not mangled.
        assert!(matches!(
            names.open(
                image,
                seal_with(&names.keys, 4, &names.id(image), b"\xff\xfe")
            ),
            Err(VaultError::Integrity)
        ));
    }
}
