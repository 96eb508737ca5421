//! Image validation, metadata stripping and thumbnails: the one gate every upload passes,
//! on the server before anything is stored and on the desktop before anything is sent.
//!
//! The order of checks is the defence, so it is fixed here:
//!
//! 1. **Size** — at most [`MAX_IMAGE_BYTES`], before looking at a byte.
//! 2. **Type by content** — JPEG, PNG or GIF magic bytes, strictly (`infer` calls
//!    anything starting `GIF8` a GIF; we want `GIF87a`/`GIF89a`). The name's extension
//!    must agree.
//! 3. **Structure** — a walk over the container (JPEG segments, PNG chunks, GIF blocks)
//!    that keeps only what is needed to draw the pixels, drops every metadata carrier and
//!    anything after the end marker, and reads the dimensions and frame count from the
//!    headers. Nothing is inflated or decoded yet, so a decompression or pixel bomb costs
//!    only this walk.
//! 4. **Dimensions** — at most [`MAX_SIDE`] a side and [`MAX_PIXELS`] in all; GIFs at most
//!    [`MAX_GIF_FRAMES`] frames and [`MAX_GIF_TOTAL_PIXELS`] drawn pixels.
//! 5. **Full decode** of the *stripped* bytes under explicit limits, strict where the
//!    libraries are lenient by default (truncated JPEGs must fail, not decode grey).
//!
//! The bytes that pass are exactly the bytes stored, so the pixels people get back are
//! the pixels that were validated.

mod decode;
mod error;
mod exif;
mod format;
mod gif;
mod jpeg;
mod png;
mod thumbnail;

use ::image::DynamicImage;
use ::image::metadata::Orientation;

pub use error::ImageError;
pub use format::ImageFormat;
pub use thumbnail::{THUMBNAIL_MAX_SIDE, Thumbnail, thumbnail_size};

use crate::filename::{extension, sanitize_filename};

/// Largest upload accepted: 5 MiB.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 10_000;
/// Most pixels in one image (or one GIF frame): 40 megapixels, ~160 MB decoded as RGBA.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most frames in an animated GIF.
pub const MAX_GIF_FRAMES: usize = 1_000;
/// Most pixels drawn while decoding every frame of a GIF (frames × canvas): the CPU
/// budget of one GIF, about a second on one core.
pub const MAX_GIF_TOTAL_PIXELS: u64 = 100_000_000;
/// Most bytes any decoder may allocate for one image: 40 MP at 8 bytes a pixel (16-bit
/// RGBA PNG) plus slack. With the dimension checks above this is never reached by a
/// valid image; it is the backstop if a decoder misjudges.
pub const MAX_DECODE_ALLOC: u64 = 320 * 1024 * 1024;
/// Largest colour profile kept (after inflating, for PNG); bigger ones are dropped.
pub const MAX_ICC_BYTES: usize = 1024 * 1024;

/// An image that passed every check, with the bytes to store.
pub struct CheckedImage {
    format: ImageFormat,
    filename: String,
    bytes: Vec<u8>,
    orientation: Orientation,
    frames: usize,
    pixels: DynamicImage,
}

impl CheckedImage {
    /// JPEG, PNG or GIF.
    pub fn format(&self) -> ImageFormat {
        self.format
    }

    /// The sanitised display name.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The bytes to store: the upload minus metadata and trailing data.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Takes the bytes to store, dropping the decoded pixels.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Width and height as displayed, i.e. after the EXIF orientation is applied.
    pub fn display_dimensions(&self) -> (u32, u32) {
        let (w, h) = (self.pixels.width(), self.pixels.height());
        if swaps_axes(self.orientation) {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// The orientation kept in the stored bytes.
    pub fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// Number of frames (1 unless an animated GIF).
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// A small preview of the (first frame of the) image, orientation applied.
    pub fn thumbnail(&self) -> Result<Thumbnail, ImageError> {
        thumbnail::make(&self.pixels, self.orientation)
    }
}

impl std::fmt::Debug for CheckedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedImage")
            .field("format", &self.format)
            .field("filename", &self.filename)
            .field("size", &self.bytes.len())
            .field("dimensions", &self.display_dimensions())
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// What the structural walk learned and kept.
struct Stripped {
    bytes: Vec<u8>,
    width: u32,
    height: u32,
    orientation: Orientation,
    frames: usize,
}

/// Runs every check on an upload named `filename` and returns what may be stored.
pub fn validate(data: &[u8], filename: &str) -> Result<CheckedImage, ImageError> {
    if data.is_empty() {
        return Err(ImageError::Empty);
    }
    if data.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge { size: data.len() });
    }
    let format = ImageFormat::sniff(data)?;
    let filename = sanitize_filename(filename);
    check_extension(format, &filename)?;
    let stripped = match format {
        ImageFormat::Jpeg => jpeg::strip(data)?,
        ImageFormat::Png => png::strip(data)?,
        ImageFormat::Gif => gif::strip(data)?,
    };
    check_dimensions(stripped.width, stripped.height)?;
    let pixels = decode::decode(format, &stripped.bytes)?;
    if (pixels.width(), pixels.height()) != (stripped.width, stripped.height) {
        return Err(ImageError::corrupt(
            "its header and its pixels disagree on its size",
        ));
    }
    Ok(CheckedImage {
        format,
        filename,
        bytes: stripped.bytes,
        orientation: stripped.orientation,
        frames: stripped.frames,
        pixels,
    })
}

fn check_extension(format: ImageFormat, filename: &str) -> Result<(), ImageError> {
    let ext = extension(filename);
    match ext.as_deref() {
        Some(e) if format.extensions().contains(&e) => Ok(()),
        _ => Err(ImageError::ExtensionMismatch {
            format,
            extension: ext,
        }),
    }
}

/// Refuses images too large to decode safely; used on header values, before decoding
/// (the walkers call it as soon as they read a header, so it wins over later checks).
fn check_dimensions(width: u32, height: u32) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::corrupt("it claims to have no pixels"));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooManyPixels { width, height });
    }
    Ok(())
}

fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}
