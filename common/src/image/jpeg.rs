//! A JPEG marker walk that keeps what decoding needs and nothing else.
//!
//! `img-parts` stops parsing at the first SOS and treats the rest of the file as opaque,
//! but metadata can also sit *between* the scans of a progressive JPEG, and data can
//! follow the EOI marker (a ZIP, an HTML page, a second image in an MPF file). So the
//! whole file is walked here, marker by marker (ITU T.81 §B.1), copying entropy-coded
//! data through untouched: the pixels cannot change because their bytes do not.
//!
//! Kept (an allow-list): SOF, DHT, DQT, DRI, DAC, DNL, SOS and scans; the JFIF header without its
//! thumbnail; an Adobe APP14 (it says how to read the colour channels); ICC profiles up
//! to [`MAX_ICC_BYTES`]. Replaced: EXIF, by an orientation-only block. Dropped: every
//! other APPn (XMP, IPTC, MPF, maker notes), COM, JPG extensions, and everything after
//! EOI. Refused: reserved markers (`0x02`–`0xBF`), which no valid file contains.

use ::image::metadata::Orientation;

use super::exif::{self, JPEG_EXIF_PREFIX};
use super::{ImageError, MAX_ICC_BYTES, Stripped, check_dimensions};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;
const DHT: u8 = 0xC4;
const DAC: u8 = 0xCC;
const DQT: u8 = 0xDB;
const DNL: u8 = 0xDC;
const DRI: u8 = 0xDD;

/// A marker segment as found in the input.
struct Segment<'a> {
    marker: u8,
    body: &'a [u8],
}

/// State of the walk: the output and what has been learned so far.
#[derive(Default)]
struct Walk {
    header: Vec<u8>,
    jfif: Option<Vec<u8>>,
    orientation: Option<Orientation>,
    icc_bytes: usize,
    dimensions: Option<(u32, u32)>,
    /// Blocks of the first component: each needs at least one bit of scan data.
    min_blocks: u64,
    scan_bytes: usize,
}

pub(super) fn strip(data: &[u8]) -> Result<Stripped, ImageError> {
    let mut walk = Walk {
        header: Vec::with_capacity(data.len()),
        ..Walk::default()
    };
    let mut pos = 2; // after SOI, checked by sniffing
    let mut in_scan = false;
    loop {
        if in_scan {
            let before = walk.header.len();
            pos = copy_entropy(data, pos, &mut walk.header)?;
            walk.scan_bytes += walk.header.len() - before;
        }
        let (marker, after) = read_marker(data, pos)?;
        match marker {
            EOI if in_scan => break,
            EOI => return Err(ImageError::corrupt("it has no image data")),
            SOI => return Err(ImageError::corrupt("it has a second start marker")),
            // Restart markers and TEM stand alone.
            0x01 | 0xD0..=0xD7 => {
                walk.header.extend_from_slice(&[0xFF, marker]);
                pos = after;
            }
            _ => {
                let (segment, next) = read_segment(data, marker, after)?;
                if marker == SOS && walk.dimensions.is_none() {
                    return Err(ImageError::corrupt("a scan comes before the frame header"));
                }
                walk.take(&segment)?;
                in_scan = in_scan || marker == SOS;
                pos = next;
            }
        }
    }
    let (width, height) = walk
        .dimensions
        .ok_or_else(|| ImageError::corrupt("it has no frame header"))?;
    // Every block's DC coefficient costs at least one bit, so a header claiming far more
    // blocks than the scans have bits is a pixel flood (or a truncated file), refused
    // before the decoder allocates the frame.
    if (walk.scan_bytes as u64).saturating_mul(8) < walk.min_blocks {
        return Err(ImageError::corrupt(
            "it claims more pixels than its data can hold",
        ));
    }
    let orientation = walk.orientation.unwrap_or(Orientation::NoTransforms);
    Ok(Stripped {
        bytes: walk.assemble(),
        width,
        height,
        orientation,
        frames: 1,
    })
}

