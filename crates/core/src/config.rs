//! The server's configuration: every key, its default and what it means. The binary fills
//! it from a TOML file, `FERROSERVE_*` environment variables and flags (in rising order of
//! precedence); unknown keys are errors so a typo cannot silently fall back to a default.
//! docs/configuration.md lists the same keys for operators.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::Duration;

use ferroserve_sandbox::{CompileLimits, CompilerCommand, Limits};
use serde::{Deserialize, Serialize};

use crate::ModelDefaults;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Inference API listener (TorchServe's 8080). Port 0 picks a free port.
    pub inference_address: SocketAddr,
    /// Management API listener (8081).
    pub management_address: SocketAddr,
    /// Metrics listener (8082).
    pub metrics_address: SocketAddr,
    /// gRPC inference listener (TorchServe's 7070): TorchServe's inference service and
    /// KServe v2 / Triton's `GRPCInferenceService`.
    pub grpc_inference_address: SocketAddr,
    /// gRPC management listener (7071): TorchServe's management service.
    pub grpc_management_address: SocketAddr,
    /// Whether the gRPC listeners are served at all.
    pub grpc_api: bool,
    /// Directory of `.mar` files that registrations may name; never written.
    pub model_store: Option<PathBuf>,
    /// Whether tenants (with `auth = "tokens"`) may register model-store files by name;
    /// the operator always may.
    pub tenants_use_model_store: bool,
    /// Models to load at start: `NAME=FILE.mar`, `FILE.mar`, or `all` (every archive in the
    /// model store).
    pub models: Vec<String>,
    /// Models to load at start with their settings (what TorchServe's `model_snapshot`
    /// holds); after `models`.
    pub startup_models: Vec<StartupModel>,
    /// Snapshot, kept archives and extracted model files.
    pub state_dir: PathBuf,
    /// Save registrations and restore them at start.
    pub snapshot: bool,
    /// URL prefixes registrations may fetch archives from (`http://`, `https://`,
    /// `s3://`), matched against the URL as written; empty: no remote fetch.
    pub allowed_urls: Vec<String>,
    /// A PEM file of CA certificates trusted for `https://` fetches, besides the built-in
    /// webpki roots (Mozilla's list).
    pub fetch_ca_file: Option<PathBuf>,
    /// Where `s3://bucket/key` URLs are fetched from: `{s3_endpoint}/{bucket}/{key}`,
    /// unsigned (public objects; presigned URLs are plain `https://`).
    pub s3_endpoint: String,
    /// How long a fetch waits for the response and, after it, for each next part of the
    /// body, in seconds.
    pub fetch_timeout_s: u64,
    /// Largest request body on the inference listener, in bytes (TorchServe's default);
    /// also the largest gRPC message either gRPC listener decodes.
    pub max_request_size: usize,
    /// Largest archive upload or fetch, in bytes.
    pub max_upload_size: u64,
    /// A whole request's time limit on every listener, in seconds.
    pub request_timeout_s: u64,
    /// Requests in flight per listener; beyond it, 503 with Retry-After at once.
    pub max_concurrent_requests: usize,
    /// Open connections per REST listener; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a REST connection may take to send a request head, counted from when it
    /// starts waiting for one (so also the keep-alive idle timeout), in seconds.
    pub header_read_timeout_s: u64,
    /// The longest pause between two parts of a request body, in seconds.
    pub body_read_timeout_s: u64,
    /// The slowest average a request body may arrive at, once `body_read_timeout_s` has
    /// passed (0: no minimum).
    pub min_body_bytes_per_s: u64,
    /// Defaults for registrations that neither ask nor carry a model config.
    pub batch_size: usize,
    pub max_batch_delay_ms: u64,
    pub min_workers: usize,
    pub max_workers: usize,
    pub response_timeout_s: u64,
    /// Requests a model's queue holds before 503 (TorchServe's `job_queue_size`).
    pub job_queue_size: usize,
    /// Ceilings (the limits table, docs/configuration.md): the largest value any
    /// registration, scale request or archive config may set.
    pub limit_batch_size: usize,
    pub limit_batch_delay_ms: u64,
    pub limit_response_timeout_s: u64,
    /// Workers (threads) of one model version, of one tenant's models together, and of
    /// the whole server; a registration or scale past them is refused, changing nothing.
    pub limit_workers_per_model: usize,
    pub limit_workers_per_tenant: usize,
    pub limit_workers_total: usize,
    /// Handler limits for archives that ask for none.
    pub handler_memory_mib: usize,
    pub handler_deadline_ms: u64,
    /// The most any archive's handler may ask for.
    pub max_handler_memory_mib: usize,
    pub max_handler_deadline_ms: u64,
    /// Threads that run handlers (0: four per core).
    pub sandbox_threads: usize,
    /// Sandbox threads one tenant's calls may hold at once (0: half of them, at least one);
    /// its further calls wait their turn without holding one.
    pub sandbox_threads_per_tenant: usize,
    /// Handler calls that may wait for a sandbox thread before 503.
    pub sandbox_queue_depth: usize,
    /// The most the compiled-handler cache keeps on disk, MiB (oldest entries go first).
    pub compile_cache_mib: u64,
    /// Compile limits, checked before any compile: a handler component's size (MiB), the
    /// functions it defines, its largest function (KiB). Past one: 400
    /// `HandlerCompileLimitExceeded` naming it.
    pub compile_max_component_mib: u64,
    pub compile_max_functions: u64,
    pub compile_max_function_kib: u64,
    /// The compiler process's CPU seconds, data memory (MiB) and wall-clock seconds.
    pub compile_cpu_s: u64,
    pub compile_memory_mib: u64,
    pub compile_timeout_s: u64,
    /// Compiles at once, server-wide (0: one per core); further ones wait their turn.
    pub compile_concurrency: usize,
    /// Not a key: how to start the compiler process (`ferroserve compile-handler`, set by
    /// the binary). `None` compiles in the server process, after the static checks only.
    #[serde(skip)]
    pub compiler: Option<CompilerCommand>,
    /// The audit log's size cap, MiB: past it, `audit.log` becomes `audit.log.1`.
    pub audit_log_mib: u64,
    /// Device for models whose archive names none: `cpu` or `cuda:N`.
    pub device: String,
    /// libtorch intra-op threads per model worker (0: libtorch's default split).
    pub torch_threads: usize,
    /// Where TorchScript runs: `process` (each tenant's models in a cell, a worker process
    /// of its own under the tenant's model limits; the shared namespace has one more) or
    /// `in-process` (inside the server: for a trusted, single-tenant setup).
    pub model_isolation: String,
    /// Where cells' cgroups are made (v2 or v1 found there; empty: rlimits only).
    pub cell_cgroup_root: String,
    /// Fork cells from a zygote that loaded libtorch once (false: each cell is a fresh
    /// `exec` of the binary, ~200 MB more private memory and slower to start).
    pub cell_zygote: bool,
    /// The shared namespace's cell: memory cap, MiB (0: none).
    pub shared_model_memory_mib: u64,
    /// The shared namespace's cell: threads and processes (0: no cap).
    pub shared_model_threads: u64,
    /// The shared namespace's cell: CPU in percent of one core (0: no cap).
    pub shared_model_cpu_percent: u64,
    /// Log format: `json` (one object per line) or `text`.
    pub log_format: String,
    /// `none` (no tokens: single tenant, keep the listeners on loopback) or `tokens`
    /// (tenants' tokens and the admin token in `<state_dir>/admin.token`, made at first start).
    pub auth: String,
    /// TorchServe's `key_file.json` (its inference and management keys are accepted as
    /// `Authorization: Bearer` on their APIs); turns auth on by itself.
    pub key_file: Option<PathBuf>,
    /// Write fresh keys to `key_file` at every start (TorchServe's token authorization).
    pub create_key_file: bool,
    /// With `auth = "tokens"`, whether /metrics needs a token too (a tenant's token sees its
    /// own models' series only). TorchServe's keys never guard /metrics.
    pub metrics_auth: bool,
    /// Whether the management API may register and unregister models (TorchServe's
    /// `enable_model_api`). Scale, describe and list are always served.
    pub model_api: bool,
    /// Whether the metrics listener is served at all (TorchServe's `enable_metrics_api`).
    pub metrics_api: bool,
    /// `ferroserve` (promtool-clean names) or `torchserve` (also TorchServe's own series:
    /// `Requests2XX`, `ts_inference_latency_microseconds`, system metrics).
    pub metrics_names: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        // One place for the compile defaults: the sandbox's.
        let compile = CompileLimits::default();
        ServerConfig {
            inference_address: ([127, 0, 0, 1], 8080).into(),
            management_address: ([127, 0, 0, 1], 8081).into(),
            metrics_address: ([127, 0, 0, 1], 8082).into(),
            grpc_inference_address: ([127, 0, 0, 1], 7070).into(),
            grpc_management_address: ([127, 0, 0, 1], 7071).into(),
            grpc_api: true,
            model_store: None,
            tenants_use_model_store: false,
            models: Vec::new(),
            startup_models: Vec::new(),
            state_dir: PathBuf::from("ferroserve-state"),
            snapshot: true,
            allowed_urls: Vec::new(),
            fetch_ca_file: None,
            s3_endpoint: "https://s3.amazonaws.com".into(),
            fetch_timeout_s: 30,
            max_request_size: 6_553_500,
            max_upload_size: 2 << 30,
            request_timeout_s: 300,
            max_concurrent_requests: 1024,
            max_connections: 4096,
            header_read_timeout_s: 30,
            body_read_timeout_s: 10,
            min_body_bytes_per_s: 1024,
            batch_size: 1,
            max_batch_delay_ms: 100,
            min_workers: 1,
            max_workers: 1,
            response_timeout_s: 120,
            job_queue_size: 100,
            limit_batch_size: 1024,
            limit_batch_delay_ms: 60_000,
            limit_response_timeout_s: 3600,
            limit_workers_per_model: 32,
            limit_workers_per_tenant: 64,
            limit_workers_total: 256,
            handler_memory_mib: 128,
            handler_deadline_ms: 2000,
            max_handler_memory_mib: 1024,
            max_handler_deadline_ms: 30_000,
            sandbox_threads: 0,
            sandbox_threads_per_tenant: 0,
            sandbox_queue_depth: 256,
            compile_cache_mib: 1024,
            compile_max_component_mib: compile.max_component_bytes >> 20,
            compile_max_functions: compile.max_functions,
            compile_max_function_kib: compile.max_function_bytes >> 10,
            compile_cpu_s: compile.cpu_seconds,
            compile_memory_mib: compile.memory_bytes >> 20,
            compile_timeout_s: compile.timeout.as_secs(),
            compile_concurrency: compile.concurrency,
            compiler: None,
            audit_log_mib: 64,
            device: "cpu".into(),
            torch_threads: 0,
            model_isolation: "process".into(),
            cell_cgroup_root: "/sys/fs/cgroup".into(),
            cell_zygote: true,
            shared_model_memory_mib: 0,
            shared_model_threads: 0,
            shared_model_cpu_percent: 0,
            log_format: "json".into(),
            auth: "none".into(),
            key_file: None,
            create_key_file: false,
            metrics_auth: true,
            model_api: true,
            metrics_api: true,
            metrics_names: "ferroserve".into(),
        }
    }
}

