//! From an archive on disk to a [`Model`] ready to serve: validate the archive, extract the
//! TorchScript file and the handler's files into a directory of their own, compile the
//! handler, load the model through the [`ModelRuntime`] seam, start its batcher.
//!
//! Blocking (archive I/O, wasm compilation, libtorch): call from `spawn_blocking`, inside
//! the tokio runtime the batcher will run on.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use ferroserve_archive::{
    ArchiveInfo, InputSpec, PreambleOnly, ReadLimits, extract_extra_files, extract_model_file,
    read_archive,
};
use ferroserve_batcher::{BatchRunner, Batcher, BatcherConfig};
use ferroserve_sandbox::{Limits, Sandbox};

use crate::metrics::Metrics;
use crate::{ApiError, Model, ModelInfo, Pipeline};

/// The seam to the tensor runtime. The binary plugs in libtorch (`ferroserve-torch`);
/// tests plug in a fake model.
pub trait ModelRuntime: Send + Sync {
    /// Loads the serialized model at `path` on `device` (`None`: the runtime's default) and
    /// warms it up with `warmup` when given. The error is shown to the uploader.
    fn load(
        &self,
        path: &Path,
        device: Option<&str>,
        warmup: &[InputSpec],
    ) -> Result<(Arc<dyn BatchRunner>, String), String>;
}

/// Server-wide defaults and ceilings for models (TorchServe's defaults where it has them).
#[derive(Debug, Clone)]
pub struct ModelDefaults {
    pub batch_size: usize,
    pub max_batch_delay: Duration,
    pub min_workers: usize,
    pub max_workers: usize,
    pub response_timeout: Duration,
    /// Requests a model's queue holds before answering 503 (TorchServe's `job_queue_size`).
    pub queue_capacity: usize,
    pub handler: Limits,
    /// The most any archive may ask for.
    pub max_handler_deadline: Duration,
    pub archive: ReadLimits,
}

impl Default for ModelDefaults {
    fn default() -> Self {
        ModelDefaults {
            batch_size: 1,
            max_batch_delay: Duration::from_millis(100),
            min_workers: 1,
            max_workers: 1,
            response_timeout: Duration::from_secs(120),
            queue_capacity: 100,
            handler: Limits {
                memory_bytes: 128 << 20,
                deadline: Duration::from_secs(2),
                ..Limits::default()
            },
            max_handler_deadline: Duration::from_secs(30),
            archive: ReadLimits::default(),
        }
    }
}

/// One registration, as the management API or the start-up list asks for it. `None`
/// fields fall back to the archive's config, then to [`ModelDefaults`].
#[derive(Debug, Clone, Default)]
pub struct LoadRequest {
    pub archive: PathBuf,
    pub url: String,
    /// Overrides the manifest's model name.
    pub name: Option<String>,
    pub batch_size: Option<usize>,
    pub max_batch_delay_ms: Option<u64>,
    pub min_workers: Option<usize>,
    pub max_workers: Option<usize>,
    pub response_timeout_s: Option<u64>,
    pub loaded_at_startup: bool,
    /// The owning tenant and its quotas; `None`: the shared namespace, server limits only.
    pub tenant: Option<(String, crate::tenancy::Quotas)>,
}

/// Loads archives into models.
pub struct Loader {
    pub sandbox: Sandbox,
    pub runtime: Arc<dyn ModelRuntime>,
    /// Where each model's files are extracted (one fresh directory per model version).
    pub work_dir: PathBuf,
    pub defaults: ModelDefaults,
    pub metrics: Metrics,
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

impl Loader {
    /// Validates the archive and returns its manifest name and version, without loading.
    pub fn inspect(&self, archive: &Path) -> Result<ArchiveInfo, ApiError> {
        Ok(read_archive(
            archive,
            &self.defaults.archive,
            &PreambleOnly,
        )?)
    }

