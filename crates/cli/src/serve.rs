//! `ferroserve serve`: the configuration (TOML file < `FERROSERVE_*` environment < flags,
//! merged key by key and then checked as one `ServerConfig`, so a wrong key or type is
//! named wherever it came from), logging, the allocator, signals, then
//! the REST `App` (`ferroserve-http`) and the gRPC edge (`ferroserve-grpc`) over one core
//! with libtorch plugged in.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use ferroserve_core::ServerConfig;
use ferroserve_core::torchserve_config::{self, Note, Outcome};
use serde::Serialize;

use crate::runtime::TorchRuntime;
use ferroserve_core::ModelRuntime;

/// Every flag is also an environment variable and a key of the config file (same name,
/// `snake_case`); docs/configuration.md lists them with their defaults.
#[derive(Args, Serialize, Default, Clone)]
pub struct ServeArgs {
    /// A TOML file with any of the keys below.
    #[arg(long, env = "FERROSERVE_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// TorchServe's config.properties, read as is (under the TOML file, the environment and
    /// flags); docs/torchserve.md maps its keys. TorchServe's `TS_CONFIG_FILE` wins over it.
    #[arg(long, env = "FERROSERVE_TS_CONFIG")]
    #[serde(skip)]
    pub(crate) ts_config: Option<PathBuf>,
    /// TorchServe's flag: no token authorization (with --ts-config).
    #[arg(long, visible_alias = "dt")]
    #[serde(skip)]
    pub(crate) disable_token_auth: bool,
    /// TorchServe's flag: let the management API register and unregister (with --ts-config).
    #[arg(long)]
    #[serde(skip)]
    pub(crate) enable_model_api: bool,
    /// Accepted for TorchServe's command line: `serve` always runs in the foreground.
    #[arg(long, hide = true)]
    #[serde(skip)]
    pub(crate) foreground: bool,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    #[serde(skip)]
    print_config: bool,
    #[arg(long, env = "FERROSERVE_INFERENCE_ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    inference_address: Option<SocketAddr>,
    #[arg(long, env = "FERROSERVE_MANAGEMENT_ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    management_address: Option<SocketAddr>,
    #[arg(long, env = "FERROSERVE_METRICS_ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_address: Option<SocketAddr>,
    #[arg(long, env = "FERROSERVE_GRPC_INFERENCE_ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_inference_address: Option<SocketAddr>,
    #[arg(long, env = "FERROSERVE_GRPC_MANAGEMENT_ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_management_address: Option<SocketAddr>,
    /// Whether the gRPC listeners are served (true or false).
    #[arg(long, env = "FERROSERVE_GRPC_API")]
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_api: Option<bool>,
    /// Directory of .mar files that registrations and --models may name.
    #[arg(long, env = "FERROSERVE_MODEL_STORE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model_store: Option<PathBuf>,
    /// Models to load at start: NAME=FILE.mar,... or FILE.mar,... or `all` (TorchServe's
    /// space-separated form works too).
    #[arg(long, env = "FERROSERVE_MODELS", value_delimiter = ',', num_args = 1..)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) models: Vec<String>,
    /// Snapshot, kept archives, compiled handlers and extracted model files.
    #[arg(long, env = "FERROSERVE_STATE_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    state_dir: Option<PathBuf>,
    /// Neither save nor restore registrations (TorchServe's --ncs, --no-config-snapshots).
    #[arg(long, env = "FERROSERVE_NO_SNAPSHOT", visible_aliases = ["ncs", "no-config-snapshots"])]
    #[serde(skip)]
    pub(crate) no_snapshot: bool,
    /// URL prefixes that registrations may fetch archives from (comma-separated).
    #[arg(long, env = "FERROSERVE_ALLOWED_URLS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_urls: Vec<String>,
    /// PEM file of CA certificates trusted for https:// fetches (besides the webpki roots).
    #[arg(long, env = "FERROSERVE_FETCH_CA_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    fetch_ca_file: Option<PathBuf>,
    /// Where s3://BUCKET/KEY is fetched from: ENDPOINT/BUCKET/KEY (unsigned).
    #[arg(long, env = "FERROSERVE_S3_ENDPOINT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    s3_endpoint: Option<String>,
    /// Seconds a fetch waits for the response, and for each next part of the body.
    #[arg(long, env = "FERROSERVE_FETCH_TIMEOUT_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    fetch_timeout_s: Option<u64>,
    #[arg(long, env = "FERROSERVE_MAX_REQUEST_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_request_size: Option<usize>,
    #[arg(long, env = "FERROSERVE_MAX_UPLOAD_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_upload_size: Option<u64>,
    #[arg(long, env = "FERROSERVE_MAX_CONCURRENT_REQUESTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_concurrent_requests: Option<usize>,
    #[arg(long, env = "FERROSERVE_MAX_CONNECTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<usize>,
    #[arg(long, env = "FERROSERVE_HEADER_READ_TIMEOUT_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    header_read_timeout_s: Option<u64>,
    #[arg(long, env = "FERROSERVE_BODY_READ_TIMEOUT_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    body_read_timeout_s: Option<u64>,
    #[arg(long, env = "FERROSERVE_MIN_BODY_BYTES_PER_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    min_body_bytes_per_s: Option<u64>,
    #[arg(long, env = "FERROSERVE_LIMIT_BATCH_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_batch_size: Option<usize>,
    #[arg(long, env = "FERROSERVE_LIMIT_BATCH_DELAY_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_batch_delay_ms: Option<u64>,
    #[arg(long, env = "FERROSERVE_LIMIT_RESPONSE_TIMEOUT_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_response_timeout_s: Option<u64>,
    #[arg(long, env = "FERROSERVE_LIMIT_WORKERS_PER_MODEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_workers_per_model: Option<usize>,
    #[arg(long, env = "FERROSERVE_LIMIT_WORKERS_PER_TENANT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_workers_per_tenant: Option<usize>,
    #[arg(long, env = "FERROSERVE_LIMIT_WORKERS_TOTAL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_workers_total: Option<usize>,
    #[arg(long, env = "FERROSERVE_COMPILE_CACHE_MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_cache_mib: Option<u64>,
    /// Largest handler component accepted for compiling, MiB.
    #[arg(long, env = "FERROSERVE_COMPILE_MAX_COMPONENT_MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_max_component_mib: Option<u64>,
    /// Most functions a handler component may define.
    #[arg(long, env = "FERROSERVE_COMPILE_MAX_FUNCTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_max_functions: Option<u64>,
    /// Largest function body in a handler component, KiB.
    #[arg(long, env = "FERROSERVE_COMPILE_MAX_FUNCTION_KIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_max_function_kib: Option<u64>,
    /// CPU seconds one handler compile may use.
    #[arg(long, env = "FERROSERVE_COMPILE_CPU_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_cpu_s: Option<u64>,
    /// Memory one handler compile may use, MiB.
    #[arg(long, env = "FERROSERVE_COMPILE_MEMORY_MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_memory_mib: Option<u64>,
    /// Wall-clock seconds one handler compile may take.
    #[arg(long, env = "FERROSERVE_COMPILE_TIMEOUT_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_timeout_s: Option<u64>,
    /// Handler compiles at once (0: one per core).
    #[arg(long, env = "FERROSERVE_COMPILE_CONCURRENCY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_concurrency: Option<usize>,
    /// The audit log's size cap, MiB (past it, audit.log becomes audit.log.1).
    #[arg(long, env = "FERROSERVE_AUDIT_LOG_MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_log_mib: Option<u64>,
    /// Whether tenants may register model-store files by name (true or false).
    #[arg(long, env = "FERROSERVE_TENANTS_USE_MODEL_STORE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    tenants_use_model_store: Option<bool>,
    #[arg(long, env = "FERROSERVE_JOB_QUEUE_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    job_queue_size: Option<usize>,
    #[arg(long, env = "FERROSERVE_SANDBOX_THREADS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox_threads: Option<usize>,
    /// Sandbox threads one tenant may hold at once (0: half of them).
    #[arg(long, env = "FERROSERVE_SANDBOX_THREADS_PER_TENANT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox_threads_per_tenant: Option<usize>,
    #[arg(long, env = "FERROSERVE_SANDBOX_QUEUE_DEPTH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox_queue_depth: Option<usize>,
    #[arg(long, env = "FERROSERVE_REQUEST_TIMEOUT_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    request_timeout_s: Option<u64>,
    #[arg(long, env = "FERROSERVE_BATCH_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_size: Option<usize>,
    #[arg(long, env = "FERROSERVE_MAX_BATCH_DELAY_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_batch_delay_ms: Option<u64>,
    #[arg(long, env = "FERROSERVE_MIN_WORKERS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    min_workers: Option<usize>,
    #[arg(long, env = "FERROSERVE_MAX_WORKERS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_workers: Option<usize>,
    #[arg(long, env = "FERROSERVE_RESPONSE_TIMEOUT_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    response_timeout_s: Option<u64>,
    #[arg(long, env = "FERROSERVE_HANDLER_MEMORY_MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    handler_memory_mib: Option<usize>,
    #[arg(long, env = "FERROSERVE_HANDLER_DEADLINE_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    handler_deadline_ms: Option<u64>,
    #[arg(long, env = "FERROSERVE_MAX_HANDLER_MEMORY_MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_handler_memory_mib: Option<usize>,
    #[arg(long, env = "FERROSERVE_MAX_HANDLER_DEADLINE_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_handler_deadline_ms: Option<u64>,
    /// Device for archives that name none: cpu, cuda or cuda:N.
    #[arg(long, env = "FERROSERVE_DEVICE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[arg(long, env = "FERROSERVE_TORCH_THREADS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_threads: Option<usize>,
    /// `process` (tenants' models in cells: worker processes under their limits) or
    /// `in-process`.
    #[arg(long, env = "FERROSERVE_MODEL_ISOLATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    model_isolation: Option<String>,
    /// `true`: fork cells from a zygote that loaded libtorch once; `false`: start each afresh.
    #[arg(long, env = "FERROSERVE_CELL_ZYGOTE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    cell_zygote: Option<bool>,
    /// `none` or `tokens` (tenants and the admin token in STATE_DIR/admin.token).
    #[arg(long, env = "FERROSERVE_AUTH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<String>,
    /// TorchServe's key_file.json: its inference/management keys as bearer tokens.
    #[arg(long, env = "FERROSERVE_KEY_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<PathBuf>,
    /// With auth on, whether /metrics needs a token (true or false).
    #[arg(long, env = "FERROSERVE_METRICS_AUTH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_auth: Option<bool>,
    /// Whether the management API registers and unregisters (true or false).
    #[arg(long, env = "FERROSERVE_MODEL_API")]
    #[serde(skip_serializing_if = "Option::is_none")]
    model_api: Option<bool>,
    /// Whether the metrics listener is served (true or false).
    #[arg(long, env = "FERROSERVE_METRICS_API")]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_api: Option<bool>,
    /// ferroserve or torchserve (TorchServe's series beside ferroserve's).
    #[arg(long, env = "FERROSERVE_METRICS_NAMES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_names: Option<String>,
    /// Write fresh keys to --key-file at every start (true or false).
    #[arg(long, env = "FERROSERVE_CREATE_KEY_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    create_key_file: Option<bool>,
    /// json or text.
    #[arg(long, env = "FERROSERVE_LOG_FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<String>,
}

