//! From an archive on disk to a [`Model`] ready to serve: validate the archive, extract the
//! TorchScript file and the handler's files into a directory of their own, compile the
//! handler, load the model through the [`ModelRuntime`] seam, start its batcher.
//!
//! Blocking (archive I/O, wasm compilation, libtorch): call from `spawn_blocking`, inside
//! the tokio runtime the batcher will run on.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferroserve_archive::{
    ArchiveInfo, InputSpec, OutputSpec, PreambleOnly, extract_extra_files, extract_model_file,
    read_archive,
};
use ferroserve_batcher::{BatchRunner, Batcher, BatcherConfig};
use ferroserve_sandbox::Sandbox;
use ferroserve_tensor::{DType, Tensor};

use crate::metrics::Metrics;
use crate::model_dir::ModelDir;
use crate::settings::{self, ModelDefaults};
use crate::{Error, LoadRequest, Model, ModelInfo, Pipeline};

/// The seam to the tensor runtime. The binary plugs in libtorch (`ferroserve-torch`);
/// tests plug in a fake model.
pub trait ModelRuntime: Send + Sync {
    /// Loads the serialized model at `req.path` on `req.device` (`None`: the runtime's
    /// default) and warms it up with `req.warmup` when given; returns the runner and the
    /// device it is on. The error is shown to the uploader.
    fn load(&self, req: &RuntimeLoad<'_>) -> Result<(Arc<dyn BatchRunner>, String), String>;
}

/// What the loader asks of a [`ModelRuntime`].
#[derive(Debug, Clone)]
pub struct RuntimeLoad<'a> {
    pub path: &'a Path,
    pub device: Option<&'a str>,
    pub warmup: &'a [InputSpec],
    /// `name:version`, for messages.
    pub label: &'a str,
    /// The model's owner (`None`: the shared namespace). A runtime that isolates models
    /// runs one owner's models together and apart from every other owner's.
    pub owner: Option<&'a str>,
    /// The owner's limits on its models' memory, threads and CPU.
    pub limits: crate::ModelLimits,
    /// The model's response timeout: a forward running past it (plus a grace) may be
    /// stopped.
    pub response_timeout: Duration,
}

/// Loads archives into models.
pub struct Loader {
    pub sandbox: Sandbox,
    pub runtime: Arc<dyn ModelRuntime>,
    /// Where each model's files are extracted (one fresh directory per model version).
    pub work_dir: PathBuf,
    pub defaults: ModelDefaults,
    pub metrics: Metrics,
    /// Every model's workers come out of it.
    pub workers: Arc<crate::WorkerBudget>,
}

impl Loader {
    /// Validates the archive and returns its manifest name and version, without loading.
    pub fn inspect(&self, archive: &Path) -> Result<ArchiveInfo, Error> {
        Ok(read_archive(
            archive,
            &self.defaults.archive,
            &PreambleOnly,
        )?)
    }

