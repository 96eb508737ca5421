//! Deciding what a file is from its first bytes, never from its name.

use super::ImageError;

/// The accepted image formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// JPEG (JFIF/EXIF), baseline or progressive.
    Jpeg,
    /// PNG; animation chunks are dropped, the default image stays.
    Png,
    /// GIF87a or GIF89a, possibly animated.
    Gif,
}

impl ImageFormat {
    /// Decides the format from magic bytes; anything else is refused, naming what it
    /// looks like when we can tell.
    pub fn sniff(data: &[u8]) -> Result<Self, ImageError> {
        if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Ok(Self::Jpeg)
        } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
            Ok(Self::Png)
        } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
            Ok(Self::Gif)
        } else {
            Err(ImageError::UnsupportedType {
                detected: describe(data),
            })
        }
    }

    /// The MIME type served with it.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
        }
    }

    /// Extensions a name may have; the first is the one we suggest.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            Self::Png => &["png"],
            Self::Gif => &["gif"],
        }
    }

    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Gif => "GIF",
        }
    }
}

/// A short description of a refused file for the error message.
fn describe(data: &[u8]) -> Option<String> {
    if let Some(kind) = infer::get(data) {
        return Some(format!(
            "{} ({})",
            kind.extension().to_uppercase(),
            kind.mime_type()
        ));
    }
    let head = String::from_utf8_lossy(&data[..data.len().min(512)]).to_lowercase();
    let text = head.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")) {
        Some("an SVG drawing".into())
    } else if text.starts_with('<') {
        Some("an HTML or XML document".into())
    } else {
        None
    }
}
