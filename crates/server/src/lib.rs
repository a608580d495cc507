//! ferroserve's serving side: the per-model request pipeline (sandboxed preprocess →
//! batcher → model → sandboxed postprocess) and the one place where every error becomes
//! TorchServe's error JSON with an HTTP status. The HTTP listeners, registry, tenants and
//! metrics are being built on top of this (see `docs/architecture.md`).
//!
//! Look elsewhere for: running handlers (`ferroserve-sandbox`), queueing and batching
//! (`ferroserve-batcher`), running TorchScript (`ferroserve-torch`, which plugs into the
//! batcher through its `BatchRunner` seam, so this crate's tests use a fake model).

mod error;
pub mod inference;
mod pipeline;
mod registry;

pub use error::ApiError;
pub use pipeline::Pipeline;
pub use registry::Registry;
