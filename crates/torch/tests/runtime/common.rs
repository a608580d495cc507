use std::path::PathBuf;

use ferroserve_tensor::Tensor;
use ferroserve_torch::test_models::TestModels;
use ferroserve_torch::{ModelConfig, TorchModel};

pub fn models() -> &'static TestModels {
    TestModels::get()
}

pub fn path(name: &str) -> PathBuf {
    models().model(name)
}

pub fn load(name: &str) -> TorchModel {
    TorchModel::load(path(name), ModelConfig::default()).unwrap()
}

/// Rows `range` of a reference array whose dim 0 is the batch, as a tensor.
pub fn rows(array: &str, tensor_name: &str, range: std::ops::Range<usize>) -> Tensor {
    let (shape, values) = models().array(array);
    let row: usize = shape[1..].iter().product::<u64>() as usize;
    let mut out_shape = shape.clone();
    out_shape[0] = range.len() as u64;
    Tensor::from_f32(
        tensor_name,
        out_shape,
        &values[range.start * row..range.end * row],
    )
    .unwrap()
}

/// Largest absolute difference; panics on a length mismatch.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn assert_close(actual: &Tensor, expected: &Tensor, tolerance: f32) {
    assert_eq!(actual.shape(), expected.shape());
    let diff = max_abs_diff(&actual.to_f32().unwrap(), &expected.to_f32().unwrap());
    assert!(diff <= tolerance, "max |difference| {diff} > {tolerance}");
}

/// The one tensor a single-output model returned, checked to be named `output`.
pub fn single(mut outputs: Vec<Tensor>) -> Tensor {
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let out = outputs.pop().unwrap();
    assert_eq!(out.name(), "output");
    out
}

/// Skips a GPU test on a machine without CUDA, saying so.
pub fn cuda_or_skip(test: &str) -> bool {
    if ferroserve_torch::cuda_available() {
        return true;
    }
    eprintln!("skipping {test}: no CUDA device (tch::Cuda::is_available() is false)");
    false
}
