//! A registered model version: its pipeline, and what the management API reports about it.

use std::path::PathBuf;
use std::time::SystemTime;

use ferroserve_archive::InputSpec;
use serde::Serialize;

use crate::Pipeline;
use crate::loader::ModelDir;

/// One model version the server serves.
pub struct Model {
    /// The owning tenant, `None` in the shared namespace.
    pub tenant: Option<String>,
    pub name: String,
    pub version: String,
    pub pipeline: Pipeline,
    pub info: ModelInfo,
    /// The extracted model and handler files, removed when the model goes.
    dir: Option<ModelDir>,
}

/// Registration facts, for describe, the snapshot and KServe metadata.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    /// What the registration named: a model-store file name, an allowed URL, or
    /// `upload:<sha256>` for an archive sent in the request body.
    pub url: String,
    /// The archive the server holds (restored from it after a restart).
    pub archive_path: PathBuf,
    pub archive_sha256: String,
    pub device: String,
    pub batch_size: usize,
    pub max_batch_delay_ms: u64,
    pub response_timeout_s: u64,
    /// Input specs from the archive's config, when it declares them.
    pub inputs: Vec<InputSpec>,
    pub handler_memory_bytes: usize,
    pub handler_deadline_ms: u64,
    pub loaded_at: Option<SystemTime>,
    pub loaded_at_startup: bool,
}

/// TorchServe's describe-model object (camelCase keys, as its clients parse them).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Described {
    pub model_name: String,
    pub model_version: String,
    pub model_url: String,
    pub engine: &'static str,
    pub runtime: &'static str,
    pub min_workers: usize,
    pub max_workers: usize,
    pub batch_size: usize,
    pub max_batch_delay: u64,
    pub response_timeout: u64,
    pub loaded_at_startup: bool,
    pub is_default: bool,
    pub device: String,
    pub queue_depth: usize,
    pub handler_limits: HandlerLimitsView,
    pub workers: Vec<WorkerView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerLimitsView {
    pub memory_bytes: usize,
    pub deadline_ms: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerView {
    pub id: String,
    pub start_time: String,
    pub status: &'static str,
    pub gpu: bool,
}

impl Model {
    pub fn new(name: String, version: String, pipeline: Pipeline, info: ModelInfo) -> Model {
        Model {
            tenant: None,
            name,
            version,
            pipeline,
            info,
            dir: None,
        }
    }

    pub fn with_tenant(mut self, tenant: Option<String>) -> Model {
        self.tenant = tenant;
        self
    }

    /// The registry key: `tenant/name`, or `name` in the shared namespace.
    pub fn key(&self) -> String {
        key(self.tenant.as_deref(), &self.name)
    }

    pub(crate) fn with_dir(mut self, dir: ModelDir) -> Model {
        self.dir = Some(dir);
        self
    }

    pub fn describe(&self, is_default: bool) -> Described {
        let stats = self.pipeline.batcher().stats();
        let start_time = self.info.loaded_at.map(rfc3339).unwrap_or_default();
        let workers = (0..stats.workers)
            .map(|i| WorkerView {
                id: format!("{}:{}#{i}", self.name, self.version),
                start_time: start_time.clone(),
                status: "READY",
                gpu: self.info.device.starts_with("cuda"),
            })
            .collect();
        Described {
            model_name: self.name.clone(),
            model_version: self.version.clone(),
            model_url: self.info.url.clone(),
            engine: "Torch",
            runtime: "wasm",
            min_workers: stats.min_workers,
            max_workers: stats.max_workers,
            batch_size: self.info.batch_size,
            max_batch_delay: self.info.max_batch_delay_ms,
            response_timeout: self.info.response_timeout_s,
            loaded_at_startup: self.info.loaded_at_startup,
            is_default,
            device: self.info.device.clone(),
            queue_depth: stats.queued,
            handler_limits: HandlerLimitsView {
                memory_bytes: self.info.handler_memory_bytes,
                deadline_ms: self.info.handler_deadline_ms,
            },
            workers,
        }
    }

    /// Fewer workers running than the model's minimum: `/ping` reports unhealthy.
    pub fn is_healthy(&self) -> bool {
        let stats = self.pipeline.batcher().stats();
        stats.workers >= stats.min_workers
    }
}

/// The registry key of `name` in `tenant`'s namespace. Model names cannot contain `/`
/// (the archive reader refuses them), so keys of different tenants never collide.
pub fn key(tenant: Option<&str>, name: &str) -> String {
    match tenant {
        Some(t) => format!("{t}/{name}"),
        None => name.to_owned(),
    }
}

/// `2026-11-24T10:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d, hh, mm, ss) = ferroserve_archive::civil_utc(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_utc_timestamps() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_795_521_599)), "2026-11-24T11:59:59Z");
    }
}
