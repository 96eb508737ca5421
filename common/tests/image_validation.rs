//! Verdicts of `image::validate` on real and hostile files, all generated here.

mod support;

use image::ImageDecoder;
use imagevault_common::api::ErrorCode;
use imagevault_common::image::{ImageError, ImageFormat, MAX_IMAGE_BYTES, validate};
use support::*;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn refusal(data: &[u8], name: &str) -> ImageError {
    validate(data, name).expect_err("should have been refused")
}

// --- accepted files -------------------------------------------------------------------

#[test]
fn accepts_a_plain_jpeg_png_and_gif() {
    let jpeg = validate(&jpeg(64, 48), "photo.jpg").unwrap();
    assert_eq!(jpeg.format(), ImageFormat::Jpeg);
    assert_eq!(jpeg.display_dimensions(), (64, 48));
    let png = validate(&png(30, 20), "drawing.PNG").unwrap();
    assert_eq!(png.format(), ImageFormat::Png);
    assert_eq!(png.display_dimensions(), (30, 20));
    let gif = validate(&gif(16, 8, 3), "anim.gif").unwrap();
    assert_eq!(gif.format(), ImageFormat::Gif);
    assert_eq!(gif.frames(), 3);
}

#[test]
fn jpeg_metadata_is_gone_and_pixels_are_identical() {
    let original = jpeg_with_metadata(96, 64, 1);
    let checked = validate(&original, "camera.jpeg").unwrap();
    let stored = checked.bytes();
    for secret in [
        GPS_SECRET,
        CAMERA_SERIAL,
        XMP_SECRET,
        IPTC_SECRET,
        COMMENT_SECRET,
        ZIP_TAIL,
    ] {
        assert!(
            !contains(stored, secret),
            "{} survived",
            String::from_utf8_lossy(secret)
        );
    }
    assert!(
        !contains(stored, b"Exif"),
        "orientation 1 needs no EXIF at all"
    );
    assert!(stored.ends_with(&[0xFF, 0xD9]), "nothing may follow EOI");
    let before = image::load_from_memory(&original).unwrap().to_rgb8();
    let after = image::load_from_memory(stored).unwrap().to_rgb8();
    assert_eq!(before, after, "sanitising must not change a pixel");
}

#[test]
fn jpeg_orientation_survives_alone() {
    let original = jpeg_with_metadata(80, 40, 6);
    let checked = validate(&original, "portrait.jpg").unwrap();
    assert_eq!(
        checked.display_dimensions(),
        (40, 80),
        "rotated 90° for display"
    );
    assert!(!contains(checked.bytes(), GPS_SECRET));
    let mut decoder = image::ImageReader::new(std::io::Cursor::new(checked.bytes()))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(
        decoder.orientation().unwrap(),
        image::metadata::Orientation::Rotate90
    );
    let thumb = checked.thumbnail().unwrap();
    assert!(thumb.height > thumb.width, "thumbnail is shown upright");
}

#[test]
fn png_metadata_chunks_and_trailing_data_are_gone() {
    let mut itxt = b"Author\0\0\0en\0\0".to_vec();
    itxt.extend_from_slice(b"ITXT-SECRET");
    let original = {
        let mut p = png_insert_after_ihdr(
            &png(40, 30),
            &[
                png_chunk(*b"tEXt", b"Comment\0TEXT-SECRET"),
                png_chunk(
                    *b"zTXt",
                    &[b"Comment\0\0".as_slice(), &zlib(b"ZTXT-SECRET")].concat(),
                ),
                png_chunk(*b"iTXt", &itxt),
                png_chunk(*b"tIME", &[7, 234, 11, 28, 9, 0, 0]),
                png_chunk(*b"eXIf", &exif_tiff(1)),
                png_chunk(*b"prVt", b"PRIVATE-SECRET"),
            ],
        );
        p.extend_from_slice(b"TRAILING-SECRET");
        p
    };
    let checked = validate(&original, "x.png").unwrap();
    let stored = checked.bytes();
    for secret in [
        b"TEXT-SECRET".as_slice(),
        b"ITXT-SECRET",
        b"tIME",
        b"eXIf",
        GPS_SECRET,
        b"PRIVATE-SECRET",
        b"TRAILING-SECRET",
        b"zTXt",
    ] {
        assert!(
            !contains(stored, secret),
            "{} survived",
            String::from_utf8_lossy(secret)
        );
    }
    let before = image::load_from_memory(&original).unwrap();
    let after = image::load_from_memory(stored).unwrap();
    assert_eq!(before.as_bytes(), after.as_bytes());
}

