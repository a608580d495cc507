//! ferroserve's serving side: the HTTP APIs (inference, management, metrics), the model
//! registry, loading archives into servable models, the per-model request pipeline
//! (sandboxed preprocess → batcher → model → sandboxed postprocess), metrics, the snapshot,
//! and the one place where every error becomes TorchServe's error JSON with a status.
//!
//! Look elsewhere for: running handlers (`ferroserve-sandbox`), queueing and batching
//! (`ferroserve-batcher`), running TorchScript (`ferroserve-torch`, which plugs in through
//! this crate's [`ModelRuntime`] seam and the batcher's `BatchRunner`, so these tests use a
//! fake model), the archive format (`ferroserve-archive`), flags and process setup (the
//! `ferroserve` binary in `crates/cli`).

pub mod app;
mod config;
mod error;
pub mod inference;
pub mod kserve;
pub mod layers;
mod loader;
pub mod management;
mod manager;
pub mod metrics;
mod model;
pub mod openapi;
mod pipeline;
mod registry;
pub mod snapshot;
mod store;
pub mod tenancy;

pub use config::ServerConfig;
pub use error::ApiError;
pub use layers::HttpLimits;
pub use loader::{LoadRequest, Loader, ModelDefaults, ModelRuntime};
pub use manager::Manager;
pub use metrics::Metrics;
pub use model::{Model, ModelInfo, rfc3339};
pub use pipeline::Pipeline;
pub use registry::Registry;
pub use store::ArchiveStore;
