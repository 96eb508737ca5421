//! A GIF block walk (GIF89a spec §17–§27) that counts frames and drops metadata before
//! any LZW data is decoded.
//!
//! Neither `img-parts` nor the `gif` crate can rewrite a GIF's block stream, and the
//! stream is simple: a header, optional global palette, then blocks introduced by one
//! byte (extension `!`, image `,`, trailer `;`), each made of length-prefixed sub-blocks.
//! Walking it lets us refuse frame bombs from descriptors alone and copy image data
//! through byte for byte.
//!
//! Kept: graphic control extensions (delays, transparency), the NETSCAPE2.0/ANIMEXTS1.0
//! looping extension, image descriptors with their palettes and LZW data. Dropped:
//! comments, plain-text extensions (which browsers do not draw), other application
//! extensions (XMP lives in one) and anything after the trailer.

use ::image::metadata::Orientation;

use super::{ImageError, MAX_GIF_FRAMES, MAX_GIF_TOTAL_PIXELS, MAX_PIXELS, MAX_SIDE, Stripped};

const EXTENSION: u8 = 0x21;
const IMAGE: u8 = 0x2C;
const TRAILER: u8 = 0x3B;
const GRAPHIC_CONTROL: u8 = 0xF9;
const APPLICATION: u8 = 0xFF;

pub(super) fn strip(data: &[u8]) -> Result<Stripped, ImageError> {
    let screen = data.get(6..13).ok_or_else(ImageError::truncated)?;
    let width = u32::from(u16::from_le_bytes([screen[0], screen[1]]));
    let height = u32::from(u16::from_le_bytes([screen[2], screen[3]]));
    let canvas = u64::from(width) * u64::from(height);
    let mut pos = 13 + palette_len(screen[4]);
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(data.get(..pos).ok_or_else(ImageError::truncated)?);
    let mut frames = 0usize;
    let mut drawn = 0u64;
    loop {
        let start = pos;
        match *data.get(pos).ok_or_else(ImageError::truncated)? {
            EXTENSION => {
                let label = *data.get(pos + 1).ok_or_else(ImageError::truncated)?;
                pos = skip_sub_blocks(data, pos + 2)?;
                if keep_extension(label, &data[start + 2..pos]) {
                    out.extend_from_slice(&data[start..pos]);
                }
            }
            IMAGE => {
                frames += 1;
                let area = frame_area(data, pos)?;
                drawn = drawn.saturating_add(area.max(canvas));
                if frames > MAX_GIF_FRAMES || drawn > MAX_GIF_TOTAL_PIXELS {
                    return Err(ImageError::TooManyFrames { frames });
                }
                let descriptor = data.get(pos..pos + 10).ok_or_else(ImageError::truncated)?;
                pos += 10 + palette_len(descriptor[9]) + 1; // + LZW minimum code size
                pos = skip_sub_blocks(data, pos)?;
                out.extend_from_slice(&data[start..pos]);
            }
            TRAILER => {
                out.push(TRAILER);
                break;
            }
            _ => return Err(ImageError::corrupt("it has an unknown block")),
        }
    }
    if frames == 0 {
        return Err(ImageError::corrupt("it has no frames"));
    }
    Ok(Stripped {
        bytes: out,
        width,
        height,
        orientation: Orientation::NoTransforms,
        frames,
    })
}

/// Size in bytes of a colour table announced by a packed field, 0 if absent.
fn palette_len(packed: u8) -> usize {
    if packed & 0x80 == 0 {
        0
    } else {
        3 << ((packed & 0x07) + 1)
    }
}

/// Pixels of one frame from its descriptor, refusing frames larger than any image may be
/// (the decoder allocates a frame's buffer before drawing it onto the canvas).
fn frame_area(data: &[u8], pos: usize) -> Result<u64, ImageError> {
    let d = data.get(pos..pos + 10).ok_or_else(ImageError::truncated)?;
    let width = u32::from(u16::from_le_bytes([d[5], d[6]]));
    let height = u32::from(u16::from_le_bytes([d[7], d[8]]));
    let area = u64::from(width) * u64::from(height);
    if width > MAX_SIDE || height > MAX_SIDE || area > MAX_PIXELS {
        return Err(ImageError::TooManyPixels { width, height });
    }
    Ok(area)
}

/// Returns the position after a run of sub-blocks ending with a zero-length block.
fn skip_sub_blocks(data: &[u8], mut pos: usize) -> Result<usize, ImageError> {
    loop {
        let len = usize::from(*data.get(pos).ok_or_else(ImageError::truncated)?);
        pos += 1;
        if len == 0 {
            return Ok(pos);
        }
        pos += len;
        if pos > data.len() {
            return Err(ImageError::truncated());
        }
    }
}

/// `blocks` is the extension's sub-blocks; an application extension names itself in
/// the first (11 bytes: 8 identifier, 3 authentication).
fn keep_extension(label: u8, blocks: &[u8]) -> bool {
    match label {
        GRAPHIC_CONTROL => true,
        APPLICATION => {
            let id = blocks.get(1..12).unwrap_or_default();
            blocks.first() == Some(&11) && (id == b"NETSCAPE2.0" || id == b"ANIMEXTS1.0")
        }
        _ => false,
    }
}
