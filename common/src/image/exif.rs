//! EXIF reduced to the one tag that changes how an image looks: its orientation.
//!
//! Camera EXIF carries GPS positions, serial numbers and timestamps, so it never leaves
//! the structural walk. Dropping it entirely would turn portrait phone photos sideways,
//! and applying the rotation would mean re-encoding (lossy for JPEG), so instead the
//! walk writes a fresh EXIF block whose only entry is the orientation read from the old.

use ::image::metadata::Orientation;

/// Prefix of an EXIF APP1 segment in JPEG.
pub(super) const JPEG_EXIF_PREFIX: &[u8] = b"Exif\0\0";

/// Reads the orientation from a TIFF-structured EXIF block; absent or invalid means
/// "as stored".
pub(super) fn orientation(tiff: &[u8]) -> Orientation {
    Orientation::from_exif_chunk(tiff).unwrap_or(Orientation::NoTransforms)
}

/// A big-endian TIFF block with a single IFD entry: Orientation (0x0112, SHORT, 1).
pub(super) fn orientation_only(orientation: Orientation) -> Vec<u8> {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2a"); // byte order, magic 42
    tiff.extend_from_slice(&8u32.to_be_bytes()); // first IFD right after the header
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // tag: Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // type: SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&u16::from(orientation.to_exif()).to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding to 4 bytes
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    tiff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_round_trips_through_the_minimal_block() {
        for value in 1..=8u8 {
            let o = Orientation::from_exif(value).unwrap();
            assert_eq!(orientation(&orientation_only(o)), o);
        }
    }

    #[test]
    fn garbage_means_no_transform() {
        assert_eq!(orientation(b"not tiff"), Orientation::NoTransforms);
        assert_eq!(orientation(&[]), Orientation::NoTransforms);
    }
}
