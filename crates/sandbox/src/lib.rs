//! The sandbox that runs tenants' untrusted handlers: one wasmtime engine per process
//! (pooling allocator, copy-on-write memory images, epoch deadlines), components compiled
//! once under compile limits (static checks, then a child process under CPU, memory and
//! wall-clock limits: `compile/`) and cached on disk by content hash while a handler uses
//! them, one `InstancePre` per handler and a fresh store and instance per call, under
//! per-handler limits (memory cap, CPU deadline, output size, bounded stdout/stderr). The only filesystem a handler sees is a read-only view
//! of its archive's files at `/`; no network, environment, arguments or stdin.
//!
//! Every outcome is typed ([`SandboxError::kind`]); the server maps kinds to HTTP statuses.
//! The handler contract is `wit/handler-0.2.0.wit` (0.1.0 components still load: the
//! component's exports pick the bindings, `world.rs`); the guest SDKs are `handlers-sdk`
//! (Rust), `handlers-sdk-python` and `handlers-sdk-js`; archives (where the component and
//! its files come from) are `ferroserve-archive`. The runtime a component carries
//! (compiled, CPython, SpiderMonkey) is detected at load and picks per-runtime defaults.
//!
//! A call through the async API runs on a sandbox thread inside the span current where it
//! was awaited, so what it logs (the `log` import, captured stdout/stderr, its failure)
//! carries the request's id.

mod bindings;
mod cache;
mod capture;
mod clocks;
mod compat;
mod compile;
mod convert;
mod engine;
mod error;
mod executor;
mod handler;
pub mod headers;
mod host;
mod lanes;
mod limits;
mod runtime;
mod share;
mod trim;
mod world;

use std::path::Path;
use std::sync::Arc;

use ferroserve_tensor::Tensor;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use compile::compile_handler_main;
pub use convert::{FormField, HandlerRequest, HandlerResponse, Prepared};
pub use engine::Allocator;
pub use error::{CompileLimit, SandboxError};
use executor::Executor;
pub use handler::CallReport;
use handler::HandlerInner;
use host::{FilesDir, HostState};
pub use limits::{CompileLimits, CompilerCommand, Limits, SandboxConfig};
pub use runtime::Runtime;
pub use world::WORLD_VERSIONS;

