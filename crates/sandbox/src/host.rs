//! The per-call store state: the WASI context (no network, no env, read-only files),
//! a memory limiter that remembers why it said no, bounded stdio capture and the `log`
//! import.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::Level;
use crate::bindings::v1::ferroserve::handler as v1;
use crate::bindings::v2::ferroserve::handler::{log, types};
use crate::capture::Capture;
use crate::limits::Limits;

/// Longest log message kept from one `log` call.
const MAX_LOG_MESSAGE: usize = 4096;
/// `log` calls forwarded per handler call; later ones are counted and dropped.
const MAX_LOG_CALLS: u32 = 256;
/// Host resources (open files, directory streams, byte streams, pollables) one call may
/// hold at once. Each open file is a host descriptor; without a cap a handler opening its
/// archive's files in a loop took every descriptor the process had. A Rust, Python or JS
/// handler uses under 20 for its stdio and preopens.
pub(crate) const MAX_CALL_RESOURCES: usize = 256;

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    model: Arc<str>,
    log_calls: u32,
    /// The call's standing in its share group (share.rs), for the epoch callback.
    pub(crate) ticket: Option<crate::share::Ticket>,
    /// The call's wall-clock deadline: clock waits end there (clocks.rs).
    pub(crate) until: Option<std::time::Instant>,
    pub(crate) clock: CallClock,
}

impl HostState {
    pub(crate) fn new(
        model: Arc<str>,
        limits: &Limits,
        files: Option<&FilesDir>,
    ) -> wasmtime::Result<HostState> {
        let stdout = Capture::new(limits.max_log_bytes);
        let stderr = Capture::new(limits.max_log_bytes);
        let mut b = WasiCtxBuilder::new();
        // Deny-by-default is the builder's default; spell out the network part anyway.
        b.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        b.stdout(stdout.clone()).stderr(stderr.clone());
        let clock = CallClock(std::time::Instant::now());
        b.monotonic_clock(clock);
        if let Some(dir) = files {
            b.preopened_dir(&dir.0, "/", FsPerms::ReadOnly)?;
        }
        Ok(HostState {
            wasi: b.build(),
            table: {
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_CALL_RESOURCES);
                table
            },
            limiter: MemoryLimiter::new(limits.memory_bytes),
            stdout,
            stderr,
            model,
            log_calls: 0,
            ticket: None,
            until: None,
            clock,
        })
    }
}

/// The guest's monotonic clock: nanoseconds since the call's store was made. Ours, so a
/// `subscribe-instant` can be turned into a wait of known length (`clocks.rs`).
#[derive(Clone, Copy)]
pub(crate) struct CallClock(pub(crate) std::time::Instant);

impl wasmtime_wasi::HostMonotonicClock for CallClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The archive's files directory, checked when the handler loads so that a missing one is
/// a load error rather than a failure at every request.
#[derive(Debug, Clone)]
pub(crate) struct FilesDir(PathBuf);

impl FilesDir {
    pub(crate) fn open(path: &Path) -> std::io::Result<FilesDir> {
        if !std::fs::metadata(path)?.is_dir() {
            return Err(std::io::Error::other("not a directory"));
        }
        Ok(FilesDir(path.canonicalize()?))
    }
}

impl HostState {
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The `types` interface has no functions; the bindings still ask for its (empty) trait.
impl types::Host for HostState {}
impl v1::types::Host for HostState {}

/// A 0.1.0 handler logs through the same path.
impl v1::log::Host for HostState {
    fn log(&mut self, level: v1::log::Level, message: String) {
        log::Host::log(self, crate::compat::level(level), message)
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: Level, mut message: String) {
        self.log_calls += 1;
        if self.log_calls > MAX_LOG_CALLS {
            return;
        }
        if message.len() > MAX_LOG_MESSAGE {
            let mut end = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str("…(truncated)");
        }
        let model = &*self.model;
        match level {
            Level::Trace => tracing::trace!(target: "handler", model, "{message}"),
            Level::Debug => tracing::debug!(target: "handler", model, "{message}"),
            Level::Info => tracing::info!(target: "handler", model, "{message}"),
            Level::Warn => tracing::warn!(target: "handler", model, "{message}"),
            Level::Error => tracing::error!(target: "handler", model, "{message}"),
        }
    }
}

/// Caps linear memory and records a refusal, so a trap that follows it (the guest's
/// allocator aborting) is reported as the memory limit rather than a generic trap.
pub(crate) struct MemoryLimiter {
    cap: usize,
    pub(crate) refused: bool,
}

impl MemoryLimiter {
    fn new(cap: usize) -> Self {
        MemoryLimiter {
            cap,
            refused: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}
