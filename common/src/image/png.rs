//! PNG chunk filtering with `img-parts`: keep what draws the default image, drop the rest.
//!
//! Kept: the critical chunks (IHDR, PLTE, IDAT, IEND) and the ancillary chunks that
//! change how pixels look (tRNS, gAMA, cHRM, sRGB, sBIT, bKGD, pHYs), plus the first
//! iCCP when it inflates to at most [`MAX_ICC_BYTES`] (later ones are dropped unread).
//! Replaced: eXIf, by an orientation-only block. Dropped: text (tEXt, zTXt, iTXt), tIME,
//! APNG animation (acTL, fcTL, fdAT; the default image stays), private and unknown
//! ancillary chunks, and anything after IEND.
//!
//! Filtering happens *before* decoding on purpose: the `png` decoder inflates iCCP and
//! zTXt eagerly while reading the header, so a small file with a 1 GiB compressed text
//! chunk would cost hundreds of MB before any of our checks ran.

use std::io::Read;

use ::image::metadata::Orientation;
use bytes::Bytes;
use img_parts::png::{Png, PngChunk};

use super::exif;
use super::{ImageError, MAX_ICC_BYTES, Stripped, check_dimensions};

const KEPT: &[&[u8; 4]] = &[
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"bKGD",
    b"pHYs",
];

pub(super) fn strip(data: &[u8]) -> Result<Stripped, ImageError> {
    let png = Png::from_bytes(Bytes::copy_from_slice(data))
        .map_err(|_| ImageError::corrupt("its chunk structure is broken or truncated"))?;
    let chunks = png.chunks();
    let (width, height) = header_dimensions(chunks)?;
    if chunks.last().map(PngChunk::kind) != Some(*b"IEND") {
        return Err(ImageError::truncated());
    }
    if !chunks.iter().any(|c| &c.kind() == b"IDAT") {
        return Err(ImageError::corrupt("it has no image data"));
    }
    check_dimensions(width, height)?;
    check_data_can_hold_pixels(chunks, width, height)?;
    let mut orientation = Orientation::NoTransforms;
    let mut kept: Vec<PngChunk> = Vec::with_capacity(chunks.len());
    // PNG allows one profile and decoders use the first; later ones would be hidden,
    // unchecked payload, and inflating each would let thousands of small chunks cost
    // gigabytes of inflation. So only the first is inflated (and kept if small).
    let mut profile_seen = false;
    for chunk in chunks {
        let kind = chunk.kind();
        let first_profile = &kind == b"iCCP" && !std::mem::replace(&mut profile_seen, true);
        if KEPT.contains(&&kind) || (first_profile && small_profile(chunk.contents())) {
            kept.push(chunk.clone());
        } else if &kind == b"eXIf" {
            orientation = exif::orientation(chunk.contents());
        } else if is_critical(kind) {
            return Err(ImageError::corrupt(format!(
                "it has an unknown critical chunk {:?}",
                String::from_utf8_lossy(&kind)
            )));
        }
    }
    if orientation != Orientation::NoTransforms {
        let exif = PngChunk::new(*b"eXIf", Bytes::from(exif::orientation_only(orientation)));
        kept.insert(1, exif); // eXIf must precede IDAT; right after IHDR is always valid.
    }
    let mut bytes = Vec::with_capacity(data.len());
    bytes.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    for chunk in kept {
        bytes.extend_from_slice(&chunk.encoder().bytes());
    }
    Ok(Stripped {
        bytes,
        width,
        height,
        orientation,
        frames: 1,
    })
}

fn header_dimensions(chunks: &[PngChunk]) -> Result<(u32, u32), ImageError> {
    let ihdr = chunks
        .first()
        .filter(|c| &c.kind() == b"IHDR" && c.contents().len() == 13)
        .ok_or_else(|| ImageError::corrupt("it does not start with an image header"))?;
    let c = ihdr.contents();
    let width = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    let height = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
    Ok((width, height))
}

/// Deflate cannot compress better than 1032:1 (a 258-byte match in two 1-bit codes), so
/// image data smaller than its raw size ÷ that ratio cannot be complete: a pixel flood or
/// a truncated file, refused before the decoder allocates the frame.
fn check_data_can_hold_pixels(
    chunks: &[PngChunk],
    width: u32,
    height: u32,
) -> Result<(), ImageError> {
    const MAX_DEFLATE_RATIO: u64 = 1032;
    let ihdr = chunks[0].contents();
    let channels = match ihdr[9] {
        0 | 3 => 1,
        4 => 2,
        2 => 3,
        6 => 4,
        _ => return Err(ImageError::corrupt("it has an unknown colour type")),
    };
    let bits_per_pixel = u64::from(ihdr[8]) * channels;
    let row_bytes = (u64::from(width) * bits_per_pixel).div_ceil(8);
    let raw = u64::from(height) * row_bytes;
    let compressed: u64 = chunks
        .iter()
        .filter(|c| &c.kind() == b"IDAT")
        .map(|c| c.contents().len() as u64)
        .sum();
    if compressed.saturating_mul(MAX_DEFLATE_RATIO) < raw {
        return Err(ImageError::corrupt(
            "it claims more pixels than its data can hold",
        ));
    }
    Ok(())
}

/// An upper-case first letter marks a chunk a decoder may not ignore.
fn is_critical(kind: [u8; 4]) -> bool {
    kind[0].is_ascii_uppercase()
}

/// Whether an iCCP chunk (name, NUL, method, zlib data) inflates to a small profile.
/// Inflation stops one byte past the limit, so a bomb costs at most that much.
fn small_profile(contents: &[u8]) -> bool {
    let Some(nul) = contents.iter().take(80).position(|b| *b == 0) else {
        return false;
    };
    let Some(compressed) = contents.get(nul + 2..) else {
        return false;
    };
    let limit = u64::try_from(MAX_ICC_BYTES).unwrap_or(u64::MAX) + 1;
    let mut profile = Vec::new();
    let inflated = flate2::read::ZlibDecoder::new(compressed)
        .take(limit)
        .read_to_end(&mut profile);
    matches!(inflated, Ok(n) if n > 0 && n <= MAX_ICC_BYTES)
}
