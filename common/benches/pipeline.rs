//! Cost of the upload gate against a plain `image` decode of the same file.
//!
//! `cargo bench -p imagevault-common --bench pipeline`
#![allow(missing_docs)]

mod fixtures;

use std::hint::black_box;
use std::io::Cursor;

use image::AnimationDecoder;
use image::codecs::gif::GifDecoder;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imagevault_common::image::validate;

fn pipeline(c: &mut Criterion) {
    for input in fixtures::pipeline_inputs() {
        eprintln!("{}: {} bytes", input.label, input.bytes.len());
        let mut group = c.benchmark_group(input.label);
        group.sample_size(20);
        group.throughput(Throughput::Bytes(input.bytes.len() as u64));
        // The baseline decodes what validation must decode: every frame of a GIF (a
        // plain `load_from_memory` stops after the first).
        group.bench_function("plain_image_decode", |b| {
            b.iter(|| plain_decode(black_box(&input.bytes)));
        });
        group.bench_function("validate_sanitise_thumbnail", |b| {
            b.iter(|| {
                let checked = validate(black_box(&input.bytes), input.filename).unwrap();
                checked.thumbnail().unwrap()
            });
        });
        group.finish();
    }
}

fn plain_decode(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"GIF") {
        let decoder = GifDecoder::new(Cursor::new(bytes)).unwrap();
        decoder
            .into_frames()
            .map(|f| f.unwrap().into_buffer().len())
            .sum()
    } else {
        image::load_from_memory(bytes).unwrap().as_bytes().len()
    }
}

fn bombs(c: &mut Criterion) {
    let mut group = c.benchmark_group("refuse");
    for input in fixtures::bomb_inputs() {
        group.bench_function(input.label, |b| {
            b.iter(|| validate(black_box(&input.bytes), input.filename));
        });
    }
    group.finish();
}

/// The two halves of a thumbnail, with the alternatives considered, so the choice in
/// `image/thumbnail.rs` can be re-checked: 2000×1500 → 320×240, then JPEG quality 80.
fn thumbnail_parts(c: &mut Criterion) {
    use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
    use image::DynamicImage;

    let source = DynamicImage::ImageRgb8(fixtures::photo(2000, 1500, 24));
    let mut group = c.benchmark_group("thumbnail_parts");
    for (label, alg) in [
        (
            "resize_catmull_rom",
            ResizeAlg::Convolution(FilterType::CatmullRom),
        ),
        (
            "resize_bilinear",
            ResizeAlg::Convolution(FilterType::Bilinear),
        ),
    ] {
        let options = ResizeOptions::new().resize_alg(alg);
        group.bench_function(label, |b| {
            let mut dst = DynamicImage::new(320, 240, source.color());
            b.iter(|| {
                Resizer::new()
                    .resize(black_box(&source), &mut dst, &options)
                    .unwrap();
            });
        });
    }
    let small = fixtures::photo(320, 240, 24);
    group.bench_function("encode_image_jpeg_encoder", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
                .encode_image(black_box(&small))
                .unwrap();
            out
        });
    });
    group.bench_function("encode_jpeg_encoder_crate", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            jpeg_encoder::Encoder::new(&mut out, 80)
                .encode(
                    black_box(small.as_raw()),
                    320,
                    240,
                    jpeg_encoder::ColorType::Rgb,
                )
                .unwrap();
            out
        });
    });
    group.finish();
}

criterion_group!(benches, pipeline, bombs, thumbnail_parts);
criterion_main!(benches);
