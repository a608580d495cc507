//! The tiny MLP against Python's outputs, alone and batched, through `forward` and the
//! batcher's `BatchRunner` seam.

use std::time::Instant;

use ferroserve_batcher::BatchRunner;
use ferroserve_tensor::DType;
use ferroserve_torch::{Device, InputSpec, ModelConfig, TorchModel};

use crate::common::*;

const TOLERANCE: f32 = 1e-5;

#[test]
fn a_batch_of_eight_equals_python() {
    let model = load("mlp");
    let out = single(model.forward(&[rows("mlp.input", "x", 0..8)]).unwrap());
    assert_eq!(out.dtype(), DType::F32);
    assert_close(&out, &rows("mlp.output", "output", 0..8), TOLERANCE);
}

#[test]
fn each_row_alone_equals_python_alone() {
    let model = load("mlp");
    for i in 0..8 {
        let out = single(model.forward(&[rows("mlp.input", "x", i..i + 1)]).unwrap());
        assert_close(
            &out,
            &rows("mlp.output_alone", "output", i..i + 1),
            TOLERANCE,
        );
    }
}

#[test]
fn through_the_batch_runner_seam() {
    let runner: Box<dyn BatchRunner> = Box::new(load("mlp"));
    let out = runner.run(vec![rows("mlp.input", "x", 0..8)]).unwrap();
    assert_close(&single(out), &rows("mlp.output", "output", 0..8), TOLERANCE);
}

#[test]
fn concurrent_forwards_from_many_threads_agree() {
    let model = load("mlp");
    std::thread::scope(|s| {
        for i in 0..4 {
            let model = &model;
            s.spawn(move || {
                for _ in 0..50 {
                    let out = single(model.forward(&[rows("mlp.input", "x", i..i + 1)]).unwrap());
                    assert_close(
                        &out,
                        &rows("mlp.output_alone", "output", i..i + 1),
                        TOLERANCE,
                    );
                }
            });
        }
    });
}

#[test]
fn warm_up_runs_at_load_with_the_given_shapes() {
    let config =
        ModelConfig::on(Device::Cpu).with_warmup(vec![InputSpec::new("x", DType::F32, vec![8, 4])]);
    let model = TorchModel::load(path("mlp"), config).unwrap();
    let out = single(model.forward(&[rows("mlp.input", "x", 0..8)]).unwrap());
    assert_close(&out, &rows("mlp.output", "output", 0..8), TOLERANCE);
}

/// Not a timed assertion: prints a quick figure for the report (benches/ has the real one).
#[test]
fn prints_forward_time() {
    let model = load("mlp");
    let input = [rows("mlp.input", "x", 0..1)];
    for _ in 0..100 {
        model.forward(&input).unwrap();
    }
    let n = 2000;
    let start = Instant::now();
    for _ in 0..n {
        model.forward(&input).unwrap();
    }
    eprintln!(
        "mlp forward, batch 1: {:.1} µs",
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
