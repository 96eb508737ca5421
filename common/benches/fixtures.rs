//! The benchmark inputs, built once from the test generators.
#![allow(dead_code)]

#[path = "../tests/support/mod.rs"]
mod support;

pub use support::*;

/// A named input with the name it is uploaded under.
pub struct Input {
    pub label: &'static str,
    pub filename: &'static str,
    pub bytes: Vec<u8>,
}

/// The four files of the issue: a ~1 MB 2000×1500 JPEG, a ~4.7 MiB 12 MP JPEG, a PNG and an
/// animated GIF.
pub fn pipeline_inputs() -> Vec<Input> {
    vec![
        Input {
            label: "jpeg_2000x1500_1mb",
            filename: "photo.jpg",
            bytes: jpeg_from(&photo(2000, 1500, 24), 86),
        },
        Input {
            label: "jpeg_4000x3000_12mp",
            filename: "big.jpg",
            bytes: jpeg_from(&photo(4000, 3000, 32), 85),
        },
        Input {
            label: "png_1200x900",
            filename: "shot.png",
            bytes: png(1200, 900),
        },
        Input {
            label: "gif_320x240_20_frames",
            filename: "anim.gif",
            bytes: gif(320, 240, 20),
        },
    ]
}

/// Files that must be refused cheaply.
pub fn bomb_inputs() -> Vec<Input> {
    vec![
        Input {
            label: "png_pixel_flood_100000x100000",
            filename: "flood.png",
            bytes: png_pixel_flood(100_000, 100_000),
        },
        Input {
            label: "jpeg_claims_65535x65535",
            filename: "huge.jpg",
            bytes: jpeg_with_claimed_size(&jpeg(64, 64), 65_535, 65_535),
        },
        Input {
            label: "gif_2000_frames",
            filename: "frames.gif",
            bytes: gif_many_frames(64, 64, 2_000),
        },
        Input {
            label: "gif_5000x5000_canvas_5_frames",
            filename: "canvas.gif",
            bytes: gif_many_frames(5_000, 5_000, 5),
        },
        Input {
            label: "png_ztxt_bomb_1gib",
            filename: "ztxt.png",
            bytes: png_insert_after_ihdr(
                &png(8, 8),
                &[png_chunk(
                    *b"zTXt",
                    &[b"k\0\0".as_slice(), &zlib_zeros(1 << 30)].concat(),
                )],
            ),
        },
        Input {
            label: "png_iccp_bomb_1gib",
            filename: "iccp.png",
            bytes: png_insert_after_ihdr(
                &png(8, 8),
                &[png_chunk(
                    *b"iCCP",
                    &[b"p\0\0".as_slice(), &zlib_zeros(1 << 30)].concat(),
                )],
            ),
        },
    ]
}
