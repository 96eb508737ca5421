//! Small previews: the desktop shows them before upload, the server stores them
//! encrypted beside the image.
//!
//! This runs on every upload and every dropped file, so both halves use the fast
//! crates: `fast_image_resize` (SIMD convolution with a bilinear kernel scaled to the
//! reduction, i.e. proper area averaging) and `jpeg-encoder` (SIMD; about 3× faster
//! than `image`'s encoder at this size, see docs/PERFORMANCE.md). Orientation is applied
//! after resizing, where it costs nothing. Opaque images become JPEG, images with
//! transparency PNG.

use std::io::Cursor;

use ::image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use ::image::metadata::Orientation;
use ::image::{DynamicImage, ImageEncoder};
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};

use super::{ImageError, ImageFormat};

/// Longest side of a thumbnail in pixels.
pub const THUMBNAIL_MAX_SIDE: u32 = 320;
/// Quality of JPEG thumbnails: small files, no visible blocking at 320 px.
const JPEG_QUALITY: u8 = 80;

/// An encoded preview image.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Encoded bytes.
    pub bytes: Vec<u8>,
    /// JPEG or PNG.
    pub format: ImageFormat,
    /// Width as displayed.
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thumbnail")
            .field("format", &self.format)
            .field("size", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

pub(super) fn make(
    image: &DynamicImage,
    orientation: Orientation,
) -> Result<Thumbnail, ImageError> {
    let alpha = image.color().has_alpha();
    let source = to_8bit(image, alpha);
    let (w, h) = thumbnail_size(source.width(), source.height());
    let mut small = if (w, h) == (source.width(), source.height()) {
        source.into_owned()
    } else {
        let mut dst = DynamicImage::new(w, h, source.color());
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
        Resizer::new()
            .resize(source.as_ref(), &mut dst, &options)
            .map_err(|e| ImageError::corrupt(format!("it could not be resized ({e})")))?;
        dst
    };
    small.apply_orientation(orientation);
    encode(&small, alpha)
}

/// 8-bit RGB(A) or grey, borrowing when the image already is.
fn to_8bit(image: &DynamicImage, alpha: bool) -> std::borrow::Cow<'_, DynamicImage> {
    use std::borrow::Cow;
    match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) | DynamicImage::ImageLuma8(_) => {
            Cow::Borrowed(image)
        }
        _ if alpha => Cow::Owned(DynamicImage::ImageRgba8(image.to_rgba8())),
        _ => Cow::Owned(DynamicImage::ImageRgb8(image.to_rgb8())),
    }
}

/// The size of the thumbnail of a `w`×`h` image: the long side at most
/// [`THUMBNAIL_MAX_SIDE`], never scaled up, never 0. Public so pages can reserve the
/// thumbnail's box before it loads.
pub fn thumbnail_size(w: u32, h: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= THUMBNAIL_MAX_SIDE {
        return (w, h);
    }
    let scale = |side: u32| {
        let scaled = u64::from(side) * u64::from(THUMBNAIL_MAX_SIDE) / u64::from(long);
        u32::try_from(scaled).unwrap_or(THUMBNAIL_MAX_SIDE).max(1)
    };
    (scale(w), scale(h))
}

fn encode(image: &DynamicImage, alpha: bool) -> Result<Thumbnail, ImageError> {
    let mut bytes = Vec::new();
    let (width, height) = (image.width(), image.height());
    let failed = |e: String| ImageError::corrupt(format!("its preview could not be encoded ({e})"));
    let format = if alpha {
        PngEncoder::new_with_quality(
            Cursor::new(&mut bytes),
            CompressionType::Fast,
            PngFilter::Adaptive,
        )
        .write_image(image.as_bytes(), width, height, image.color().into())
        .map_err(|e| failed(e.to_string()))?;
        ImageFormat::Png
    } else {
        let color = if matches!(image, DynamicImage::ImageLuma8(_)) {
            jpeg_encoder::ColorType::Luma
        } else {
            jpeg_encoder::ColorType::Rgb
        };
        let (w, h) = (
            u16::try_from(width).map_err(|e| failed(e.to_string()))?,
            u16::try_from(height).map_err(|e| failed(e.to_string()))?,
        );
        jpeg_encoder::Encoder::new(&mut bytes, JPEG_QUALITY)
            .encode(image.as_bytes(), w, h, color)
            .map_err(|e| failed(e.to_string()))?;
        ImageFormat::Jpeg
    };
    Ok(Thumbnail {
        bytes,
        format,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_aspect_and_never_upscale() {
        assert_eq!(thumbnail_size(2000, 1500), (320, 240));
        assert_eq!(thumbnail_size(1500, 2000), (240, 320));
        assert_eq!(thumbnail_size(100, 50), (100, 50));
        assert_eq!(thumbnail_size(10_000, 1), (320, 1));
    }
}
