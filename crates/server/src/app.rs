//! Assembling and running the server: the sandbox, loader, registry and manager; the three
//! listeners (inference, management, metrics), each behind the tower stack; the snapshot
//! restored and start-up models loaded before the listeners answer; graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use ferroserve_sandbox::{Limits, Sandbox, SandboxConfig};
use tokio::net::TcpListener;

use crate::snapshot::Snapshot;
use crate::tenancy::{self, Api, Audit, Auth, Tenants};
use crate::{
    ArchiveStore, HttpLimits, LoadRequest, Loader, Manager, Metrics, ModelDefaults, ModelRuntime,
    Registry, ServerConfig, inference, kserve, layers, management, openapi,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot listen on {addr} for the {api} API: {source}; pick another address or stop what holds it"
    )]
    Bind {
        api: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("state directory {path}: {source}; pass a writable --state-dir")]
    StateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("the wasm sandbox could not start: {0}")]
    Sandbox(String),
    #[error("{0}")]
    Setup(String),
    #[error("start-up model {spec:?}: {message}")]
    Model { spec: String, message: String },
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
}

/// The addresses actually bound (port 0 resolved).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub inference: SocketAddr,
    pub management: SocketAddr,
    pub metrics: SocketAddr,
}

/// Runs the server until `shutdown` completes, then stops accepting, lets in-flight
/// requests finish and drains every model's queue. `on_ready` is called once the models
/// are loaded and the listeners answer.
pub async fn serve(
    config: ServerConfig,
    runtime: Arc<dyn ModelRuntime>,
    on_ready: impl FnOnce(Bound),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let state_err = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| StartError::StateDir { path, source }
    };
    let work_dir = config.state_dir.join("work");
    // Extracted files of a previous run are never reused: archives are extracted afresh.
    let _ = std::fs::remove_dir_all(&work_dir);
    std::fs::create_dir_all(&work_dir).map_err(state_err(&work_dir))?;

    let listen = |api, addr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { api, addr, source })
    };
    let inference_listener = listen("inference", config.inference_address).await?;
    let management_listener = listen("management", config.management_address).await?;
    let metrics_listener = listen("metrics", config.metrics_address).await?;

    let manager = build_manager(&config, runtime, work_dir)?;
    load_models(&config, &manager).await?;

    let metrics = manager.metrics();
    let limits = HttpLimits {
        max_body_bytes: config.max_request_size,
        request_timeout: Duration::from_secs(config.request_timeout_s),
        max_concurrent: config.max_concurrent_requests,
    };
    let inference_app = inference::router(manager.registry().clone())
        .merge(kserve::router(manager.registry().clone()))
        .merge(openapi::inference_description());
    let auth = build_auth(&config, &manager)?;
    let guard = |router: Router, api: Api| {
        router.layer(axum::middleware::from_fn_with_state(
            (auth.clone(), api),
            tenancy::auth::authenticate,
        ))
    };
    let inference_app = layers::apply(guard(inference_app, Api::Inference), "inference", &limits);
    let management_app = management::router(manager.clone())
        .merge(tenancy::api::router(manager.clone()))
        .merge(openapi::management_description());
    let management_app = guard(management_app, Api::Management);
    let upload_limits = HttpLimits {
        max_body_bytes: usize::try_from(config.max_upload_size).unwrap_or(usize::MAX),
        ..limits.clone()
    };
    let management_app = layers::apply(management_app, "management", &upload_limits);
    let metrics_app = Router::new()
        .route("/metrics", axum::routing::get(render_metrics))
        .fallback(inference::unknown_route)
        .with_state((metrics, manager.registry().clone()));
    let metrics_app = layers::apply(guard(metrics_app, Api::Metrics), "metrics", &limits);

    let bound = Bound {
        inference: inference_listener.local_addr().map_err(StartError::Serve)?,
        management: management_listener
            .local_addr()
            .map_err(StartError::Serve)?,
        metrics: metrics_listener.local_addr().map_err(StartError::Serve)?,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let run = |listener: TcpListener, app: Router| {
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        })
    };
    let servers = [
        run(inference_listener, inference_app),
        run(management_listener, management_app),
        run(metrics_listener, metrics_app),
    ];
    on_ready(bound);
    for server in servers {
        match server.await {
            Ok(result) => result.map_err(StartError::Serve)?,
            Err(e) => return Err(StartError::Serve(std::io::Error::other(e))),
        }
    }
    tracing::info!("listeners closed; draining model queues");
    manager.shutdown().await;
    Ok(())
}

