//! Devices: the clear error without a GPU; GPU runs where one exists.

use ferroserve_torch::{Device, ModelConfig, TorchError, TorchModel};

use crate::common::*;

#[test]
fn cuda_without_a_gpu_is_a_clear_load_error() {
    if ferroserve_torch::cuda_available() {
        eprintln!("skipping cuda_without_a_gpu_is_a_clear_load_error: this machine has CUDA");
        return;
    }
    let device: Device = "cuda:0".parse().unwrap();
    let err = TorchModel::load(path("mlp"), ModelConfig::on(device)).unwrap_err();
    assert_eq!(
        err,
        TorchError::CudaUnavailable {
            device: Device::Cuda(0)
        }
    );
    assert_eq!(
        err.to_string(),
        "CUDA device cuda:0 requested but this machine has no CUDA device \
         (tch::Cuda::is_available() is false)"
    );
}

#[test]
fn gpu_an_index_past_the_last_gpu_is_a_clear_load_error() {
    if !cuda_or_skip("gpu_an_index_past_the_last_gpu_is_a_clear_load_error") {
        return;
    }
    let count = tch::Cuda::device_count() as usize;
    let err = TorchModel::load(path("mlp"), ModelConfig::on(Device::Cuda(count))).unwrap_err();
    assert!(
        matches!(err, TorchError::CudaIndexOutOfRange { .. }),
        "{err}"
    );
}

#[test]
fn gpu_mlp_equals_python() {
    if !cuda_or_skip("gpu_mlp_equals_python") {
        return;
    }
    let model = TorchModel::load(path("mlp"), ModelConfig::on(Device::Cuda(0))).unwrap();
    let out = single(model.forward(&[rows("mlp.input", "x", 0..8)]).unwrap());
    assert_close(&out, &rows("mlp.output", "output", 0..8), 1e-5);
}

#[test]
fn gpu_resnet18_is_close_to_python() {
    if !cuda_or_skip("gpu_resnet18_is_close_to_python") {
        return;
    }
    let model = TorchModel::load(path("resnet18"), ModelConfig::on(Device::Cuda(0))).unwrap();
    let out = single(
        model
            .forward(&[rows("resnet18.input", "image", 0..8)])
            .unwrap(),
    );
    let expected = rows("resnet18.output", "output", 0..8);
    let diff = max_abs_diff(&out.to_f32().unwrap(), &expected.to_f32().unwrap());
    eprintln!("resnet18 on cuda:0: max |difference| from Python on CPU = {diff}");
    // cuDNN may use TF32 convolutions (PyTorch's default), ~1e-3 relative.
    assert!(diff < 5e-2, "max |difference| {diff}");
}
