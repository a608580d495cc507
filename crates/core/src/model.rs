//! A registered model version: its pipeline, its key, and the registration facts the
//! management APIs, the snapshot and KServe metadata report.

use std::path::PathBuf;
use std::time::SystemTime;

use ferroserve_archive::{InputSpec, OutputSpec};

use crate::model_dir::ModelDir;
use crate::{ModelKey, Pipeline};

/// One model version the server serves.
pub struct Model {
    pub key: ModelKey,
    pub version: String,
    pub pipeline: Pipeline,
    pub info: ModelInfo,
    /// The extracted model and handler files, removed when the model goes.
    dir: Option<ModelDir>,
    /// Its workers in the server's budget.
    lease: Option<crate::Lease>,
}

/// Registration facts, for describe, the snapshot and KServe metadata.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    /// What the registration named: a model-store file name, an allowed URL, or
    /// `upload:<sha256>` for an archive sent in the request body.
    pub url: String,
    /// The archive the server holds (restored from it after a restart).
    pub archive_path: PathBuf,
    pub device: String,
    pub batch_size: usize,
    pub max_batch_delay_ms: u64,
    pub response_timeout_s: u64,
    /// Input specs from the archive's config, when it declares them.
    pub inputs: Vec<InputSpec>,
    /// Output specs the archive declares, or else those its warm-up returned.
    pub outputs: Vec<OutputSpec>,
    pub handler_memory_bytes: usize,
    pub handler_deadline_ms: u64,
    pub loaded_at: Option<SystemTime>,
    pub loaded_at_startup: bool,
}

impl Model {
    pub fn new(key: ModelKey, version: String, pipeline: Pipeline, info: ModelInfo) -> Model {
        Model {
            key,
            version,
            pipeline,
            info,
            dir: None,
            lease: None,
        }
    }

    /// The name within its namespace (what the tenant calls it).
    pub fn name(&self) -> &str {
        &self.key.name
    }

    pub fn tenant(&self) -> Option<&str> {
        self.key.tenant.as_deref()
    }

    pub(crate) fn with_dir(mut self, dir: ModelDir) -> Model {
        self.dir = Some(dir);
        self
    }

    pub(crate) fn with_lease(mut self, lease: crate::Lease) -> Model {
        self.lease = Some(lease);
        self
    }

    /// Its worker lease, when the loader gave it one (models built by tests have none).
    pub(crate) fn lease(&self) -> Option<&crate::Lease> {
        self.lease.as_ref()
    }

    /// Healthy: at least its minimum of workers running, and not marked failed.
    pub fn is_healthy(&self) -> bool {
        self.has_min_workers() && self.failed().is_none()
    }

    pub fn has_min_workers(&self) -> bool {
        let stats = self.pipeline.batcher().stats();
        stats.workers >= stats.min_workers
    }

    /// Why the model cannot serve at all (it kept killing the process it runs in).
    pub fn failed(&self) -> Option<String> {
        self.pipeline.batcher().failed()
    }
}
