//! [`Core`]: everything a protocol edge serves from, assembled from the configuration and
//! a [`ModelRuntime`]: the sandbox, the loader, the registry, the manager with its archive
//! store, snapshot, tenants and audit log, and the authenticator. Building it binds no
//! socket; [`Core::start`] restores the snapshot and loads the start-up models.

use std::path::Path;
use std::sync::Arc;

use ferroserve_sandbox::{Sandbox, SandboxConfig};

use crate::fetcher::Fetcher;
use crate::snapshot::Snapshot;
use crate::store::ArchiveStore;
use crate::tenancy::{self, Audit, Auth, KeyFile, Tenants};
use crate::{Error, LoadRequest, Loader, Manager, Metrics, ModelRuntime, Registry, ServerConfig};

/// The protocol-free server. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub config: Arc<ServerConfig>,
    pub manager: Manager,
    pub auth: Auth,
}

fn state_dir_error(path: &Path) -> impl Fn(std::io::Error) -> Error {
    let path = path.display().to_string();
    move |e| Error::StateDir {
        path: path.clone(),
        reason: e.to_string(),
    }
}

impl Core {
    /// `fetcher` fetches archives from allowed URLs (`None`: refuse URL registrations).
    pub fn build(
        config: ServerConfig,
        runtime: Arc<dyn ModelRuntime>,
        fetcher: Option<Arc<dyn Fetcher>>,
    ) -> Result<Core, Error> {
        crate::bounds::check_config(&config)?;
        if !matches!(config.metrics_names.as_str(), "ferroserve" | "torchserve") {
            return Err(Error::Setup(format!(
                "metrics_names = {:?}: use \"ferroserve\" or \"torchserve\"",
                config.metrics_names
            )));
        }
        let work_dir = config.state_dir.join("work");
        // Extracted files of a previous run are never reused: archives are extracted afresh.
        let _ = std::fs::remove_dir_all(&work_dir);
        std::fs::create_dir_all(&work_dir).map_err(state_dir_error(&work_dir))?;
        let sandbox = Sandbox::new(SandboxConfig {
            cache_dir: Some(config.state_dir.join("wasm-cache")),
            cache_max_bytes: config.compile_cache_mib.saturating_mul(1 << 20),
            threads: config.sandbox_thread_count(),
            queue_depth: config.sandbox_queue_depth,
            threads_per_group: config.sandbox_threads_per_tenant,
            max_memory_bytes: config.max_handler_memory_mib << 20,
            compile: config.compile_limits(),
            compiler: config.compiler.clone(),
            ..SandboxConfig::default()
        })
        .map_err(|e| Error::SandboxStart(e.to_string()))?;
        let loader = Loader {
            sandbox,
            runtime,
            work_dir,
            defaults: config.model_defaults(),
            metrics: {
                let m = Metrics::with_torchserve_series(config.metrics_names == "torchserve");
                m.watch_state_dir(config.state_dir.clone());
                m
            },
            workers: crate::WorkerBudget::new(
                config.limit_workers_per_tenant as u64,
                config.limit_workers_total as u64,
            ),
        };
        if !config.s3_endpoint.starts_with("http://") && !config.s3_endpoint.starts_with("https://")
        {
            return Err(Error::Setup(format!(
                "s3_endpoint = {:?}: give an http:// or https:// URL, like https://s3.eu-west-1.amazonaws.com",
                config.s3_endpoint
            )));
        }
        if config.fetch_timeout_s == 0 {
            return Err(Error::Setup("fetch_timeout_s must be at least 1".into()));
        }
        let store = ArchiveStore {
            model_store: config.model_store.clone(),
            kept: config.state_dir.join("archives"),
            allowed_urls: config.allowed_urls.clone(),
            max_bytes: config.max_upload_size,
            s3_endpoint: config.s3_endpoint.clone(),
            fetch_timeout: std::time::Duration::from_secs(config.fetch_timeout_s),
            fetcher,
            tenants_use_model_store: config.tenants_use_model_store,
            holds: Default::default(),
        };
        let snapshot_dir = config.snapshot.then(|| config.state_dir.clone());
        let tenants =
            Arc::new(Tenants::open(Some(config.state_dir.clone())).map_err(Error::Setup)?);
        let audit_path = config.state_dir.join("audit.log");
        let audit = Audit::open(&audit_path, config.audit_log_mib.saturating_mul(1 << 20))
            .map_err(state_dir_error(&audit_path))?;
        let auth = build_auth(&config, tenants.clone())?;
        let manager = Manager::new(
            Registry::default(),
            Arc::new(loader),
            store,
            snapshot_dir,
            tenants,
            audit,
        );
        Ok(Core {
            config: Arc::new(config),
            manager,
            auth,
        })
    }

