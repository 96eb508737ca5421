//! Full decoding of already-stripped bytes, bounded and strict.
//!
//! JPEG goes straight to `zune-jpeg` (the decoder `image` wraps) because `image` forces
//! its lenient mode, in which a truncated or corrupt scan decodes to grey blocks instead
//! of failing. PNG and GIF go through `image` with explicit [`Limits`].

use std::io::Cursor;

use ::image::codecs::gif::GifDecoder;
use ::image::codecs::png::PngDecoder;
use ::image::{AnimationDecoder, DynamicImage, GrayImage, ImageDecoder, Limits, RgbImage};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::{ImageError, ImageFormat, MAX_DECODE_ALLOC, MAX_SIDE};

/// Progressive JPEG scans decoded at most; each scan re-walks every coefficient, so an
/// unbounded count is a CPU bomb. Real encoders write about ten.
const MAX_JPEG_SCANS: usize = 100;

/// Decodes `data` (a stripped image of `format`) and returns its first frame.
pub(super) fn decode(format: ImageFormat, data: &[u8]) -> Result<DynamicImage, ImageError> {
    match format {
        ImageFormat::Jpeg => decode_jpeg(data),
        ImageFormat::Png => decode_png(data),
        ImageFormat::Gif => decode_gif(data),
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

fn decode_jpeg(data: &[u8]) -> Result<DynamicImage, ImageError> {
    let side = usize::try_from(MAX_SIDE).unwrap_or(usize::MAX);
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(side)
        .set_max_height(side)
        .jpeg_set_max_scans(MAX_JPEG_SCANS);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
    decoder.decode_headers().map_err(jpeg_error)?;
    let grey = matches!(decoder.input_colorspace(), Some(ColorSpace::Luma));
    let out = if grey {
        ColorSpace::Luma
    } else {
        ColorSpace::RGB
    };
    decoder.set_options(options.jpeg_set_out_colorspace(out));
    let (w, h) = decoder.dimensions().ok_or_else(ImageError::truncated)?;
    let (w, h) = (
        u32::try_from(w).map_err(|_| ImageError::truncated())?,
        u32::try_from(h).map_err(|_| ImageError::truncated())?,
    );
    let pixels = decoder.decode().map_err(jpeg_error)?;
    let image = if grey {
        GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or_else(|| ImageError::corrupt("it decoded to fewer pixels than it claims"))
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(jpeg_error)`
fn jpeg_error(err: zune_jpeg::errors::DecodeErrors) -> ImageError {
    ImageError::corrupt(format!("the JPEG data could not be decoded ({err})"))
}

fn decode_png(data: &[u8]) -> Result<DynamicImage, ImageError> {
    let decoder = PngDecoder::with_limits(Cursor::new(data), limits()).map_err(image_error)?;
    DynamicImage::from_decoder(decoder).map_err(image_error)
}

/// Decodes every frame (each must be valid) but keeps only the first.
fn decode_gif(data: &[u8]) -> Result<DynamicImage, ImageError> {
    let mut decoder = GifDecoder::new(Cursor::new(data)).map_err(image_error)?;
    decoder.set_limits(limits()).map_err(image_error)?;
    let mut first = None;
    for frame in decoder.into_frames() {
        let frame = frame.map_err(image_error)?;
        if first.is_none() {
            first = Some(DynamicImage::ImageRgba8(frame.into_buffer()));
        }
    }
    first.ok_or_else(|| ImageError::corrupt("it has no frames"))
}

fn image_error(err: ::image::ImageError) -> ImageError {
    match err {
        ::image::ImageError::Limits(_) => {
            ImageError::corrupt("decoding it would need more memory than any valid image")
        }
        other => ImageError::corrupt(format!("its data could not be decoded ({other})")),
    }
}