#[test]
fn png_exif_orientation_is_kept_without_the_rest() {
    let original = png_insert_after_ihdr(&png(40, 20), &[png_chunk(*b"eXIf", &exif_tiff(8))]);
    let checked = validate(&original, "x.png").unwrap();
    assert_eq!(checked.display_dimensions(), (20, 40));
    assert!(contains(checked.bytes(), b"eXIf"));
    assert!(!contains(checked.bytes(), GPS_SECRET));
}

#[test]
fn small_icc_profiles_stay_and_bombs_are_dropped() {
    let mut small = b"sRGB-ish\0\0".to_vec();
    small.extend_from_slice(&zlib(&[7u8; 3000]));
    let kept = validate(
        &png_insert_after_ihdr(&png(8, 8), &[png_chunk(*b"iCCP", &small)]),
        "a.png",
    );
    assert!(contains(kept.unwrap().bytes(), b"iCCP"));

    // 256 MiB of zeros compresses to ~250 KB: accepted as an image, profile dropped.
    let mut bomb = b"bomb\0\0".to_vec();
    bomb.extend_from_slice(&zlib_zeros(256 << 20));
    let original = png_insert_after_ihdr(&png(8, 8), &[png_chunk(*b"iCCP", &bomb)]);
    let checked = validate(&original, "a.png").unwrap();
    assert!(!contains(checked.bytes(), b"iCCP"));
}

/// Thousands of small profiles, each inflating to exactly the cap: only the first is
/// inflated and kept; the rest are dropped unread (docs/PERFORMANCE.md has its time).
#[test]
fn only_the_first_icc_profile_is_read() {
    let mut profile = b"p\0\0".to_vec();
    profile.extend_from_slice(&zlib_zeros(1 << 20));
    let chunk = png_chunk(*b"iCCP", &profile);
    let chunks = vec![chunk; 4_000];
    let original = png_insert_after_ihdr(&png(8, 8), &chunks);
    assert!(original.len() < 5 << 20, "{}", original.len());
    let checked = validate(&original, "profiles.png").unwrap();
    assert_eq!(
        checked.bytes().windows(4).filter(|w| w == b"iCCP").count(),
        1
    );
}

#[test]
fn ztxt_bomb_costs_nothing_because_it_is_never_inflated() {
    let mut bomb = b"Comment\0\0".to_vec();
    bomb.extend_from_slice(&zlib_zeros(512 << 20));
    let original = png_insert_after_ihdr(&png(8, 8), &[png_chunk(*b"zTXt", &bomb)]);
    let checked = validate(&original, "a.png").unwrap();
    assert!(checked.bytes().len() < 2000);
}

#[test]
fn gif_comments_and_foreign_extensions_are_gone_looping_stays() {
    let mut original = gif_insert_blocks(
        &gif(8, 8, 2),
        &[
            gif_extension(0xFE, b"GIF-COMMENT-SECRET"),
            gif_extension(
                0xFF,
                &[b"\x0bXMP DataXMP".as_slice(), b"XMP-GIF-SECRET"].concat(),
            ),
        ]
        .concat(),
    );
    original.extend_from_slice(b"AFTER-TRAILER-SECRET");
    let checked = validate(&original, "a.gif").unwrap();
    let stored = checked.bytes();
    assert!(!contains(stored, b"GIF-COMMENT-SECRET"));
    assert!(!contains(stored, b"XMP-GIF-SECRET"));
    assert!(!contains(stored, b"AFTER-TRAILER-SECRET"));
    assert!(contains(stored, b"NETSCAPE2.0"), "looping is kept");
    assert_eq!(stored.last(), Some(&0x3B));
    assert_eq!(checked.frames(), 2);
}