impl Walk {
    /// Decides what happens to one segment.
    fn take(&mut self, segment: &Segment<'_>) -> Result<(), ImageError> {
        let body = segment.body;
        match segment.marker {
            APP0 if body.starts_with(b"JFIF\0") && body.len() >= 14 && self.jfif.is_none() => {
                // Version, units and density stay; the embedded thumbnail goes.
                let mut jfif = body[..14].to_vec();
                jfif[12] = 0;
                jfif[13] = 0;
                self.jfif = Some(jfif);
            }
            APP1 if body.starts_with(JPEG_EXIF_PREFIX) && self.orientation.is_none() => {
                self.orientation = Some(exif::orientation(&body[JPEG_EXIF_PREFIX.len()..]));
            }
            APP2 if body.starts_with(b"ICC_PROFILE\0")
                && self.icc_bytes + body.len() <= MAX_ICC_BYTES =>
            {
                self.icc_bytes += body.len();
                self.push(segment.marker, body);
            }
            APP14 if body.starts_with(b"Adobe") && body.len() == 12 => {
                self.push(segment.marker, body);
            }
            APP0..=0xEF | COM => {}
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                if self.dimensions.is_some() {
                    return Err(ImageError::corrupt("it has more than one frame header"));
                }
                let (width, height) = frame_dimensions(body)?;
                check_dimensions(width, height)?;
                self.dimensions = Some((width, height));
                self.min_blocks = first_component_blocks(body, width, height)?;
                self.push(segment.marker, body);
            }
            DHT | DAC | DQT | DNL | SOS | DRI => self.push(segment.marker, body),
            0x02..=0xBF => return Err(ImageError::corrupt("it uses a reserved marker")),
            // JPG extensions and hierarchical-mode markers: nothing a baseline or
            // progressive decoder needs, and a place to hide data.
            _ => {}
        }
        Ok(())
    }

    fn push(&mut self, marker: u8, body: &[u8]) {
        push_segment(&mut self.header, marker, body);
    }

    /// SOI, JFIF, the orientation-only EXIF, then everything kept in its original order.
    fn assemble(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header.len() + 64);
        out.extend_from_slice(&[0xFF, SOI]);
        if let Some(jfif) = &self.jfif {
            push_segment(&mut out, APP0, jfif);
        }
        if let Some(o) = self.orientation.filter(|o| *o != Orientation::NoTransforms) {
            let mut body = JPEG_EXIF_PREFIX.to_vec();
            body.extend_from_slice(&exif::orientation_only(o));
            push_segment(&mut out, APP1, &body);
        }
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&[0xFF, EOI]);
        out
    }
}

fn push_segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    let len = u16::try_from(body.len() + 2).expect("segment bodies come from u16 lengths");
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
}

/// Reads `0xFF` (fill bytes allowed) and a marker code at `pos`; returns it and the
/// position after it.
fn read_marker(data: &[u8], mut pos: usize) -> Result<(u8, usize), ImageError> {
    if data.get(pos) != Some(&0xFF) {
        return Err(ImageError::corrupt(
            "a segment does not start with a marker",
        ));
    }
    while data.get(pos) == Some(&0xFF) {
        pos += 1;
    }
    let marker = *data.get(pos).ok_or_else(ImageError::truncated)?;
    if marker == 0x00 {
        return Err(ImageError::corrupt(
            "a segment does not start with a marker",
        ));
    }
    Ok((marker, pos + 1))
}

/// Reads a length-prefixed segment body starting at `pos`.
fn read_segment(data: &[u8], marker: u8, pos: usize) -> Result<(Segment<'_>, usize), ImageError> {
    let len_bytes = data.get(pos..pos + 2).ok_or_else(ImageError::truncated)?;
    let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    if len < 2 {
        return Err(ImageError::corrupt("a segment has an impossible length"));
    }
    let body = data
        .get(pos + 2..pos + len)
        .ok_or_else(ImageError::truncated)?;
    Ok((Segment { marker, body }, pos + len))
}

/// Copies entropy-coded data from `pos` up to the next real marker, returning its
/// position. Inside a scan `FF 00` is an escaped data byte and `FF D0`–`FF D7` are
/// restart markers; any other `FF xx` ends the scan.
fn copy_entropy(data: &[u8], start: usize, out: &mut Vec<u8>) -> Result<usize, ImageError> {
    let mut pos = start;
    loop {
        let ff = pos + memchr::memchr(0xFF, &data[pos..]).ok_or_else(ImageError::truncated)?;
        match data.get(ff + 1) {
            None => return Err(ImageError::truncated()),
            Some(0x00 | 0xD0..=0xD7) => pos = ff + 2,
            Some(0xFF) => pos = ff + 1,
            Some(_) => {
                // Fill bytes before the marker belong to it, not to the scan: copying them
                // would glue them to whatever follows once a dropped segment is gone.
                let mut marker_start = ff;
                while marker_start > start && data[marker_start - 1] == 0xFF {
                    marker_start -= 1;
                }
                out.extend_from_slice(&data[start..marker_start]);
                return Ok(marker_start);
            }
        }
    }
}