/// The effective configuration and, when it came from a `config.properties`, what became
/// of each TorchServe key (logged once logging is up).
pub struct Effective {
    pub config: ServerConfig,
    pub torchserve: Option<(PathBuf, Vec<Note>)>,
}

/// TorchServe's file (translated), then the TOML file, then environment and flags (clap has
/// already layered those two).
pub fn effective_config(args: &ServeArgs) -> anyhow::Result<Effective> {
    let (mut base, torchserve) = match ts_config_path(args) {
        Some(path) => {
            let (table, notes) = read_ts_config(&path, args)?;
            (table, Some((path, notes)))
        }
        None => (toml::Table::new(), None),
    };
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        let file = toml::from_str::<toml::Table>(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        base.extend(file);
    }
    let mut overrides = toml::Table::try_from(args).context("collecting flags")?;
    if args.no_snapshot {
        overrides.insert("snapshot".into(), toml::Value::Boolean(false));
    }
    let files: Vec<String> = torchserve
        .iter()
        .map(|(p, _)| p.display().to_string())
        .chain(args.config.iter().map(|p| p.display().to_string()))
        .collect();
    let origin = match files.as_slice() {
        [] => "flags".to_owned(),
        files => format!("{} and flags", files.join(", ")),
    };
    let config = ServerConfig::layered(base, overrides)
        .map_err(|e| anyhow::anyhow!("invalid configuration ({origin}): {e}"))?;
    Ok(Effective { config, torchserve })
}

