//! [`ModelConfig`]: how one model is loaded and run.

use std::num::NonZeroUsize;

use ferroserve_tensor::DType;

use crate::Device;

/// Per-model settings, typically from the archive's manifest and the registration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// Where the weights are loaded and the forward runs.
    pub device: Device,
    /// Intra-op threads for this model's forward passes on the CPU, applied on each thread
    /// that runs one (see the crate docs, "Threads"). `None`: libtorch's process default.
    pub intra_op_threads: Option<NonZeroUsize>,
    /// When not empty, one forward with zero-filled inputs of these shapes and dtypes runs
    /// at load, in this (positional) order, so the first request does not pay for
    /// TorchScript's profiling runs, allocator growth or CUDA kernel loading. Give the
    /// batched shape (dim 0 = a batch size) the model will see.
    pub warmup: Vec<InputSpec>,
    /// The most bytes one forward's outputs may take in all, checked from their shapes
    /// before anything is copied: a huge view (`expand`) would otherwise be materialised.
    pub max_output_bytes: u64,
}

/// [`ModelConfig::max_output_bytes`] unless set: the cell's reply cap too.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 1 << 30;

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            device: Device::default(),
            intra_op_threads: None,
            warmup: Vec::new(),
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

impl ModelConfig {
    pub fn on(device: Device) -> ModelConfig {
        ModelConfig {
            device,
            ..ModelConfig::default()
        }
    }

    /// `0` means libtorch's process default, as `None` does.
    pub fn with_intra_op_threads(mut self, n: usize) -> ModelConfig {
        self.intra_op_threads = NonZeroUsize::new(n);
        self
    }

    pub fn with_warmup(mut self, inputs: Vec<InputSpec>) -> ModelConfig {
        self.warmup = inputs;
        self
    }
}

/// One input's name, dtype and shape, as a manifest declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<u64>,
}

impl InputSpec {
    pub fn new(name: impl Into<String>, dtype: DType, shape: Vec<u64>) -> InputSpec {
        InputSpec {
            name: name.into(),
            dtype,
            shape,
        }
    }
}
