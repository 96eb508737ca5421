//! Why an image was refused, in words a person can act on.

use super::{ImageFormat, MAX_GIF_FRAMES, MAX_PIXELS, MAX_SIDE};
use crate::api::ErrorCode;

/// Every way an upload can be refused. Each variant maps to one API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Zero bytes.
    #[error("The file is empty.")]
    Empty,
    /// Over the byte limit.
    #[error("The file is {} MiB; the limit is 5 MiB.", mib(*size))]
    TooLarge {
        /// Size of the upload in bytes.
        size: usize,
    },
    /// Not JPEG, PNG or GIF by content.
    #[error("Only JPEG, PNG and GIF images are accepted{}.", looks_like(detected.as_deref()))]
    UnsupportedType {
        /// What the content looks like, when recognised.
        detected: Option<String>,
    },
    /// The name's extension does not match the content.
    #[error("{}", extension_message(*format, extension.as_deref()))]
    ExtensionMismatch {
        /// What the content is.
        format: ImageFormat,
        /// The name's extension, if any.
        extension: Option<String>,
    },
    /// Dimensions over the limits.
    #[error(
        "The image is {width}×{height} pixels; the limit is {MAX_SIDE} pixels a side and {} megapixels.",
        MAX_PIXELS / 1_000_000
    )]
    TooManyPixels {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
    },
    /// An animated GIF over its frame or drawing budget.
    #[error(
        "The animation has too many frames ({frames}); the limit is {MAX_GIF_FRAMES} frames of modest size."
    )]
    TooManyFrames {
        /// Frames counted (possibly a lower bound when the walk stopped early).
        frames: usize,
    },
    /// Structurally broken, truncated or undecodable.
    #[error("The image is damaged or incomplete: {reason}.")]
    Corrupt {
        /// What was wrong, for the person who has the file.
        reason: String,
    },
}

impl ImageError {
    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        Self::Corrupt {
            reason: reason.into(),
        }
    }

    pub(crate) fn truncated() -> Self {
        Self::corrupt("the file ends too early")
    }

    /// The API error code this refusal is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } => ErrorCode::TooLarge,
            Self::UnsupportedType { .. } => ErrorCode::UnsupportedType,
            Self::Empty
            | Self::ExtensionMismatch { .. }
            | Self::TooManyPixels { .. }
            | Self::TooManyFrames { .. }
            | Self::Corrupt { .. } => ErrorCode::InvalidImage,
        }
    }
}

#[allow(clippy::cast_precision_loss)] // display only
fn mib(size: usize) -> String {
    format!("{:.1}", size as f64 / (1024.0 * 1024.0))
}

fn looks_like(detected: Option<&str>) -> String {
    detected.map_or_else(String::new, |d| format!("; this file looks like {d}"))
}

fn extension_message(format: ImageFormat, extension: Option<&str>) -> String {
    let want = format.extensions()[0];
    match extension {
        Some(ext) => format!(
            "The file is a {} image but its name ends in .{ext}; rename it to .{want}.",
            format.name()
        ),
        None => format!(
            "The file is a {} image but its name has no extension; name it .{want}.",
            format.name()
        ),
    }
}
