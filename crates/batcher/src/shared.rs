//! What the handle, the actor, the pool and the workers share: shutdown signal and counters.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use tokio::sync::Notify;

pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) capacity: usize,
    /// Set by `shutdown`: `submit` refuses at once from then on.
    pub(crate) closing: AtomicBool,
    /// Wakes the actor to drain and stop.
    pub(crate) shutdown: Notify,
    pub(crate) stats: Stats,
}

/// Counters updated where things happen; read with [`Stats::snapshot`].
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) queued: AtomicUsize,
    pub(crate) batches: AtomicU64,
    pub(crate) requests_run: AtomicU64,
    pub(crate) overloaded: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) workers: AtomicUsize,
    pub(crate) min_workers: AtomicUsize,
    pub(crate) max_workers: AtomicUsize,
    pub(crate) workers_started: AtomicU64,
    pub(crate) workers_stopped: AtomicU64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> BatcherStats {
        BatcherStats {
            queued: self.queued.load(Relaxed),
            batches: self.batches.load(Relaxed),
            requests_run: self.requests_run.load(Relaxed),
            overloaded: self.overloaded.load(Relaxed),
            expired: self.expired.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
            failed: self.failed.load(Relaxed),
            panics: self.panics.load(Relaxed),
            workers: self.workers.load(Relaxed),
            min_workers: self.min_workers.load(Relaxed),
            max_workers: self.max_workers.load(Relaxed),
            workers_started: self.workers_started.load(Relaxed),
            workers_stopped: self.workers_stopped.load(Relaxed),
        }
    }
}

/// A point-in-time copy of one batcher's counters, for metrics and tests.
/// Counters only grow; `queued`, `workers`, `min_workers` and `max_workers` are gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatcherStats {
    /// Requests in the queue now (accepted, not yet handed to a worker).
    pub queued: usize,
    /// Batches handed to the runner.
    pub batches: u64,
    /// Requests inside those batches (`requests_run / batches` is the mean batch size).
    pub requests_run: u64,
    /// Requests refused because the queue was full.
    pub overloaded: u64,
    /// Requests answered with a timeout instead of being run.
    pub expired: u64,
    /// Requests dropped because their caller went away before they ran.
    pub cancelled: u64,
    /// Requests that ran in a batch that failed (runner error, panic, bad outputs).
    pub failed: u64,
    /// Runner panics caught.
    pub panics: u64,
    /// Worker threads alive now (one still starting included).
    pub workers: usize,
    /// The current worker bounds (from the config, or the last [`crate::Batcher::scale`]).
    pub min_workers: usize,
    pub max_workers: usize,
    /// Worker threads started and exited since spawn (exits: idle above the minimum, above
    /// a lowered maximum, shutdown, or a thread lost to a bug).
    pub workers_started: u64,
    pub workers_stopped: u64,
}
