//! A 640×480 JPEG to a normalized [3,224,224] f32 tensor: the SDK's image pipeline inside
//! the sandbox (fresh instance per call, body in, tensor out) against the same Rust code
//! compiled natively. `cargo bench -p ferroserve-sandbox --bench image`
//!
//! Guests are built with `+simd128` (see crates/test-fixtures/build.rs); without it the
//! JPEG decode alone is ~2.6× slower in wasm.

use criterion::{Criterion, criterion_group, criterion_main};
use ferroserve_handler::image::ImagePipeline;
use ferroserve_sandbox::{HandlerRequest, Limits, Sandbox, SandboxConfig};
use ferroserve_test_fixtures::{IMAGE_PREP, bytes, images::photo_jpeg};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let jpeg = bytes::Bytes::from(photo_jpeg(640, 480));
    let sandboxes: Vec<(usize, Sandbox)> = [0usize, 1 << 20, 16 << 20]
        .into_iter()
        .map(|keep| {
            (
                keep,
                Sandbox::new(SandboxConfig {
                    keep_resident_bytes: keep,
                    ..SandboxConfig::default()
                })
                .unwrap(),
            )
        })
        .collect();
    let handler = sandboxes[0]
        .1
        .load("image-prep", &bytes(IMAGE_PREP), None, Limits::default())
        .unwrap();

    // Same answer both ways, or the comparison means nothing.
    let native = ImagePipeline::imagenet().run(&jpeg, "input").unwrap();
    let request = || HandlerRequest {
        body: jpeg.clone(),
        content_type: Some("image/jpeg".into()),
        ..Default::default()
    };
    let (wasm, _) = handler.preprocess_blocking(request());
    let wasm = wasm.unwrap();
    assert_eq!(wasm.inputs[0].shape(), &[3, 224, 224]);
    assert_eq!(
        wasm.inputs[0].data().as_ref(),
        native.data.as_slice(),
        "wasm and native disagree"
    );

    let mut group = c.benchmark_group("jpeg_640x480_to_chw_224");
    group.bench_function("native", |b| {
        b.iter(|| {
            ImagePipeline::imagenet()
                .run(black_box(&jpeg), "input")
                .unwrap()
        })
    });
    for (keep, sandbox) in &sandboxes {
        let handler = sandbox
            .load("image-prep", &bytes(IMAGE_PREP), None, Limits::default())
            .unwrap();
        group.bench_function(format!("wasm/keep_resident_{}MiB", keep >> 20), |b| {
            b.iter(|| {
                let (result, _) = handler.preprocess_blocking(request());
                result.unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