    pub fn load(&self, req: &LoadRequest, info: ArchiveInfo) -> Result<Model, ApiError> {
        let name = req
            .name
            .clone()
            .unwrap_or_else(|| info.manifest.model.model_name.clone());
        let version = info.manifest.model.model_version.clone();
        let tenant = req.tenant.as_ref().map(|(t, _)| t.as_str());
        let dir_name = crate::model::key(tenant, &name).replace('/', "-");
        let dir = ModelDir::create(&self.work_dir, &dir_name, &version)?;
        let model_file = dir.0.join("model.pt");
        extract_model_file(&req.archive, &info, &model_file, &self.defaults.archive)?;
        let files = if info.extra_files.is_empty() {
            None
        } else {
            let files = dir.0.join("files");
            extract_extra_files(&req.archive, &info, &files, &self.defaults.archive)?;
            Some(files)
        };
        let config = info.config.clone().unwrap_or_default();
        let settings = config.ferroserve.clone();
        let limits = self.handler_limits(
            settings.as_ref().and_then(|s| s.handler_limits.clone()),
            req.tenant.as_ref().map(|(_, q)| q),
        )?;
        // One CPU share group per tenant (the shared namespace is one more).
        let handler = self.sandbox.load_in(
            tenant.unwrap_or(""),
            &format!("{name}:{version}"),
            &info.handler_wasm,
            files.as_deref(),
            limits.clone(),
        )?;
        let device = settings.as_ref().and_then(|s| s.device.clone());
        let warmup = settings
            .as_ref()
            .map(|s| s.inputs.clone())
            .unwrap_or_default();
        let (runner, device) = self
            .runtime
            .load(&model_file, device.as_deref(), &warmup)
            .map_err(|message| ApiError::new(400, "ModelLoadError", message))?;

        let d = &self.defaults;
        let batch_size = req
            .batch_size
            .or(config.batch_size.map(|n| n as usize))
            .unwrap_or(d.batch_size);
        let delay_ms = req
            .max_batch_delay_ms
            .or(config.max_batch_delay)
            .unwrap_or(d.max_batch_delay.as_millis() as u64);
        let min = req
            .min_workers
            .or(config.min_workers.map(|n| n as usize))
            .unwrap_or(d.min_workers);
        let max = req
            .max_workers
            .or(config.max_workers.map(|n| n as usize))
            .unwrap_or(d.max_workers)
            .max(min)
            .max(1);
        let timeout_s = req
            .response_timeout_s
            .or(config.response_timeout)
            .unwrap_or(d.response_timeout.as_secs());
        let batcher_config = BatcherConfig::new(format!("{name}:{version}"))
            .batch_size(batch_size)
            .max_batch_delay(Duration::from_millis(delay_ms))
            .capacity(d.queue_capacity)
            .min_workers(min)
            .max_workers(max);
        let batcher = Batcher::spawn(batcher_config, runner)?;
        let pipeline = Pipeline::new(handler, batcher, Duration::from_secs(timeout_s))
            .with_metrics(
                self.metrics
                    .model(&crate::model::key(tenant, &name), &version),
            )
            .with_params(
                settings
                    .map(|s| s.handler_params.into_iter().collect())
                    .unwrap_or_default(),
            );
        let info = ModelInfo {
            url: req.url.clone(),
            archive_path: req.archive.clone(),
            archive_sha256: String::new(),
            device,
            batch_size,
            max_batch_delay_ms: delay_ms,
            response_timeout_s: timeout_s,
            inputs: warmup,
            handler_memory_bytes: limits.memory_bytes,
            handler_deadline_ms: limits.deadline.as_millis() as u64,
            loaded_at: Some(SystemTime::now()),
            loaded_at_startup: req.loaded_at_startup,
        };
        Ok(Model::new(name, version, pipeline, info)
            .with_tenant(tenant.map(str::to_owned))
            .with_dir(dir))
    }

    /// The archive's requested handler limits, filled from the defaults and capped by the
    /// server's ceilings and the tenant's quotas (a request over a quota is a 429 naming it).
    fn handler_limits(
        &self,
        asked: Option<ferroserve_archive::HandlerLimits>,
        quotas: Option<&crate::tenancy::Quotas>,
    ) -> Result<Limits, ApiError> {
        let mut limits = self.defaults.handler.clone();
        if let Some(q) = quotas {
            crate::tenancy::check_handler_limits(q, asked.as_ref())?;
            let memory = q.max_handler_memory_mib.saturating_mul(1 << 20);
            limits.memory_bytes = limits.memory_bytes.min(memory);
            limits.deadline = limits
                .deadline
                .min(Duration::from_millis(q.max_handler_deadline_ms));
        }
        let Some(asked) = asked else {
            return Ok(limits);
        };
        if let Some(mib) = asked.memory_mib {
            limits.memory_bytes = (mib as usize).saturating_mul(1 << 20);
        }
        if let Some(ms) = asked.deadline_ms {
            let deadline = Duration::from_millis(ms);
            if deadline > self.defaults.max_handler_deadline {
                return Err(ApiError::new(
                    400,
                    "HandlerLimitTooHigh",
                    format!(
                        "the archive asks for a handler deadline of {ms} ms; this server allows at most {} ms (ferroserve.handlerLimits.deadlineMs)",
                        self.defaults.max_handler_deadline.as_millis()
                    ),
                ));
            }
            limits.deadline = deadline;
        }
        if let Some(bytes) = asked.max_output_bytes {
            limits.max_output_bytes = bytes as usize;
        }
        Ok(limits)
    }
}

/// A model version's private directory, removed with the model.
pub(crate) struct ModelDir(PathBuf);

impl ModelDir {
    fn create(work_dir: &Path, name: &str, version: &str) -> Result<ModelDir, ApiError> {
        let n = NEXT_DIR.fetch_add(1, Relaxed);
        let dir = work_dir.join(format!("{name}-{version}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            ApiError::new(
                500,
                "ModelStoreError",
                format!(
                    "cannot create {}: {e}; check the server's --state-dir",
                    dir.display()
                ),
            )
        })?;
        Ok(ModelDir(dir))
    }
}

impl Drop for ModelDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
