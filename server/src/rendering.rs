//! Renderings for share links: the stored image decoded, scaled to fit 2048 pixels,
//! watermarked when the owner asked, and re-encoded as JPEG — so a view-only link hands
//! out pixels to look at, never the stored bytes.
//!
//! The watermark is text drawn into the pixels (DejaVu Sans Bold, bundled in
//! `server/fonts` under its own licence, drawn with `imageproc` and `ab_glyph`), white
//! on a darkened band in the bottom-right corner, sized to the picture.

use ab_glyph::{FontRef, PxScale};
use image::imageops::FilterType;
use image::{DynamicImage, Rgb, RgbImage};
use imageproc::drawing::{draw_text_mut, text_size};

/// The longest side of a rendering.
pub const MAX_SIDE: u32 = 2048;
/// JPEG quality of renderings: good to look at, not an archive copy.
const QUALITY: u8 = 85;

static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Why a rendering could not be made (the stored image passed the upload gate, so this
/// is a bug or damage, not the visitor's fault).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The stored image did not decode or the rendering did not encode.
    #[error("rendering: {0}")]
    Image(#[from] image::ImageError),
}

/// A rendering of `stored`, watermarked with `watermark` when given. CPU-heavy: run it
/// on the blocking pool under the image-work bound.
pub fn render(stored: &[u8], watermark: Option<&str>) -> Result<Vec<u8>, RenderError> {
    let image = image::load_from_memory(stored)?;
    let image = if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        image.resize(MAX_SIDE, MAX_SIDE, FilterType::Lanczos3)
    } else {
        image
    };
    let mut pixels: RgbImage = image.to_rgb8();
    if let Some(text) = watermark {
        stamp(&mut pixels, text);
    }
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY);
    DynamicImage::ImageRgb8(pixels).write_with_encoder(encoder)?;
    Ok(out)
}

/// Draws `text` into the bottom-right corner on a darkened band.
fn stamp(pixels: &mut RgbImage, text: &str) {
    let font = FontRef::try_from_slice(FONT).expect("the bundled font parses");
    let (width, height) = pixels.dimensions();
    let size = (f64::from(width.min(height)) / 16.0).clamp(10.0, 64.0);
    #[allow(clippy::cast_possible_truncation, reason = "clamped to 10..=64")]
    let scale = PxScale::from(size as f32);
    let (text_w, text_h) = text_size(scale, &font, text);
    let margin = text_h / 3 + 2;
    let band_w = (text_w + 2 * margin).min(width);
    let band_h = (text_h + 2 * margin).min(height);
    let (left, top) = (width - band_w, height - band_h);
    for y in top..height {
        for x in left..width {
            let Rgb([r, g, b]) = *pixels.get_pixel(x, y);
            pixels.put_pixel(x, y, Rgb([r / 3, g / 3, b / 3]));
        }
    }
    let at = |start: u32| i32::try_from(start + margin).unwrap_or(i32::MAX);
    draw_text_mut(
        pixels,
        Rgb([255, 255, 255]),
        at(left),
        at(top),
        scale,
        &font,
        text,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(width: u32, height: u32) -> Vec<u8> {
        let byte = |v: u32| u8::try_from(v % 256).unwrap_or(0);
        let pixels = RgbImage::from_fn(width, height, |x, y| Rgb([byte(x), byte(y), byte(x + y)]));
        let mut out = std::io::Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(pixels)
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn large_images_are_scaled_to_fit_and_re_encoded() {
        let stored = photo(3000, 1000);
        let rendered = render(&stored, None).unwrap();
        assert_ne!(rendered, stored);
        let back = image::load_from_memory(&rendered).unwrap();
        assert_eq!((back.width(), back.height()), (2048, 683));
    }

    #[test]
    fn the_watermark_changes_the_pixels_of_its_corner_only() {
        let stored = photo(800, 600);
        let plain = image::load_from_memory(&render(&stored, None).unwrap())
            .unwrap()
            .to_rgb8();
        let marked =
            image::load_from_memory(&render(&stored, Some("Shared via ImageVault")).unwrap())
                .unwrap()
                .to_rgb8();
        let differs = |x: u32, y: u32| {
            let (a, b) = (plain.get_pixel(x, y), marked.get_pixel(x, y));
            a.0.iter().zip(b.0).any(|(p, q)| p.abs_diff(q) > 40)
        };
        let corner = (700..800).flat_map(|x| (560..600).map(move |y| (x, y)));
        assert!(corner.filter(|&(x, y)| differs(x, y)).count() > 2000);
        let far = (0..200).flat_map(|x| (0..200).map(move |y| (x, y)));
        assert_eq!(far.filter(|&(x, y)| differs(x, y)).count(), 0);
    }
}
