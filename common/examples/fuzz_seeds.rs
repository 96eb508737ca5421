//! Writes a seed corpus for `fuzz/` from the same generators the tests use:
//! `cargo run -p imagevault-common --example fuzz_seeds -- fuzz/corpus/validate_image`.
#![allow(missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use support::{
    exif_tiff, gif, gif_extension, gif_insert_blocks, gif_many_frames, jpeg, jpeg_from,
    jpeg_with_metadata, photo, png, png_chunk, png_insert_after_ihdr, png_rgba,
};

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus/validate_image".into());
    std::fs::create_dir_all(&dir)?;
    // First byte picks the name in the fuzz target: 0 jpg, 1 png, 2 gif.
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        ("jpeg", 0, jpeg(33, 17)),
        ("jpeg-meta", 0, jpeg_with_metadata(16, 16, 6)),
        (
            "jpeg-progressive-like",
            0,
            jpeg_from(&photo(40, 24, 64), 40),
        ),
        ("png", 1, png(19, 7)),
        ("png-rgba", 1, png_rgba(9, 9)),
        (
            "png-text",
            1,
            png_insert_after_ihdr(&png(8, 8), &[png_chunk(*b"tEXt", b"k\0v")]),
        ),
        (
            "png-exif",
            1,
            png_insert_after_ihdr(&png(8, 4), &[png_chunk(*b"eXIf", &exif_tiff(6))]),
        ),
        ("gif", 2, gif(8, 8, 3)),
        ("gif-frames", 2, gif_many_frames(4, 4, 5)),
        (
            "gif-comment",
            2,
            gif_insert_blocks(&gif(4, 4, 1), &gif_extension(0xFE, b"hi")),
        ),
    ];
    for (name, pick, bytes) in seeds {
        let mut data = vec![pick];
        data.extend_from_slice(&bytes);
        std::fs::write(format!("{dir}/{name}"), data)?;
    }
    Ok(())
}
