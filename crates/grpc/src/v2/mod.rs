//! KServe v2 / Triton's `GRPCInferenceService` on the gRPC inference listener, over the
//! core's protocol-neutral tensor semantics (`ferroserve_core::tensors`: batches split
//! into samples through the model's batcher and stacked back, metadata, statistics).
//! This module owns only the wire: the codec (`codec.rs`), Triton's `ModelConfig` and
//! statistics messages (`config.rs`), and the repository methods mapped onto the manager
//! (`repository.rs`).

mod codec;
mod config;
mod repository;
mod service;

pub use service::Service;
