//! Per-handler limits and the process-wide sandbox settings.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::compile::{CompileLimits, CompilerCommand};

/// What one handler may use in one call. Operators set ceilings; a tenant's archive may
/// ask for less, never more (the server enforces that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Cap on the instance's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call while it runs on a sandbox thread (epoch-enforced,
    /// so it overshoots by at most one epoch tick).
    pub deadline: Duration,
    /// Cap on what one call returns: tensor bytes plus context, or the response body.
    pub max_output_bytes: usize,
    /// Bytes of stdout and of stderr kept per call; the rest is counted and dropped.
    pub max_log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            deadline: Duration::from_secs(2),
            max_output_bytes: 64 << 20,
            max_log_bytes: 64 << 10,
        }
    }
}

/// Process-wide settings: one engine, one thread pool, one compiled-code cache.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where compiled components are cached by content hash; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// The most bytes the disk cache keeps: past it, the least recently written entries go
    /// (a loaded handler keeps its compiled form in memory; only a restart recompiles).
    pub cache_max_bytes: u64,
    /// Threads that run handler calls; also the number of instances alive at once.
    pub threads: usize,
    /// Calls that may wait for a thread; beyond `threads + queue_depth` a call is refused
    /// at once with [`crate::SandboxError::PoolExhausted`] instead of queueing unboundedly.
    pub queue_depth: usize,
    /// Threads one share group (a tenant) may hold at once; its further calls wait their
    /// turn without holding one. 0: half the threads, at least one.
    pub threads_per_group: usize,
    /// Epoch tick: deadlines are enforced with this granularity.
    pub epoch_tick: Duration,
    /// Largest memory cap any handler may get; sizes the pooling allocator's slots.
    pub max_memory_bytes: usize,
    /// Try the pooling allocator (falls back to on-demand when its reservation fails).
    pub pooling: bool,
    /// Linear memory kept resident per pool slot between calls and reset in place (only
    /// the dirty pages, where the kernel has `PAGEMAP_SCAN`), so the next instance does
    /// not page-fault its working set back in. Costs this much RSS per warm slot.
    pub keep_resident_bytes: usize,
    /// Bounds on compiling one component: static checks, then the compiler's CPU, memory
    /// and wall-clock limits, and how many compile at once.
    pub compile: CompileLimits,
    /// The program that compiles a component in a child process under `compile`'s limits
    /// (the server's own binary, `ferroserve compile-handler`). `None`: compile in this
    /// process after the static checks, with no CPU or memory bound (tools and tests).
    pub compiler: Option<CompilerCommand>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        SandboxConfig {
            cache_dir: None,
            cache_max_bytes: 1 << 30,
            threads: cores,
            queue_depth: 256,
            threads_per_group: 0,
            epoch_tick: Duration::from_millis(10),
            max_memory_bytes: 1 << 30,
            pooling: true,
            keep_resident_bytes: 16 << 20,
            compile: CompileLimits::default(),
            compiler: None,
        }
    }
}
