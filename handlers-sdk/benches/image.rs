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
    let mut state = 0x9e37_79b9_u32;
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = state >> 27; // 0..32
            let wave = ((x as f32 / 23.0).sin() * (y as f32 / 31.0).cos() * 40.0 + 40.0) as u32;
            pixels.push((x * 150 / width + wave + noise).min(255) as u8);
            pixels.push((y * 150 / height + wave / 2 + noise).min(255) as u8);
            pixels.push(((x + y) * 100 / (width + height) + 80 - wave / 2 + noise).min(255) as u8);
        }
    }
    RgbImage {
        width,
        height,
        pixels,
    }
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(
            &image.pixels,
            image.width as u16,
            image.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
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
