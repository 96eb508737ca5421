//! Renderings for share links: the stored image decoded, scaled to fit 2048 pixels,
//! watermarked when the owner asked, and re-encoded as JPEG — so a view-only link hands
//! out pixels to look at, never the stored bytes.
//!
//! The watermark is text drawn into the pixels (DejaVu Sans Bold, bundled in
//! `server/fonts` under its own licence; glyphs laid out and rasterised by `ab_glyph`),
//! white on a darkened band in the bottom-right corner, sized to the picture.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use image::imageops::FilterType;
use image::{DynamicImage, Rgb, RgbImage};

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
    let (text_w, text_h) = text_size(&font, scale, text);
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
    draw_text(pixels, (left + margin, top + margin), &font, scale, text);
}

/// Each glyph of `text` placed from a caret at (0, 0) on the top line; the line's
/// width and height.
fn layout(font: &FontRef<'_>, scale: PxScale, text: &str) -> (Vec<ab_glyph::Glyph>, f32, f32) {
    let scaled = font.as_scaled(scale);
    let mut x = 0.0;
    let mut previous: Option<GlyphId> = None;
    let mut glyphs = Vec::new();
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            x += scaled.kern(previous, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(x, scaled.ascent())));
        x += scaled.h_advance(id);
        previous = Some(id);
    }
    (glyphs, x, scaled.height())
}

/// The size of `text` in whole pixels.
fn text_size(font: &FontRef<'_>, scale: PxScale, text: &str) -> (u32, u32) {
    let (_, width, height) = layout(font, scale, text);
    (whole(width), whole(height))
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "lengths of a line of text at most 64 px high: small, made non-negative"
)]
fn whole(v: f32) -> u32 {
    v.ceil().max(0.0) as u32
}

/// Draws `text` in white with its top-left at `origin`, blending each pixel by the
/// glyph's coverage; whatever falls outside the picture is clipped.
fn draw_text(
    pixels: &mut RgbImage,
    origin: (u32, u32),
    font: &FontRef<'_>,
    scale: PxScale,
    text: &str,
) {
    let (glyphs, _, _) = layout(font, scale, text);
    let (width, height) = pixels.dimensions();
    for glyph in glyphs {
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        // Glyph bounds are never negative here: every glyph starts at or right of the
        // caret, below the top line.
        let (left, top) = (
            origin.0 + whole(bounds.min.x),
            origin.1 + whole(bounds.min.y),
        );
        outline.draw(|gx, gy, coverage| {
            let (x, y) = (left + gx, top + gy);
            if x >= width || y >= height {
                return;
            }
            let pixel = pixels.get_pixel_mut(x, y);
            for channel in &mut pixel.0 {
                *channel = lighten(*channel, coverage);
            }
        });
    }
}

/// A channel moved towards white by `coverage` (0 to 1).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a blend of a byte and 255 stays a byte"
)]
fn lighten(under: u8, coverage: f32) -> u8 {
    let under = f32::from(under);
    (under + (255.0 - under) * coverage.clamp(0.0, 1.0)).round() as u8
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
