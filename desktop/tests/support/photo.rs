//! A camera-sized photo for benchmarks: 4000×3000 (12 MP), gradients plus sensor-like
//! noise, encoded as close under the 5 MiB limit as JPEG quality steps allow. Shared by
//! the drop benchmark and the end-to-end drop measurement.
// Pixel arithmetic, where truncation is the point.
#![allow(clippy::cast_possible_truncation)]

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use imagevault_common::image::MAX_IMAGE_BYTES;

/// The JPEG bytes.
pub fn camera_jpeg() -> Vec<u8> {
    let mut state: u32 = 0x9E37_79B9;
    let img = RgbImage::from_fn(4000, 3000, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 48) as u8;
        Rgb([
            ((x / 16) as u8).wrapping_add(noise),
            ((y / 12) as u8).wrapping_add(noise / 2),
            (((x + y) / 28) as u8).wrapping_add(noise / 3),
        ])
    });
    for quality in (60..=95).rev().step_by(5) {
        let mut out = Cursor::new(Vec::new());
        JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(&img)
            .unwrap();
        if out.get_ref().len() <= MAX_IMAGE_BYTES - 64 * 1024 {
            return out.into_inner();
        }
    }
    panic!("no quality fits under 5 MiB");
}