/// One model to load at start, with the settings a registration would give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartupModel {
    /// The name to serve it under.
    pub name: String,
    /// A file in the model store (or an allowed URL).
    pub archive: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_workers: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_workers: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_timeout_s: Option<u64>,
    /// Make this version the model's default once loaded.
    #[serde(default)]
    pub default_version: bool,
}

impl ServerConfig {
    /// Parses a TOML document; unknown keys and wrong types name the key.
    pub fn from_toml(text: &str) -> Result<ServerConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The file's keys, then `overrides` (the environment and flags, already layered by
    /// the command line) key by key, checked as one config: a wrong key or type is named
    /// wherever it came from.
    pub fn layered(file: toml::Table, overrides: toml::Table) -> Result<ServerConfig, String> {
        let mut table = file;
        table.extend(overrides);
        table.try_into().map_err(|e: toml::de::Error| e.to_string())
    }

    /// Defaults and ceilings for models, from these keys alone.
    pub fn model_defaults(&self) -> ModelDefaults {
        ModelDefaults {
            batch_size: self.batch_size,
            max_batch_delay: Duration::from_millis(self.max_batch_delay_ms),
            min_workers: self.min_workers,
            max_workers: self.max_workers,
            response_timeout: Duration::from_secs(self.response_timeout_s),
            queue_capacity: self.job_queue_size,
            handler: Limits {
                memory_bytes: self.handler_memory_mib << 20,
                deadline: Duration::from_millis(self.handler_deadline_ms),
                ..Limits::default()
            },
            max_handler_deadline: Duration::from_millis(self.max_handler_deadline_ms),
            archive: ferroserve_archive::ReadLimits {
                max_archive_bytes: self.max_upload_size,
                ..Default::default()
            },
            ceilings: crate::bounds::Ceilings {
                batch_size: self.limit_batch_size as u64,
                batch_delay_ms: self.limit_batch_delay_ms,
                response_timeout_s: self.limit_response_timeout_s,
                workers_per_model: self.limit_workers_per_model as u64,
                workers_per_tenant: self.limit_workers_per_tenant as u64,
                workers_total: self.limit_workers_total as u64,
            },
            shared_model_limits: crate::ModelLimits {
                memory_bytes: (self.shared_model_memory_mib > 0)
                    .then(|| self.shared_model_memory_mib.saturating_mul(1 << 20)),
                threads: (self.shared_model_threads > 0).then_some(self.shared_model_threads),
                cpu_percent: (self.shared_model_cpu_percent > 0)
                    .then_some(self.shared_model_cpu_percent),
            },
        }
    }