#[test]
fn a_jpeg_with_a_zip_appended_is_stored_without_it() {
    let mut original = jpeg(32, 32);
    original.extend_from_slice(ZIP_TAIL);
    let checked = validate(&original, "polyglot.jpg").unwrap();
    assert!(!contains(checked.bytes(), b"PK\x03\x04"));
}

#[test]
fn thumbnails_are_small_and_keep_aspect() {
    let checked = validate(&jpeg(2000, 1500), "big.jpg").unwrap();
    let thumb = checked.thumbnail().unwrap();
    assert_eq!((thumb.width, thumb.height), (320, 240));
    assert_eq!(thumb.format, ImageFormat::Jpeg);
    let decoded = image::load_from_memory(&thumb.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 240));

    let alpha = validate(&png_rgba(400, 100), "a.png")
        .unwrap()
        .thumbnail()
        .unwrap();
    assert_eq!(alpha.format, ImageFormat::Png, "transparency needs PNG");
    assert_eq!((alpha.width, alpha.height), (320, 80));
}

// --- refused files --------------------------------------------------------------------

#[test]
fn zero_bytes_is_refused_as_empty() {
    let err = refusal(&[], "a.png");
    assert_eq!(err, ImageError::Empty);
    assert_eq!(err.code(), ErrorCode::InvalidImage);
}

#[test]
fn over_five_mib_is_refused_before_anything_else() {
    let mut big = jpeg(16, 16);
    big.resize(MAX_IMAGE_BYTES + 1, 0);
    let err = refusal(&big, "a.jpg");
    assert!(matches!(err, ImageError::TooLarge { size } if size == MAX_IMAGE_BYTES + 1));
    assert_eq!(err.code(), ErrorCode::TooLarge);
    assert!(err.to_string().contains("5 MiB"));
}

#[test]
fn html_and_svg_with_an_image_extension_are_refused() {
    let html = refusal(b"<!doctype html><script>alert(1)</script>", "cat.png");
    assert_eq!(html.code(), ErrorCode::UnsupportedType);
    assert!(html.to_string().contains("HTML"), "{html}");
    let svg = refusal(
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        "cat.jpg",
    );
    assert_eq!(svg.code(), ErrorCode::UnsupportedType);
    assert!(svg.to_string().contains("SVG"), "{svg}");
}

#[test]
fn gif_magic_followed_by_script_is_refused() {
    // "GIF8" alone is what `infer` accepts; we need a full signature.
    let loose = refusal(b"GIF8=1;alert(document.cookie)//", "x.gif");
    assert_eq!(loose.code(), ErrorCode::UnsupportedType);
    let signed = refusal(b"GIF89a=1;alert(document.cookie);//\x00\x00", "x.gif");
    assert_eq!(signed.code(), ErrorCode::InvalidImage);
}

#[test]
fn webp_bmp_and_tiff_are_refused_and_named() {
    let webp = [b"RIFF\x24\0\0\0WEBPVP8 ".as_slice(), &[0; 24]].concat();
    let bmp = [b"BM".as_slice(), &[0; 60]].concat();
    let tiff = [b"II*\0\x08\0\0\0".as_slice(), &[0; 30]].concat();
    for (data, name, word) in [
        (webp, "a.webp", "WEBP"),
        (bmp, "a.bmp", "BMP"),
        (tiff, "a.tif", "TIF"),
    ] {
        let err = refusal(&data, name);
        assert_eq!(err.code(), ErrorCode::UnsupportedType);
        assert!(err.to_string().contains(word), "{err}");
    }
}

