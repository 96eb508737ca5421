//! Test images made in code, so no binary fixture can drift from what a test claims.
//! Shared by the integration tests and the benchmarks.
// Pixel maths wraps on purpose (patterns, not values), and fixture sizes are tiny.
#![allow(dead_code, missing_docs, clippy::cast_possible_truncation)]

use std::io::Cursor;

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{Delay, Frame, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

/// A deterministic photo-like picture: smooth gradients plus sensor-like noise, so
/// JPEG sizes resemble real photos rather than flat test cards.
pub fn photo(width: u32, height: u32, noise: u8) -> RgbImage {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = if noise == 0 {
            0
        } else {
            (state % u64::from(noise)) as u8
        };
        let r = ((x * 255) / width.max(1)) as u8;
        let g = ((y * 255) / height.max(1)) as u8;
        let b = (((x + y) * 127) / (width + height).max(1)) as u8 + 64;
        Rgb([
            r.wrapping_add(n),
            g.wrapping_add(n / 2),
            b.wrapping_sub(n / 3),
        ])
    })
}

pub fn jpeg_from(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut out), quality)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    jpeg_from(&photo(width, height, 16), 85)
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let img = photo(width, height, 8);
    PngEncoder::new(Cursor::new(&mut out))
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

pub fn png_rgba(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let img = RgbaImage::from_fn(width, height, |x, y| {
        Rgba([x as u8, y as u8, 90, (x ^ y) as u8])
    });
    PngEncoder::new(Cursor::new(&mut out))
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgba8)
        .unwrap();
    out
}

pub fn gif(width: u32, height: u32, frames: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 30);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        for i in 0..frames {
            let img = RgbaImage::from_fn(width, height, |x, y| {
                Rgba([(x * 8 + i * 40) as u8, (y * 8) as u8, 128, 255])
            });
            let frame = Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms(100, 1));
            encoder.encode_frame(frame).unwrap();
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// JPEG surgery

/// A JPEG segment: FF marker, length, body.
pub fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&u16::try_from(body.len() + 2).unwrap().to_be_bytes());
    s.extend_from_slice(body);
    s
}

/// Inserts segments right after SOI.
pub fn jpeg_insert_after_soi(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    for s in segments {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

pub const GPS_SECRET: &[u8] = b"GPS-SECRET-51.4779N-0.0015W";
pub const CAMERA_SERIAL: &[u8] = b"SERIAL-CAM-00042";

/// A big-endian TIFF/EXIF block with Orientation, a camera serial (`BodySerialNumber` in
/// the IFD0 for simplicity) and a GPS IFD whose processing method carries [`GPS_SECRET`].
pub fn exif_tiff(orientation: u16) -> Vec<u8> {
    let mut t = b"MM\0\x2a".to_vec();
    t.extend_from_slice(&8u32.to_be_bytes());
    // IFD0: 3 entries at offset 8: 2 + 3*12 + 4 = 42 bytes -> data area starts at 50.
    let serial_off = 50u32;
    let gps_ifd_off = serial_off + CAMERA_SERIAL.len() as u32;
    t.extend_from_slice(&3u16.to_be_bytes());
    entry(
        &mut t,
        0x0112,
        3,
        1,
        (u32::from(orientation) << 16).to_be_bytes(),
    );
    entry(
        &mut t,
        0xA431,
        2,
        CAMERA_SERIAL.len() as u32,
        serial_off.to_be_bytes(),
    );
    entry(&mut t, 0x8825, 4, 1, gps_ifd_off.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(CAMERA_SERIAL);
    // GPS IFD: 2 entries: LatitudeRef 'N', ProcessingMethod (UNDEFINED) -> secret.
    let secret_off = gps_ifd_off + 2 + 2 * 12 + 4;
    t.extend_from_slice(&2u16.to_be_bytes());
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
    entry(
        &mut t,
        0x001B,
        7,
        GPS_SECRET.len() as u32,
        secret_off.to_be_bytes(),
    );
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(GPS_SECRET);
    t
}

fn entry(t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
    t.extend_from_slice(&tag.to_be_bytes());
    t.extend_from_slice(&kind.to_be_bytes());
    t.extend_from_slice(&count.to_be_bytes());
    t.extend_from_slice(&value);
}

pub const XMP_SECRET: &[u8] = b"<x:xmpmeta>XMP-SECRET-creator</x:xmpmeta>";
pub const IPTC_SECRET: &[u8] = b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x10IPTC-SECRET-byline";
pub const COMMENT_SECRET: &[u8] = b"COMMENT-SECRET";
pub const ZIP_TAIL: &[u8] = b"PK\x03\x04ZIP-SECRET-payload-after-eoi";

/// A camera-like JPEG: EXIF (orientation, serial, GPS), XMP, IPTC, a comment, and a ZIP
/// appended after EOI.
pub fn jpeg_with_metadata(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&exif_tiff(orientation));
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend_from_slice(XMP_SECRET);
    let mut out = jpeg_insert_after_soi(
        &jpeg(width, height),
        &[
            segment(0xE1, &exif),
            segment(0xE1, &xmp),
            segment(0xED, IPTC_SECRET),
            segment(0xFE, COMMENT_SECRET),
        ],
    );
    out.extend_from_slice(ZIP_TAIL);
    out
}

/// Overwrites the dimensions in the first SOF0 segment.
pub fn jpeg_with_claimed_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

// ---------------------------------------------------------------------------------------
// PNG surgery

pub fn png_chunk(kind: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    c.extend_from_slice(&kind);
    c.extend_from_slice(data);
    let mut hasher = crc32(&kind, data);
    c.extend_from_slice(&std::mem::take(&mut hasher).to_be_bytes());
    c
}

fn crc32(kind: &[u8], data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in kind.iter().chain(data) {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Inserts chunks right after IHDR (which is always 8 + 25 bytes in).
pub fn png_insert_after_ihdr(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = png[..33].to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&png[33..]);
    out
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A zlib stream that inflates to `size` zero bytes, built without allocating `size`.
pub fn zlib_zeros(size: usize) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        e.write_all(&block[..n]).unwrap();
        left -= n;
    }
    e.finish().unwrap()
}

/// A PNG whose header claims `width`×`height` RGBA with a few bytes of image data:
/// the classic pixel flood.
pub fn png_pixel_flood(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(*b"IHDR", &ihdr));
    out.extend(png_chunk(*b"IDAT", &zlib(&[0; 64])));
    out.extend(png_chunk(*b"IEND", &[]));
    out
}

// ---------------------------------------------------------------------------------------
// GIF surgery

/// Inserts raw blocks before the first image/extension block (after header, LSD, GCT).
pub fn gif_insert_blocks(gif: &[u8], blocks: &[u8]) -> Vec<u8> {
    let packed = gif[10];
    let gct = if packed & 0x80 != 0 {
        3 << ((packed & 7) + 1)
    } else {
        0
    };
    let at = 13 + gct;
    let mut out = gif[..at].to_vec();
    out.extend_from_slice(blocks);
    out.extend_from_slice(&gif[at..]);
    out
}

pub fn gif_extension(label: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x21, label];
    for chunk in data.chunks(255) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    out.push(0);
    out
}

/// A GIF of `frames` minimal 1×1 frames on a `width`×`height` canvas, built by hand so
/// bomb-sized files stay small.
pub fn gif_many_frames(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&[0x80, 0, 0]); // 2-colour global table
    out.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    for _ in 0..frames {
        out.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
        out.extend_from_slice(&[2, 2, 0x4C, 0x01, 0]); // LZW: clear, 0, end
    }
    out.push(0x3B);
    out
}
