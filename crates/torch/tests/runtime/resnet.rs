//! ResNet-18 (torchvision, random weights) against Python's outputs.

use std::time::Instant;

use crate::common::*;

/// Python and Rust run the same libtorch build on the same CPU; the differences seen are
/// ~1e-6 (batch of 8 against rows run alone: ~3e-6, from different conv blockings).
const TOLERANCE: f32 = 1e-5;

#[test]
fn a_batch_of_eight_equals_python() {
    let model = load("resnet18");
    let out = single(
        model
            .forward(&[rows("resnet18.input", "image", 0..8)])
            .unwrap(),
    );
    assert_eq!(out.shape(), &[8, 1000]);
    assert_close(&out, &rows("resnet18.output", "output", 0..8), TOLERANCE);
}

#[test]
fn each_image_alone_equals_python_alone() {
    let model = load("resnet18");
    for i in 0..8 {
        let out = single(
            model
                .forward(&[rows("resnet18.input", "image", i..i + 1)])
                .unwrap(),
        );
        assert_close(
            &out,
            &rows("resnet18.output_alone", "output", i..i + 1),
            TOLERANCE,
        );
    }
}

/// Not a timed assertion: prints quick figures for the report (benches/ has the real ones).
#[test]
fn prints_forward_times() {
    let model = load("resnet18");
    for batch in [1usize, 8] {
        let input = [rows("resnet18.input", "image", 0..batch)];
        model.forward(&input).unwrap();
        model.forward(&input).unwrap();
        let n = if batch == 1 { 10 } else { 3 };
        let start = Instant::now();
        for _ in 0..n {
            model.forward(&input).unwrap();
        }
        let ms = start.elapsed().as_secs_f64() * 1e3 / n as f64;
        eprintln!(
            "resnet18 forward, batch {batch}: {ms:.1} ms ({} intra-op threads)",
            ferroserve_torch::current_intra_op_threads()
        );
    }
}
