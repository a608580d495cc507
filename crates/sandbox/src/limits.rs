//! Per-handler limits and the process-wide sandbox settings.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

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

/// Bounds on compiling one component. The defaults admit the Python (componentize-py) and
/// JavaScript (componentize-js) handlers with headroom (docs/configuration.md has the
/// measurements: 13,479 and 12,751 functions, largest 417 and 168 KiB, 12 and 13-15 s of
/// CPU, under 512 MiB beyond start-up). 10 s of CPU would refuse both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileLimits {
    /// The component's size in bytes.
    pub max_component_bytes: u64,
    /// Core functions defined in all its modules together, plus its canonical functions
    /// (each becomes a trampoline).
    pub max_functions: u64,
    /// The largest function body, in bytes.
    pub max_function_bytes: u64,
    /// CPU time of the compiler process (all its threads), whole seconds (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Data memory the compile may use beyond what the compiler process held once started,
    /// bytes (`RLIMIT_DATA`, set by the child on itself: `entry.rs`).
    pub memory_bytes: u64,
    /// Wall-clock limit of the compiler process, from its start.
    pub timeout: Duration,
    /// Compiles at once, server-wide; further ones wait their turn. 0: one per core.
    pub concurrency: usize,
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            max_component_bytes: 64 << 20,
            max_functions: 100_000,
            max_function_bytes: 1 << 20,
            // 4x the slowest handler we know (JavaScript, 13-18 s): a loaded machine
            // took it past 20 s.
            cpu_seconds: 60,
            memory_bytes: 1 << 30,
            timeout: Duration::from_secs(60),
            concurrency: 0,
        }
    }
}

/// How to start the compiler: `program args… --output PATH`, the component on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}