    /// The snapshot first (what was registered at runtime), then `models` and
    /// `startup_models` from the config; a start-up model the snapshot already restored is
    /// not loaded twice.
    pub async fn start(&self) -> Result<(), Error> {
        let config = &self.config;
        if config.snapshot
            && let Some(snapshot) = Snapshot::read(&config.state_dir).map_err(Error::Setup)?
        {
            let n = snapshot.models.len();
            let restored = self.manager.restore(snapshot).await;
            tracing::info!(restored, of = n, "snapshot restored");
        }
        for spec in expand_models(config)? {
            let (name, file) = match spec.split_once('=') {
                Some((n, f)) => (Some(n.to_owned()), f),
                None => (None, spec.as_str()),
            };
            let req = LoadRequest {
                name,
                ..LoadRequest::default()
            };
            self.load_at_start(&spec, file, req, false).await?;
        }
        for m in &config.startup_models {
            let req = LoadRequest {
                name: Some(m.name.clone()),
                batch_size: m.batch_size,
                max_batch_delay_ms: m.max_batch_delay_ms,
                min_workers: m.min_workers,
                max_workers: m.max_workers,
                response_timeout_s: m.response_timeout_s,
                ..LoadRequest::default()
            };
            let spec = format!("{}={}", m.name, m.archive);
            self.load_at_start(&spec, &m.archive, req, m.default_version)
                .await?;
        }
        Ok(())
    }

    /// One start-up model (`spec` names it in errors): the archive at `url` with `req`'s
    /// name and settings; made the default version when asked. One the snapshot already
    /// restored is left as restored.
    async fn load_at_start(
        &self,
        spec: &str,
        url: &str,
        mut req: LoadRequest,
        default_version: bool,
    ) -> Result<(), Error> {
        let fail = |e: Error| Error::StartupModel {
            spec: spec.to_owned(),
            message: e.to_string(),
        };
        req.archive = self.manager.store().resolve(url).await.map_err(fail)?;
        let _held = self.manager.store().held(&req.archive);
        req.url = url.to_owned();
        req.loaded_at_startup = true;
        let model = match self.manager.load_and_register(req).await {
            Ok(model) => model,
            Err(Error::VersionExists { .. }) => {
                tracing::info!(%spec, "already restored from the snapshot");
                return Ok(());
            }
            Err(e) => return Err(fail(e)),
        };
        if default_version {
            self.manager
                .registry()
                .set_default(&model.key, &model.version)
                .map_err(fail)?;
            self.manager.save().await.map_err(fail)?;
        }
        tracing::info!(model = %model.key, version = %model.version, "loaded at start");
        Ok(())
    }

    /// Drains every model's queue (graceful shutdown, once the edges stopped accepting).
    pub async fn shutdown(&self) {
        self.manager.shutdown().await;
    }
}

/// `all` means every archive in the model store (`.mar`, or torch-model-archiver's
/// `.tar.gz` / `.tgz`), sorted.
fn expand_models(config: &ServerConfig) -> Result<Vec<String>, Error> {
    if !config.models.iter().any(|m| m == "all") {
        return Ok(config.models.clone());
    }
    let all = |message: String| Error::StartupModel {
        spec: "all".into(),
        message,
    };
    let store = config
        .model_store
        .as_ref()
        .ok_or_else(|| all("--models all needs --model-store DIR".into()))?;
    let mut names: Vec<String> = std::fs::read_dir(store)
        .map_err(|e| all(format!("{}: {e}", store.display())))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| [".mar", ".tar.gz", ".tgz"].iter().any(|x| n.ends_with(x)))
        .collect();
    names.sort();
    Ok(names)
}

/// Auth from the config: `tokens` makes (or reads) the admin token; a TorchServe key file
/// is read as is.
fn build_auth(config: &ServerConfig, tenants: Arc<Tenants>) -> Result<Auth, Error> {
    let mut auth = Auth::off();
    // Tokens issued while auth was off (anyone could ask for one) are refused once it is on.
    tenants.set_auth_on(config.auth == "tokens");
    auth.tenants = tenants;
    // TorchServe's keys never guard /metrics; ferroserve's tokens do unless told otherwise.
    auth.metrics_need_token = config.metrics_auth && config.auth == "tokens";
    match config.auth.as_str() {
        "none" => {}
        "tokens" => {
            let sha = tenancy::admin_token(&config.state_dir).map_err(Error::Setup)?;
            auth.admin_sha256 = Some(sha);
        }
        other => {
            return Err(Error::Setup(format!(
                "auth = {other:?}: use \"none\" or \"tokens\""
            )));
        }
    }
    if let Some(path) = &config.key_file
        && config.create_key_file
    {
        KeyFile::generate().write(path).map_err(Error::Setup)?;
        tracing::warn!(path = %path.display(), "made TorchServe-style keys for the inference and management APIs; they are in this file (mode 0600)");
    }
    if let Some(path) = &config.key_file {
        let bad = |e: String| Error::Setup(format!("key_file {}: {e}", path.display()));
        let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let keys: KeyFile = serde_json::from_slice(&text).map_err(|e| {
            bad(format!(
                "not TorchServe's key file ({e}); it needs management.key and inference.key"
            ))
        })?;
        auth.keys = Some(keys);
    }
    Ok(auth)
}
