//! Test support for the serving core and its edges: [`FakeRuntime`], a `ModelRuntime`
//! whose models are deterministic arithmetic on `f32` tensors, with failures and delays
//! injected per model file, and [`fake_archive`], a real `.mar` (made by the archive
//! crate's writer) around a fake model and a real handler component. No libtorch: the
//! core and HTTP crates' tests run on machines without it. The real runtime is
//! `crates/cli/src/runtime.rs`, tested end to end in `tests/`.

mod archive;
mod runtime;

pub use archive::{FakeModel, fake_archive, fake_model_file};
pub use runtime::FakeRuntime;