/// TorchServe's rule: `TS_CONFIG_FILE` in the environment wins over `--ts-config`.
fn ts_config_path(args: &ServeArgs) -> Option<PathBuf> {
    std::env::var_os("TS_CONFIG_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| args.ts_config.clone())
}

/// Reads and translates a `config.properties`. TorchServe's own flags write into the
/// properties before its `TS_*` variables are applied, as TorchServe does.
fn read_ts_config(path: &Path, args: &ServeArgs) -> anyhow::Result<(toml::Table, Vec<Note>)> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "--ts-config file not found or unreadable: {}",
            path.display()
        )
    })?;
    // Java reads properties as ISO-8859-1: every byte is one character.
    let text: String = bytes.iter().map(|&b| b as char).collect();
    let mut props = torchserve_config::parse_properties(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a properties file: {e}", path.display()))?;
    if args.disable_token_auth {
        props.insert("disable_token_authorization".into(), "true".into());
    }
    if args.enable_model_api {
        props.insert("enable_model_api".into(), "true".into());
    }
    let t = torchserve_config::translate(props, std::env::vars())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((t.table, t.notes))
}

/// One log line per TorchServe key: mapped, ignored (why), or unknown.
fn log_notes(path: &Path, notes: &[Note]) {
    for note in notes {
        match &note.outcome {
            Outcome::Mapped(keys) => {
                tracing::info!(file = %path.display(), key = %note.key, becomes = ?keys, "TorchServe key mapped")
            }
            Outcome::Ignored(why) => {
                tracing::warn!(file = %path.display(), key = %note.key, why, "TorchServe key ignored")
            }
            Outcome::Unknown => {
                tracing::warn!(file = %path.display(), key = %note.key, "not a TorchServe key; ignored, as TorchServe does")
            }
        }
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    let Effective {
        mut config,
        torchserve,
    } = effective_config(&args)?;
    if args.print_config {
        print!("{}", toml::to_string(&config)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    // Handlers compile in a child process of this same binary, under the compile limits.
    config.compiler = Some(ferroserve_sandbox::CompilerCommand {
        program: std::env::current_exe().context("finding the server's own binary")?,
        args: vec!["compile-handler".into()],
    });
    crate::logging::init(&config.log_format)?;
    if let Some((path, notes)) = &torchserve {
        log_notes(path, notes);
    }
    crate::allocator::tune();
    let device = config
        .device
        .parse()
        .map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let torch = TorchRuntime {
        default_device: device,
        intra_op_threads: config.torch_threads,
    };
    let runtime: Arc<dyn ModelRuntime> = match config.model_isolation.as_str() {
        "in-process" => {
            tracing::warn!(
                "model_isolation = \"in-process\": tenants' TorchScript runs inside the server, unlimited; use \"process\" unless every model is trusted"
            );
            Arc::new(torch)
        }
        "process" => Arc::new(crate::cells::CellRuntime::start(&config, device)?),
        other => anyhow::bail!(
            "model_isolation = {other:?}: use \"process\" (models in cells) or \"in-process\""
        ),
    };
    tracing::info!(config = %serde_json::to_string(&config)?, "effective configuration");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    tokio.block_on(serve_edges(config, runtime))?;
    tracing::info!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// The REST edge and the gRPC edge over one core: both bind, the core starts once (so
/// neither answers before the start-up models are loaded), one signal stops both, and
/// the core drains once both have finished their calls in flight.
async fn serve_edges(config: ServerConfig, runtime: Arc<dyn ModelRuntime>) -> anyhow::Result<()> {
    let app = ferroserve_http::App::build(config, runtime)?;
    let core = app.core.clone();
    let rest = app.bind().await?;
    let grpc = match core.config.grpc_api {
        true => Some(ferroserve_grpc::Grpc::new(core.clone()).bind().await?),
        false => None,
    };
    core.start()
        .await
        .map_err(ferroserve_http::ServeError::from)?;
    let bound = rest.bound;
    let metrics = bound
        .metrics
        .map_or("off".to_owned(), |a| format!("http://{a}"));
    let (grpc_inference, grpc_management) = match &grpc {
        Some(g) => (
            g.bound.inference.to_string(),
            g.bound.management.to_string(),
        ),
        None => ("off".to_owned(), "off".to_owned()),
    };
    tracing::info!(inference = %bound.inference, management = %bound.management, %metrics, %grpc_inference, %grpc_management, "listening");
    // For scripts and tests: one line on stdout with the bound addresses.
    println!(
        "ferroserve listening: inference=http://{} management=http://{} metrics={metrics} grpc_inference={grpc_inference} grpc_management={grpc_management}",
        bound.inference, bound.management
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut stop = stop_rx.clone();
        async move {
            let _ = stop.wait_for(|s| *s).await;
        }
    };
    let grpc_served = async {
        match grpc {
            Some(g) => g.serve(stopped()).await.map_err(anyhow::Error::from),
            None => Ok(()),
        }
    };
    let rest_served = async { rest.serve(stopped()).await.map_err(anyhow::Error::from) };
    tokio::try_join!(rest_served, grpc_served)?;
    tracing::info!("listeners closed; draining model queues");
    core.shutdown().await;
    Ok(())
}

/// SIGTERM or SIGINT: stop accepting, finish what is in flight, exit.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    let which = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(
        signal = which,
        "shutting down: no new connections; finishing in-flight requests"
    );
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn effective(file: &str, flags: &[&str]) -> anyhow::Result<ServerConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferroserve.toml");
        std::fs::write(&path, file).unwrap();
        let config = format!("--config={}", path.display());
        let argv = ["ferroserve", config.as_str()]
            .into_iter()
            .chain(flags.iter().copied());
        Ok(effective_config(&Cli::try_parse_from(argv)?.args)?.config)
    }

    /// One test, so no other test of this binary reads the environment while it changes.
    #[test]
    fn the_file_then_the_environment_then_flags() {
        let file = "batch_size = 8\nmax_workers = 3\nmin_workers = 2";
        // SAFETY: the only test in this binary that touches the environment.
        unsafe { std::env::set_var("FERROSERVE_BATCH_SIZE", "4") };
        unsafe { std::env::set_var("FERROSERVE_MAX_WORKERS", "5") };
        let c = effective(file, &["--batch-size", "2"]).unwrap();
        assert_eq!(c.batch_size, 2, "a flag beats the environment");
        assert_eq!(c.max_workers, 5, "the environment beats the file");
        assert_eq!(c.min_workers, 2, "the file beats the defaults");
        assert_eq!(
            c.max_batch_delay_ms,
            ServerConfig::default().max_batch_delay_ms
        );
        unsafe { std::env::set_var("FERROSERVE_BATCH_SIZE", "many") };
        assert!(
            effective(file, &[]).is_err(),
            "a bad environment value is refused"
        );
        unsafe { std::env::remove_var("FERROSERVE_BATCH_SIZE") };
        unsafe { std::env::remove_var("FERROSERVE_MAX_WORKERS") };
        let e = effective("bach_size = 1", &[]).unwrap_err().to_string();
        assert!(e.contains("bach_size"), "{e}");
        let c = effective("", &["--no-snapshot"]).unwrap();
        assert!(!c.snapshot);
    }
}