/// Number of 8×8 blocks of the first component, from a SOFn body's sampling factors.
fn first_component_blocks(body: &[u8], width: u32, height: u32) -> Result<u64, ImageError> {
    let count = usize::from(*body.get(5).unwrap_or(&0));
    let components = body
        .get(6..6 + 3 * count)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ImageError::corrupt("its frame header lists no components"))?;
    let factors: Vec<(u32, u32)> = components
        .chunks_exact(3)
        .map(|c| (u32::from(c[1] >> 4), u32::from(c[1] & 0x0F)))
        .collect();
    if factors.iter().any(|&(h, v)| h == 0 || v == 0) {
        return Err(ImageError::corrupt(
            "its frame header has a zero sampling factor",
        ));
    }
    let h_max = factors.iter().map(|f| f.0).max().unwrap_or(1);
    let v_max = factors.iter().map(|f| f.1).max().unwrap_or(1);
    let (h1, v1) = factors[0];
    let cols = (width * h1).div_ceil(h_max).div_ceil(8);
    let rows = (height * v1).div_ceil(v_max).div_ceil(8);
    Ok(u64::from(cols) * u64::from(rows))
}

/// Height and width from a SOFn body (precision, height, width, components...).
fn frame_dimensions(body: &[u8]) -> Result<(u32, u32), ImageError> {
    let b = body
        .get(..5)
        .ok_or_else(|| ImageError::corrupt("its frame header is too short"))?;
    let height = u32::from(u16::from_be_bytes([b[1], b[2]]));
    let width = u32::from(u16::from_be_bytes([b[3], b[4]]));
    if height == 0 {
        // Height defined later by a DNL marker: legal, rare, and a way to hide the size
        // from header checks.
        return Err(ImageError::corrupt(
            "its height is not given in the frame header",
        ));
    }
    Ok((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal structurally valid JPEG around `scan`, for walking (not decoding).
    fn with_scan(scan: &[u8]) -> Vec<u8> {
        let mut j = vec![0xFF, SOI];
        push_segment(&mut j, 0xC0, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
        push_segment(&mut j, SOS, &[1, 1, 0, 0, 63, 0]);
        j.extend_from_slice(scan);
        j.extend_from_slice(&[0xFF, EOI]);
        j
    }

    #[test]
    fn fill_bytes_before_a_dropped_segment_do_not_glue_to_the_next_scan() {
        // Found by fuzzing: "FF FF <COM ...> FA" became "FF FA" after the first pass.
        let mut scan = vec![0x12, 0x34, 0xFF, 0xFF, 0xFF];
        scan.extend_from_slice(&[COM, 0, 4, b'h', b'i']);
        scan.extend_from_slice(&[0xFA, 0x56]);
        let once = strip(&with_scan(&scan)).unwrap().bytes;
        let twice = strip(&once).unwrap().bytes;
        assert_eq!(once, twice);
        assert!(!once.windows(2).any(|w| w == [0xFF, 0xFA]));
    }

    #[test]
    fn stuffed_bytes_and_restart_markers_stay_in_the_scan() {
        let scan = [0x01, 0xFF, 0x00, 0x02, 0xFF, 0xD0, 0x03, 0xFF, 0xD7, 0x04];
        let out = strip(&with_scan(&scan)).unwrap().bytes;
        assert!(out.windows(scan.len()).any(|w| w == scan));
    }

    #[test]
    fn more_blocks_than_scan_bits_is_a_flood() {
        let mut j = vec![0xFF, SOI];
        // 4096×4096 grey: 262,144 blocks need at least 32 KiB of scan data.
        push_segment(&mut j, 0xC0, &[8, 0x10, 0, 0x10, 0, 1, 1, 0x11, 0]);
        push_segment(&mut j, SOS, &[1, 1, 0, 0, 63, 0]);
        j.extend_from_slice(&[0x55; 1000]);
        j.extend_from_slice(&[0xFF, EOI]);
        let err = strip(&j).err().expect("flood must be refused");
        assert!(
            err.to_string().contains("more pixels than its data"),
            "{err}"
        );
    }

    #[test]
    fn sampling_factors_shrink_the_bound_for_subsampled_components() {
        // First component sampled at half the maximum in both directions.
        let body = [8, 0, 32, 0, 32, 2, 1, 0x11, 0, 2, 0x22, 0];
        assert_eq!(first_component_blocks(&body, 32, 32).unwrap(), 4);
        assert!(first_component_blocks(&[8, 0, 8, 0, 8, 1, 1, 0x10, 0], 8, 8).is_err());
    }

    #[test]
    fn reserved_markers_are_refused() {
        let scan = [0x01, 0xFF, 0x7A, 0, 4, 1, 2, 0x03];
        assert!(strip(&with_scan(&scan)).is_err());
    }

    #[test]
    fn a_scan_before_the_frame_header_is_refused() {
        let mut j = vec![0xFF, SOI];
        push_segment(&mut j, SOS, &[1, 1, 0, 0, 63, 0]);
        j.extend_from_slice(&[0x00, 0xFF, EOI]);
        assert!(strip(&j).is_err());
    }
}