#[test]
fn png_named_gif_is_an_extension_mismatch() {
    let err = refusal(&png(4, 4), "sneaky.gif");
    assert_eq!(
        err,
        ImageError::ExtensionMismatch {
            format: ImageFormat::Png,
            extension: Some("gif".into())
        }
    );
    assert!(err.to_string().contains("rename it to .png"), "{err}");
    assert!(matches!(
        refusal(&jpeg(4, 4), "noextension"),
        ImageError::ExtensionMismatch { .. }
    ));
}

#[test]
fn jpeg_header_claiming_65535_square_is_refused_before_decoding() {
    let claimed = jpeg_with_claimed_size(&jpeg(16, 16), 65_535, 65_535);
    let err = refusal(&claimed, "huge.jpg");
    assert_eq!(
        err,
        ImageError::TooManyPixels {
            width: 65_535,
            height: 65_535
        }
    );
}

#[test]
fn pixel_flood_pngs_are_refused_from_the_header() {
    for (w, h) in [(100_000, 100_000), (10_001, 10), (7_000, 7_000)] {
        let err = refusal(&png_pixel_flood(w, h), "flood.png");
        assert_eq!(
            err,
            ImageError::TooManyPixels {
                width: w,
                height: h
            }
        );
    }
}

#[test]
fn pixel_floods_under_the_pixel_limit_are_refused_before_decoding() {
    // 6000×6000 passes the 40 MP limit, but 64 zero bytes of image data cannot fill it.
    let err = refusal(&png_pixel_flood(6_000, 6_000), "flood.png");
    assert!(
        err.to_string()
            .contains("more pixels than its data can hold"),
        "{err}"
    );
    let jpeg_flood = jpeg_with_claimed_size(&jpeg(16, 16), 6_000, 6_000);
    let err = refusal(&jpeg_flood, "flood.jpg");
    assert!(
        err.to_string()
            .contains("more pixels than its data can hold"),
        "{err}"
    );
}

#[test]
fn truncated_files_are_refused_not_half_decoded() {
    let j = jpeg(200, 150);
    let p = png(200, 150);
    let g = gif(20, 20, 2);
    for (data, name) in [(&j, "a.jpg"), (&p, "a.png"), (&g, "a.gif")] {
        for cut in [data.len() / 2, data.len() - 1, 20] {
            let err = refusal(&data[..cut], name);
            assert_eq!(
                err.code(),
                ErrorCode::InvalidImage,
                "{name} cut at {cut}: {err}"
            );
        }
    }
}

#[test]
fn truncated_jpeg_that_image_decodes_leniently_is_refused() {
    // The trap: `image`'s default JPEG path decodes a cut file without complaint.
    let j = jpeg(400, 300);
    let cut = &j[..j.len() * 2 / 3];
    assert!(
        image::load_from_memory(cut).is_ok(),
        "the trap this test guards against"
    );
    let err = refusal(cut, "a.jpg");
    assert_eq!(err.code(), ErrorCode::InvalidImage, "{err}");
}

#[test]
fn gif_frame_bombs_are_refused_from_descriptors() {
    let many = refusal(&gif_many_frames(2, 2, 1_001), "bomb.gif");
    assert!(matches!(many, ImageError::TooManyFrames { .. }), "{many}");
    // 25 MP canvas × 5 frames = 125 MP drawn: over the drawing budget.
    let heavy = refusal(&gif_many_frames(5_000, 5_000, 5), "heavy.gif");
    assert!(matches!(heavy, ImageError::TooManyFrames { .. }), "{heavy}");
    assert!(validate(&gif_many_frames(2, 2, 1_000), "ok.gif").is_ok());
}

#[test]
fn every_refusal_has_a_human_message() {
    let cases = [
        refusal(&[], "a.png"),
        refusal(b"hello", "a.png"),
        refusal(&png(2, 2), "a.jpg"),
        refusal(&png_pixel_flood(50_000, 50_000), "a.png"),
        refusal(&gif_many_frames(2, 2, 2_000), "a.gif"),
        refusal(&jpeg(8, 8)[..30], "a.jpg"),
    ];
    for err in cases {
        let msg = err.to_string();
        assert!(msg.ends_with('.') && msg.len() > 15, "{msg}");
    }
}