fn build_manager(
    config: &ServerConfig,
    runtime: Arc<dyn ModelRuntime>,
    work_dir: std::path::PathBuf,
) -> Result<Manager, StartError> {
    let state_err = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| StartError::StateDir { path, source }
    };
    let threads = match config.sandbox_threads {
        // Four per core: a tenant's long-running calls (demoted to the idle class, see the
        // sandbox's executor) must not hold every thread while others wait.
        0 => 4 * std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(config.state_dir.join("wasm-cache")),
        threads,
        queue_depth: config.sandbox_queue_depth,
        max_memory_bytes: config.max_handler_memory_mib << 20,
        ..SandboxConfig::default()
    })
    .map_err(|e| StartError::Sandbox(e.to_string()))?;
    let defaults = ModelDefaults {
        batch_size: config.batch_size,
        max_batch_delay: Duration::from_millis(config.max_batch_delay_ms),
        min_workers: config.min_workers,
        max_workers: config.max_workers,
        response_timeout: Duration::from_secs(config.response_timeout_s),
        queue_capacity: config.job_queue_size,
        handler: Limits {
            memory_bytes: config.handler_memory_mib << 20,
            deadline: Duration::from_millis(config.handler_deadline_ms),
            ..Limits::default()
        },
        max_handler_deadline: Duration::from_millis(config.max_handler_deadline_ms),
        archive: ferroserve_archive::ReadLimits {
            max_archive_bytes: config.max_upload_size,
            ..Default::default()
        },
    };
    let loader = Loader {
        sandbox,
        runtime,
        work_dir,
        defaults,
        metrics: Metrics::new(),
    };
    let store = ArchiveStore {
        model_store: config.model_store.clone(),
        kept: config.state_dir.join("archives"),
        allowed_urls: config.allowed_urls.clone(),
        max_bytes: config.max_upload_size,
    };
    let snapshot_dir = config.snapshot.then(|| config.state_dir.clone());
    let tenants = Tenants::open(Some(config.state_dir.clone())).map_err(StartError::Setup)?;
    let audit_path = config.state_dir.join("audit.log");
    let audit = Audit::open(&audit_path).map_err(state_err(&audit_path))?;
    Ok(Manager::new(
        Registry::default(),
        Arc::new(loader),
        store,
        snapshot_dir,
        Arc::new(tenants),
        audit,
    ))
}

/// The snapshot first (what was registered at runtime), then `models` from the config;
/// a start-up model the snapshot already restored is not loaded twice.
async fn load_models(config: &ServerConfig, manager: &Manager) -> Result<(), StartError> {
    if config.snapshot
        && let Some(snapshot) = Snapshot::read(&config.state_dir).map_err(StartError::Setup)?
    {
        let n = snapshot.models.len();
        let restored = manager.restore(snapshot).await;
        tracing::info!(restored, of = n, "snapshot restored");
    }
    for spec in expand_models(config)? {
        let (name, file) = match spec.split_once('=') {
            Some((n, f)) => (Some(n.to_owned()), f.to_owned()),
            None => (None, spec.clone()),
        };
        let fail = |e: crate::ApiError| StartError::Model {
            spec: spec.clone(),
            message: e.message,
        };
        let archive = manager.store().resolve(&file).await.map_err(fail)?;
        let req = LoadRequest {
            archive,
            url: file.clone(),
            name,
            loaded_at_startup: true,
            ..LoadRequest::default()
        };
        match manager.register(req).await {
            Ok(m) => tracing::info!(model = %m.name, version = %m.version, "loaded at start"),
            Err(e) if e.code == 409 => tracing::info!(%spec, "already restored from the snapshot"),
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(())
}

/// `all` means every `.mar` in the model store, sorted.
fn expand_models(config: &ServerConfig) -> Result<Vec<String>, StartError> {
    if config.models.iter().any(|m| m == "all") {
        let store = config
            .model_store
            .as_ref()
            .ok_or_else(|| StartError::Model {
                spec: "all".into(),
                message: "--models all needs --model-store DIR".into(),
            })?;
        let mut names: Vec<String> = std::fs::read_dir(store)
            .map_err(|e| StartError::Model {
                spec: "all".into(),
                message: format!("{}: {e}", store.display()),
            })?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".mar"))
            .collect();
        names.sort();
        return Ok(names);
    }
    Ok(config.models.clone())
}

/// Auth from the config: `tokens` makes (or reads) the admin token; a TorchServe key file
/// is read as is.
fn build_auth(config: &ServerConfig, manager: &Manager) -> Result<Auth, StartError> {
    let mut auth = Auth::off();
    auth.tenants = manager.tenants().clone();
    auth.metrics_need_token = config.metrics_auth;
    match config.auth.as_str() {
        "none" => {}
        "tokens" => {
            let sha = tenancy::admin_token(&config.state_dir).map_err(StartError::Setup)?;
            auth.admin_sha256 = Some(sha);
        }
        other => {
            return Err(StartError::Setup(format!(
                "auth = {other:?}: use \"none\" or \"tokens\""
            )));
        }
    }
    if let Some(path) = &config.key_file {
        let bad = |e: String| StartError::Setup(format!("key_file {}: {e}", path.display()));
        let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let keys: tenancy::KeyFile = serde_json::from_slice(&text).map_err(|e| {
            bad(format!(
                "not TorchServe's key file ({e}); it needs management.key and inference.key"
            ))
        })?;
        auth.keys = Some(keys);
    }
    Ok(auth)
}

async fn render_metrics(
    State((metrics, registry)): State<(Metrics, Registry)>,
    tenancy::Caller(caller): tenancy::Caller,
) -> impl IntoResponse {
    for (model, _) in registry.all() {
        let stats = model.pipeline.batcher().stats();
        let state = crate::metrics::ModelState {
            queued: stats.queued,
            workers: stats.workers,
            min_workers: stats.min_workers,
            handler_throttled: model.pipeline.handler().throttled_total(),
        };
        metrics.set_model_state(&model.key(), &model.version, &state);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render_for(caller.tenant().map(|t| t.name.as_str())),
    )
}
