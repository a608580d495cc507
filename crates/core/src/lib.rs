//! ferroserve's serving core, protocol-free: the model registry, loading archives into
//! servable models (through the [`ModelRuntime`] seam), the per-model request [`Pipeline`]
//! (preprocess → batcher → model → postprocess, behind the [`Processor`] seam), the
//! [`Manager`] (register, scale, unregister, set-default, tenants; audited, saved to the
//! snapshot), the archive store, metrics, tenants with quotas and principals, the server's
//! configuration, and [`Core`], which assembles them. Operations return [`Error`]: a stable
//! kind and a [`Class`] that each protocol edge maps to its own statuses.
//!
//! Cargo keeps this crate free of axum, hyper and http: look elsewhere for the REST edge
//! (`ferroserve-http`: routes, auth middleware, layers, the HTTP status mapping, listeners),
//! running handlers (`ferroserve-sandbox`), batching (`ferroserve-batcher`), running
//! TorchScript (`ferroserve-torch`, plugged in by the binary), the archive format
//! (`ferroserve-archive`), flags and process setup (`crates/cli`).

pub mod bounds;
mod byte_stream;
mod config;
pub mod describe;
mod error;
mod fetch;
mod fetcher;
mod holds;
mod key;
mod limits;
mod load_request;
mod loader;
mod manager;
pub mod metrics;
mod model;
mod model_dir;
pub mod observe;
mod pipeline;
mod registry;
pub mod repository;
mod serving;
mod settings;
mod sink;
pub mod snapshot;
mod stats;
mod store;
pub mod tenancy;
mod tenant_ops;
pub mod tensors;
pub mod torchserve_config;
mod workers;

pub use byte_stream::{ByteStream, no_bytes};
pub use config::{ServerConfig, StartupModel};
pub use error::{Class, Error, RETRY_AFTER};
pub use fetch::MAX_REDIRECTS;
pub use fetcher::{FetchError, Fetched, Fetcher};
pub use key::ModelKey;
pub use load_request::LoadRequest;
pub use loader::{Loader, ModelRuntime, RuntimeLoad};
pub use manager::{Manager, Register};
pub use metrics::Metrics;
pub use model::{Model, ModelInfo};
pub use pipeline::{Pipeline, Processor};
pub use registry::Registry;
pub use serving::Core;
pub use settings::{ModelDefaults, Settings};
pub use stats::{StatsSnapshot, Tally};
pub use store::ArchiveStore;
pub use tenancy::ModelLimits;
pub use workers::{Lease, WorkerBudget};

/// `2026-11-24T10:00:00Z`: whole seconds, UTC.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let at = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time in range formats")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    #[test]
    fn formats_utc_timestamps() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(super::rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(at(1_795_521_599)), "2026-11-24T11:59:59Z");
    }
}
