//! Running TorchScript models natively in libtorch, through `tch`: loading a model file
//! onto a device, the forward pass, and converting tensors both ways. [`TorchModel`]
//! implements the batcher's [`BatchRunner`](ferroserve_batcher::BatchRunner) seam.
//!
//! This crate owns no threads and no queue: the batcher (`ferroserve-batcher`) calls
//! [`TorchModel::forward`] from its worker OS threads. Look elsewhere for the tensor value
//! (`ferroserve-tensor`), archives and manifests (`ferroserve-archive`), handlers
//! (`ferroserve-sandbox`) and the mapping of errors to statuses (`ferroserve-core`, `ferroserve-http`).
//!
//! Inside: `device.rs` ([`Device`]), `config.rs` ([`ModelConfig`]), `model.rs`
//! ([`TorchModel`]), `convert.rs` (dtypes, tensors, outputs), `threads.rs` (intra-op
//! counts), `error.rs` ([`TorchError`], trimming libtorch's messages), `test_models.rs`
//! (the test models for this and other crates' tests).
//!
//! # Inputs
//! Named [`Tensor`](ferroserve_tensor::Tensor)s of any [`DType`](ferroserve_tensor::DType)
//! (f32, f16, bf16, f64, i64, i32, i8, u8, bool; bool bytes must be 0 or 1), passed to the
//! model's `forward` as positional arguments **in the order given**; the names only label
//! errors. Each is copied once: into libtorch-owned memory on the CPU (so a model that
//! writes to its input in place cannot touch the caller's bytes), or straight to the GPU.
//!
//! # Outputs
//! Copied back to the CPU, contiguous, and named: a single tensor is `output`; a tuple or
//! list of tensors gives `output_0`, `output_1`, …; a dict with string keys gives one
//! tensor per key, named by the key, in the dict's order. Any other result (numbers,
//! strings, nested containers, complex dtypes) is a [`TorchError`]. Together they take at
//! most [`ModelConfig::max_output_bytes`] (1 GiB unless set), checked from each shape
//! before its bytes are copied: a view such as `expand` is no larger than its storage in
//! libtorch, but its copy is.
//!
//! # Errors
//! One enum, [`TorchError`]. libtorch's messages lose their C++ backtraces and TorchScript
//! tracebacks ([`trim_libtorch_message`]): a wrong shape reads `forward failed: mat1 and
//! mat2 shapes cannot be multiplied (1x5 and 4x8)`. A failed forward leaves the model usable.
//!
//! # Eval and grad
//! Models are switched to eval mode at load, and every forward runs under a no-grad guard
//! on its thread. tch 0.26 has no binding for `InferenceMode`; no-grad saves the autograd
//! graph, which is nearly all of what inference mode saves.
//!
//! # Threads
//! libtorch's intra-op thread count is set per calling thread, right before each forward,
//! to the model's [`ModelConfig::intra_op_threads`]; `tch::set_num_threads` also moves a
//! process-wide default, which this crate never relies on. Each worker thread gets its own
//! OpenMP team: `w` workers × `n` threads may busy `w × n` cores. See `threads.rs`.
//!
//! # Linking
//! Binaries that link libtorch need an rpath to it, or they fail at start with
//! `libtorch_cpu.so: cannot open shared object file`. This crate's `build.rs` gives one to
//! its own tests, examples and benches, but cargo never propagates `rustc-link-arg` to
//! dependents. So every package with a binary, test or bench that links this crate (the
//! server's tests, the CLI) needs `ferroserve-torch` in its `[dependencies]` and a
//! `build.rs` of two lines:
//!
//! ```text
//! include!("../torch/build/libtorch_link.rs");
//! fn main() { emit_libtorch_link_args_for_dependent(); }
//! ```
//!
//! It reads `DEP_FERROSERVE_TORCH_LIBTORCH_LIB`, which this crate publishes (`links =
//! "ferroserve_torch"` in its manifest), and adds the rpath plus `--no-as-needed -ltorch`
//! (without which `libtorch_cuda.so` is dropped and CUDA is silently unavailable).

mod config;
mod convert;
mod device;
mod error;
mod model;
pub mod test_models;
mod threads;

pub use config::{DEFAULT_MAX_OUTPUT_BYTES, InputSpec, ModelConfig};
pub use device::Device;
pub use error::{TorchError, trim_libtorch_message};
pub use model::TorchModel;
pub use threads::{current_intra_op_threads, default_intra_op_threads};

/// Whether this process can use CUDA (a GPU, its driver, and a CUDA build of libtorch).
pub fn cuda_available() -> bool {
    tch::Cuda::is_available()
}