    pub fn load(&self, req: &LoadRequest, info: ArchiveInfo) -> Result<Model, Error> {
        let key = req.key(&info);
        let version = info.manifest.model.model_version.clone();
        let config = info.config.clone().unwrap_or_default();
        // Numbers first: a refusal costs no extraction, compilation or thread.
        let s = settings::resolve(req, &config, &self.defaults)?;
        let asked = format!("{key}:{version} asks for {} workers", s.max_workers);
        let lease = self
            .workers
            .lease(key.tenant.as_deref(), s.max_workers as u64, &asked)?;
        let dir = ModelDir::create(&self.work_dir, &key.file_stem(), &version)?;
        let model_file = dir.path().join("model.pt");
        extract_model_file(&req.archive, &info, &model_file, &self.defaults.archive)?;
        let files = if info.extra_files.is_empty() {
            None
        } else {
            let files = dir.path().join("files");
            extract_extra_files(&req.archive, &info, &files, &self.defaults.archive)?;
            Some(files)
        };
        let own = config.ferroserve.clone().unwrap_or_else(no_settings);
        let limits = crate::limits::handler_limits(
            &self.defaults,
            own.handler_limits.clone(),
            req.tenant.as_ref().map(|(_, q)| q),
        )?;
        // One CPU share group per tenant (the shared namespace is one more).
        let handler = self.sandbox.load_in(
            key.tenant.as_deref().unwrap_or(""),
            &format!("{}:{version}", key.name),
            &info.handler_wasm,
            files.as_deref(),
            limits.clone(),
        )?;
        let label = format!("{}:{version}", key.name);
        let (runner, device) = self
            .runtime
            .load(&RuntimeLoad {
                path: &model_file,
                device: own.device.as_deref(),
                warmup: &own.inputs,
                label: &label,
                owner: key.tenant.as_deref(),
                limits: crate::tenancy::model_limits(
                    req.tenant.as_ref().map(|(_, q)| q),
                    &self.defaults.shared_model_limits,
                ),
                response_timeout: Duration::from_secs(s.response_timeout_s),
            })
            .map_err(|e| Error::ModelLoad(without_paths(&e, dir.path())))?;

        let outputs = if own.outputs.is_empty() {
            probe_outputs(&*runner, &own.inputs)
        } else {
            own.outputs.clone()
        };

        let batcher_config = BatcherConfig::new(format!("{}:{version}", key.name))
            .batch_size(s.batch_size)
            .max_batch_delay(Duration::from_millis(s.max_batch_delay_ms))
            .capacity(self.defaults.queue_capacity)
            .min_workers(s.min_workers)
            .max_workers(s.max_workers);
        let batcher = Batcher::spawn(batcher_config, runner)?;
        let metrics = Arc::new(self.metrics.model(&key, &version));
        let pipeline = Pipeline::new(
            Arc::new(handler),
            batcher,
            Duration::from_secs(s.response_timeout_s),
        )
        .observed_by(metrics)
        .with_params(own.handler_params.into_iter().collect());
        let info = ModelInfo {
            url: req.url.clone(),
            archive_path: req.archive.clone(),
            device,
            batch_size: s.batch_size,
            max_batch_delay_ms: s.max_batch_delay_ms,
            response_timeout_s: s.response_timeout_s,
            inputs: own.inputs,
            outputs,
            handler_memory_bytes: limits.memory_bytes,
            handler_deadline_ms: limits.deadline.as_millis() as u64,
            loaded_at: Some(SystemTime::now()),
            loaded_at_startup: req.loaded_at_startup,
        };
        Ok(Model::new(key, version, pipeline, info)
            .with_dir(dir)
            .with_lease(lease))
    }
}

/// A load error as the uploader may see it: the model's private directory (a server path)
/// shown as the archive's names instead.
fn without_paths(message: &str, dir: &std::path::Path) -> String {
    let dir = dir.display().to_string();
    message
        .replace(&format!("{dir}/model.pt"), "model.pt")
        .replace(&dir, "<model files>")
}

/// An archive without a `ferroserve:` section asks for nothing.
fn no_settings() -> ferroserve_archive::FerroserveSettings {
    ferroserve_archive::FerroserveSettings {
        format_version: ferroserve_archive::FORMAT_VERSION,
        device: None,
        handler_limits: None,
        inputs: Vec::new(),
        outputs: Vec::new(),
        handler_params: Default::default(),
    }
}

/// The most input bytes a probe forward may allocate.
const PROBE_BYTES: usize = 16 << 20;

/// The outputs of one forward on zeros of the declared input specs (batch of one), for
/// metadata; nothing when the specs are missing, free (-1), or too large to try. A model
/// that fails here failed its warm-up already, so the error is only logged.
fn probe_outputs(runner: &dyn BatchRunner, inputs: &[InputSpec]) -> Vec<OutputSpec> {
    let zeros = |s: &InputSpec| -> Option<Tensor> {
        let dtype = DType::from_archive_name(&s.dtype)?;
        let mut shape = vec![1u64];
        for &d in &s.shape {
            shape.push(u64::try_from(d).ok()?);
        }
        let len = dtype.byte_len(&shape).ok().filter(|&n| n <= PROBE_BYTES)?;
        Tensor::new(s.name.clone(), dtype, shape, vec![0; len]).ok()
    };
    let Some(tensors) = (!inputs.is_empty())
        .then(|| inputs.iter().map(zeros).collect::<Option<Vec<_>>>())
        .flatten()
    else {
        return Vec::new();
    };
    match runner.run(tensors) {
        Ok(outputs) => outputs
            .iter()
            .map(|t| OutputSpec {
                name: t.name().to_owned(),
                dtype: t.dtype().archive_name().to_owned(),
                shape: t.shape().iter().skip(1).map(|&d| d as i64).collect(),
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "probing the model's outputs failed; metadata lists none");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn load_errors_show_no_server_paths() {
        let dir = std::path::Path::new("/srv/state/work/a-m-1.0-x");
        let m = super::without_paths(
            "open file failed: /srv/state/work/a-m-1.0-x/model.pt: bad zip; in /srv/state/work/a-m-1.0-x/files",
            dir,
        );
        assert_eq!(
            m,
            "open file failed: model.pt: bad zip; in <model files>/files"
        );
    }
}
