//! Native timings of the image pipeline and of the JPEG decoders considered for it.
//!
//! `cargo bench -p ferroserve-handler --features image --bench image`
//!
//! The inputs are synthetic photo-like JPEGs (gradient, waves and noise; quality 90, 4:2:0),
//! made here so no binary file is checked in. Wasm timings of the same code need a guest
//! build and a runtime; see the `image` module docs for the numbers.

use criterion::{Criterion, criterion_group, criterion_main};
use ferroserve_handler::image::{
    ImagePipeline, RgbImage, center_crop, decode, resize_shorter_side, to_chw_normalized,
};
use std::hint::black_box;
use std::time::Duration;

fn synthetic(width: u32, height: u32) -> RgbImage {
    let pixels = ferroserve_test_fixtures::images::photo_rgb(width, height);
    RgbImage {
        width,
        height,
        pixels,
    }
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    ferroserve_test_fixtures::images::photo_jpeg(image.width, image.height)
}

fn decoders(c: &mut Criterion) {
    let bytes = jpeg(&synthetic(640, 480));
    let mut group = c.benchmark_group("decode_640x480_jpeg");
    group.bench_function("jpeg-decoder (sdk decode)", |b| {
        b.iter(|| decode(black_box(&bytes)).unwrap())
    });
    // zune-jpeg with its SIMD features off, as it would build for wasm. The `image` crate
    // decodes JPEG with zune-jpeg too, plus a conversion layer (measured once: 2.95 ms
    // against 1.90 ms for zune-jpeg alone), so it is not kept as a dev-dependency.
    group.bench_function("zune-jpeg", |b| {
        b.iter(|| {
            let cursor = zune_jpeg::zune_core::bytestream::ZCursor::new(black_box(&bytes[..]));
            zune_jpeg::JpegDecoder::new(cursor).decode().unwrap()
        })
    });
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let bytes = jpeg(&synthetic(640, 480));
    let decoded = decode(&bytes).unwrap();
    let p = ImagePipeline::imagenet();
    let mut group = c.benchmark_group("imagenet");
    group.bench_function("640x480 jpeg bytes to tensor", |b| {
        b.iter(|| p.run(black_box(&bytes), "input").unwrap())
    });
    group.bench_function("640x480 decoded: fused resize+crop+normalize", |b| {
        b.iter(|| p.run_decoded(black_box(&decoded), "input").unwrap())
    });
    group.bench_function(
        "640x480 decoded: step by step resize, crop, normalize",
        |b| {
            b.iter(|| {
                let resized = resize_shorter_side(black_box(&decoded), 256).unwrap();
                let cropped = center_crop(&resized, (224, 224)).unwrap();
                to_chw_normalized(&cropped, p.mean, p.std, "input").unwrap()
            })
        },
    );
    let big = jpeg(&synthetic(2400, 1800));
    let full = ImagePipeline {
        scaled_jpeg_decode: false,
        ..ImagePipeline::imagenet()
    };
    group.bench_function("2400x1800 jpeg, scaled decode (1/4)", |b| {
        b.iter(|| p.run(black_box(&big), "input").unwrap())
    });
    group.bench_function("2400x1800 jpeg, full decode", |b| {
        b.iter(|| full.run(black_box(&big), "input").unwrap())
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = decoders, pipeline }
criterion_main!(benches);
