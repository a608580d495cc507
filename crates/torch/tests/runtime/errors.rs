//! libtorch's failures as typed errors with trimmed messages, and the model surviving them.

use ferroserve_batcher::BatchRunner;
use ferroserve_tensor::{DType, Tensor};
use ferroserve_torch::{InputSpec, ModelConfig, TorchError, TorchModel};

use crate::common::*;

fn forward_message(err: TorchError) -> String {
    match err {
        TorchError::Forward { message } => message,
        other => panic!("expected TorchError::Forward, got {other:?}"),
    }
}

fn assert_trimmed(message: &str) {
    for noise in ["Exception raised from", "frame #", "Traceback", "<--- HERE"] {
        assert!(!message.contains(noise), "`{noise}` left in: {message}");
    }
}

#[test]
fn a_raising_forward_is_a_typed_error_and_the_next_forward_works() {
    let model = load("raises");
    let bad = Tensor::from_f32("x", vec![1, 2], &[1.0, -1.0]).unwrap();
    let message = forward_message(model.forward(&[bad]).unwrap_err());
    assert_trimmed(&message);
    assert!(
        message.starts_with("ValueError: negative input: this model accepts only x >= 0 (at "),
        "{message}"
    );
    // The line of the `raise` in the script, wherever edits to it move it.
    let script = include_str!("../../../../examples/models/make_test_models.py");
    let line = 1 + script
        .lines()
        .position(|l| l.contains("raise ValueError(\"negative input"))
        .unwrap();
    assert!(
        message.ends_with(&format!("make_test_models.py, line {line}, in forward)")),
        "{message}"
    );

    let good = Tensor::from_f32("x", vec![1, 2], &[1.0, 2.5]).unwrap();
    let out = single(model.forward(&[good]).unwrap());
    assert_eq!(out.to_f32().unwrap(), vec![2.0, 5.0]);
}

#[test]
fn a_wrong_shape_names_the_shapes() {
    let model = load("mlp");
    let input = Tensor::from_f32("x", vec![1, 5], &[0.0; 5]).unwrap();
    let message = forward_message(model.forward(&[input]).unwrap_err());
    assert_eq!(
        message,
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x5 and 4x8)"
    );
}

#[test]
fn a_wrong_dtype_names_the_dtypes() {
    let model = load("mlp");
    let input = Tensor::new("x", DType::F16, vec![1, 4], vec![0u8; 8]).unwrap();
    let message = forward_message(model.forward(&[input]).unwrap_err());
    assert_eq!(
        message,
        "RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float"
    );
}

#[test]
fn a_missing_argument_loses_the_cpp_backtrace() {
    let model = load("two_inputs");
    let a = Tensor::from_f32("a", vec![1], &[1.0]).unwrap();
    let message = forward_message(model.forward(&[a]).unwrap_err());
    assert_trimmed(&message);
    assert!(
        message.starts_with("forward() is missing value for argument 'b'."),
        "{message}"
    );
}

#[test]
fn the_batch_runner_carries_the_trimmed_message() {
    let runner = load("raises");
    let bad = Tensor::from_f32("x", vec![2, 1], &[-1.0, 0.0]).unwrap();
    let err = runner.run(vec![bad]).unwrap_err();
    assert!(
        err.message()
            .starts_with("forward failed: ValueError: negative input"),
        "{err}"
    );
    assert_trimmed(err.message());
    let good = Tensor::from_f32("x", vec![2, 1], &[1.0, 0.0]).unwrap();
    assert_eq!(
        runner.run(vec![good]).unwrap()[0].to_f32().unwrap(),
        vec![2.0, 0.0]
    );
}

#[test]
fn a_missing_file_is_its_own_error() {
    let err = TorchModel::load("/nonexistent/model.pt", ModelConfig::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model file /nonexistent/model.pt does not exist or is not a file"
    );
}

#[test]
fn a_file_that_is_not_torchscript_fails_to_load_with_a_short_message() {
    let dir = std::env::temp_dir().join(format!("ferroserve-torch-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("not-a-model.pt");
    std::fs::write(&file, b"not a zip").unwrap();
    let err = TorchModel::load(&file, ModelConfig::default()).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    let TorchError::Load { message, .. } = &err else {
        panic!("expected Load, got {err:?}")
    };
    assert_trimmed(message);
    assert!(
        message.starts_with("PytorchStreamReader failed reading zip archive"),
        "{message}"
    );
}

#[test]
fn a_failing_warm_up_fails_the_load() {
    let config =
        ModelConfig::default().with_warmup(vec![InputSpec::new("x", DType::F32, vec![1, 5])]);
    let err = TorchModel::load(path("mlp"), config).unwrap_err();
    let TorchError::Warmup { message, .. } = &err else {
        panic!("expected Warmup, got {err:?}")
    };
    assert!(
        message.contains("mat1 and mat2 shapes cannot be multiplied (1x5 and 4x8)"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("check the warm-up shapes and dtypes"),
        "{err}"
    );
}

#[test]
fn an_impossible_warm_up_shape_is_refused_before_libtorch_allocates() {
    let huge = InputSpec::new("x", DType::F32, vec![1 << 40, 1 << 40]);
    let err =
        TorchModel::load(path("mlp"), ModelConfig::default().with_warmup(vec![huge])).unwrap_err();
    let TorchError::Warmup { message, .. } = &err else {
        panic!("expected Warmup, got {err:?}")
    };
    assert_eq!(
        message,
        "input `x`: shape [1099511627776, 1099511627776] of f32 is too large to address"
    );
}