/// The process-wide sandbox. Cheap to share behind an `Arc`; dropping the last handle
/// stops its threads.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    cache: cache::CompileCache,
    executor: Arc<Executor>,
    allocator: Allocator,
    config: SandboxConfig,
    share: Arc<share::Share>,
    _ticker: engine::Ticker,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let (engine, allocator) = engine::build(&config)?;
        let linker = handler::linker(&engine).map_err(|e| SandboxError::Engine(e.to_string()))?;
        let compiler = compile::Compiler::new(config.compile.clone(), config.compiler.clone());
        let cache = cache::CompileCache::new(
            &engine,
            config.cache_dir.clone(),
            config.cache_max_bytes,
            compiler,
        )?;
        let executor =
            Executor::start(config.threads, config.queue_depth, config.threads_per_group)
                .map_err(|e| SandboxError::Engine(format!("cannot start sandbox threads: {e}")))?;
        let ticker = engine::Ticker::start(engine.clone(), config.epoch_tick);
        Ok(Sandbox {
            engine,
            linker,
            cache,
            executor: Arc::new(executor),
            allocator,
            config,
            share: Arc::new(share::Share::for_this_machine()),
            _ticker: ticker,
        })
    }

    /// Compiled handlers' cache files outlive their last user from now on: the server is
    /// stopping, and a restart restores its models from them instead of recompiling.
    pub fn keep_compiled(&self) {
        self.cache.keep_entries();
    }

    /// Which instance allocator the engine got (pooling unless its reservation failed).
    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    /// Compile (or fetch from the cache) and check a handler component. The check that it
    /// implements the handler world happens here, not at the first request. The handler
    /// joins the default share group.
    pub fn load(
        &self,
        name: &str,
        wasm: &[u8],
        files: Option<&Path>,
        limits: Limits,
    ) -> Result<Handler, SandboxError> {
        self.load_in("", name, wasm, files, limits)
    }

    /// [`Sandbox::load`] into a named share group (one per tenant): while other groups are
    /// busy, a group's calls that run past 10 ms are throttled (one at a time per 4 cores,
    /// a tenth of a core each) instead of taking the machine.
    pub fn load_in(
        &self,
        group: &str,
        name: &str,
        wasm: &[u8],
        files: Option<&Path>,
        limits: Limits,
    ) -> Result<Handler, SandboxError> {
        if limits.memory_bytes > self.config.max_memory_bytes {
            return Err(SandboxError::LimitTooHigh {
                requested: limits.memory_bytes,
                ceiling: self.config.max_memory_bytes,
            });
        }
        let files = files
            .map(|p| {
                FilesDir::open(p).map_err(|e| SandboxError::FilesDir {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let (component, compiled) = self.cache.get(&self.engine, wasm)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| SandboxError::WorldMismatch(format!("{e:#}")))?;
        let pre = world::WorldPre::bind(&self.engine, &component, pre)?;
        let runtime = Runtime::detect(wasm);
        let inner = HandlerInner {
            name: name.into(),
            pre,
            runtime,
            demote_after: runtime.demote_after(),
            limits,
            files,
            engine: self.engine.clone(),
            pool_capacity: self.executor.capacity(),
            ran_long: Default::default(),
            group: self.share.group(group),
            throttled_us: Default::default(),
            _compiled: compiled,
        };
        // The world matched by name; its exports' types are checked only when an instance
        // binds them, so bind one now rather than fail every call.
        inner.check_exports()?;
        Ok(Handler {
            inner: Arc::new(inner),
            executor: self.executor.clone(),
        })
    }
}

/// A loaded handler. Clones share the compiled code.
#[derive(Clone)]
pub struct Handler {
    inner: Arc<HandlerInner>,
    executor: Arc<Executor>,
}

impl Handler {
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The contract version the component implements (`0.2.0` or `0.1.0`).
    pub fn world_version(&self) -> &'static str {
        self.inner.pre.version()
    }

    /// The language runtime detected in the component.
    pub fn runtime(&self) -> Runtime {
        self.inner.runtime
    }

    /// Whether a call ran past the normal-priority slice (10 ms) in the last second; such a
    /// handler's calls start at idle CPU priority.
    pub fn runs_long(&self) -> bool {
        self.inner.ran_long.recently()
    }

    /// Time this handler's calls have spent throttled for other share groups, in total.
    pub fn throttled_total(&self) -> std::time::Duration {
        std::time::Duration::from_micros(
            self.inner
                .throttled_us
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Run `preprocess` in a fresh instance on a sandbox thread.
    pub async fn preprocess(&self, request: HandlerRequest) -> Result<Prepared, SandboxError> {
        let inner = self.inner.clone();
        self.executor
            .run(&self.inner.group.name, move || inner.preprocess(request).0)
            .await?
    }

    /// Run `postprocess` in a fresh instance on a sandbox thread.
    pub async fn postprocess(
        &self,
        outputs: Vec<Tensor>,
        context: Vec<u8>,
    ) -> Result<HandlerResponse, SandboxError> {
        let inner = self.inner.clone();
        self.executor
            .run(&self.inner.group.name, move || {
                inner.postprocess(&outputs, &context).0
            })
            .await?
    }

    /// `preprocess` on the calling thread, with the call's report. For benchmarks and
    /// tests; servers use the async form, which keeps wasm off the runtime.
    pub fn preprocess_blocking(
        &self,
        request: HandlerRequest,
    ) -> (Result<Prepared, SandboxError>, CallReport) {
        self.inner.preprocess(request)
    }

    /// `postprocess` on the calling thread, with the call's report.
    pub fn postprocess_blocking(
        &self,
        outputs: &[Tensor],
        context: &[u8],
    ) -> (Result<HandlerResponse, SandboxError>, CallReport) {
        self.inner.postprocess(outputs, context)
    }
}