    /// The compile limits, from these keys alone.
    pub fn compile_limits(&self) -> CompileLimits {
        CompileLimits {
            max_component_bytes: self.compile_max_component_mib.saturating_mul(1 << 20),
            max_functions: self.compile_max_functions,
            max_function_bytes: self.compile_max_function_kib.saturating_mul(1 << 10),
            cpu_seconds: self.compile_cpu_s,
            memory_bytes: self.compile_memory_mib.saturating_mul(1 << 20),
            timeout: Duration::from_secs(self.compile_timeout_s),
            concurrency: self.compile_concurrency,
        }
    }

    /// Handler threads: `sandbox_threads`, or four per core. Four, so that one tenant's
    /// long-running calls (demoted to the idle class, see the sandbox's executor) cannot
    /// hold every thread while others wait.
    pub fn sandbox_thread_count(&self) -> usize {
        match self.sandbox_threads {
            0 => 4 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let e = ServerConfig::from_toml("max_request_sise = 10").unwrap_err();
        assert!(e.contains("max_request_sise"), "{e}");
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn overrides_win_over_the_file_key_by_key() {
        let c = ServerConfig::layered(
            table("batch_size = 8\nmax_workers = 3"),
            table("batch_size = 2"),
        )
        .unwrap();
        assert_eq!((c.batch_size, c.max_workers), (2, 3));
    }

    #[test]
    fn a_bad_override_is_named() {
        let e = ServerConfig::layered(table(""), table("batch_size = \"many\"")).unwrap_err();
        assert!(e.contains("batch_size"), "{e}");
        let e = ServerConfig::layered(table("bach_size = 1"), table("")).unwrap_err();
        assert!(e.contains("bach_size"), "{e}");
    }

    #[test]
    fn model_defaults_come_from_the_config() {
        let c = ServerConfig::default();
        let d = c.model_defaults();
        assert_eq!(
            d.response_timeout,
            Duration::from_secs(c.response_timeout_s)
        );
        assert_eq!(d.queue_capacity, c.job_queue_size);
        assert_eq!(d.handler.memory_bytes, c.handler_memory_mib << 20);
        assert_eq!(c.compile_limits(), CompileLimits::default());
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let c =
            ServerConfig::from_toml("batch_size = 8\nallowed_urls = [\"http://models.internal/\"]")
                .unwrap();
        assert_eq!(c.batch_size, 8);
        assert_eq!(c.allowed_urls, vec!["http://models.internal/".to_string()]);
        assert_eq!(c.max_request_size, ServerConfig::default().max_request_size);
    }
}
