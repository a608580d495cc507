//! The per-model request queue and dynamic batching: requests wait in a bounded queue, are
//! grouped by input shape into batches of up to `batch_size`, stacked along a new dim 0, run
//! on dedicated worker OS threads (between `min_workers` and `max_workers` of them, growing
//! with the backlog and shrinking when idle), and the outputs are split back so each caller
//! gets its own slice. A worker that is idle takes what is queued at once; only while every
//! worker is busy does a partial batch wait for companions: up to `max_batch_delay` if a
//! worker may still start for it, else until one is free.
//!
//! This crate holds no libtorch and no wasm: it runs batches through the [`BatchRunner`]
//! trait it defines, which `ferroserve-torch` implements (tests use fakes). Look elsewhere for
//! the tensor type (`ferroserve-tensor`), running a model (`ferroserve-torch`), handlers
//! (`ferroserve-sandbox`) and the mapping of [`BatchError`] to a class and a status (`ferroserve-core`, `ferroserve-http`).
//!
//! Inside: [`Batcher`] is the handle (`lib.rs`); a tokio task (`actor.rs`) owns the queue's
//! private `State` (`state.rs`), which makes every queueing decision and is unit-tested
//! without a runtime; the worker pool (`pool.rs`) starts and retires threads as its private
//! `Crew` (`crew.rs`, unit-tested the same way) decides; worker threads (`worker.rs`) call
//! the runner; `stack.rs` stacks and splits.
//!
//! Tracing: a request keeps the span that was current where its `submit` future was polled
//! (the HTTP layer's `request{request_id,..}`), so a worker logs a failed batch once inside
//! each of its requests' spans; the forward runs in a `batch` span that follows from them.
//!
//! ```text
//! submit ─try_send─▶ actor: State ─bounded─▶ pool: Crew ─unpark─▶ workers: stack → run → split ─oneshot─▶ caller
//! ```

mod actor;
mod config;
mod crew;
mod entry;
mod error;
mod pool;
mod runner;
mod shared;
mod stack;
mod state;
mod worker;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

use ferroserve_tensor::Tensor;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc, watch};

pub use config::BatcherConfig;
pub use entry::Completed;
pub use error::BatchError;
pub use runner::{BatchRunner, Fault, RunError};
pub use shared::BatcherStats;

use actor::Actor;
use entry::Entry;
use pool::Pool;
use shared::{Shared, Stats};
use state::State;

/// The handle to one model's queue. Cheap to clone; the queue drains and its workers stop
/// when [`Batcher::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct Batcher {
    intake: mpsc::Sender<Entry>,
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    done: watch::Receiver<bool>,
}

impl Batcher {
    /// Starts the queue actor on the current tokio runtime and `config.min_workers` worker
    /// threads.
    pub fn spawn(
        config: BatcherConfig,
        runner: Arc<dyn BatchRunner>,
    ) -> Result<Batcher, BatchError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            BatchError::Start("Batcher::spawn must be called inside a tokio runtime".into())
        })?;
        let shared = Arc::new(Shared {
            name: config.name.clone(),
            capacity: config.capacity,
            closing: AtomicBool::new(false),
            shutdown: Notify::new(),
            stats: Stats::default(),
        });
        let (intake, intake_rx) = mpsc::channel(config.capacity + actor::INTAKE_BURST);
        let pool = Pool::start(&config, runner, shared.clone())?;
        let (done_tx, done) = watch::channel(false);
        let actor = Actor {
            state: State::new(config.batch_size, config.max_batch_delay, config.capacity),
            intake: intake_rx,
            pool: pool.clone(),
            shared: shared.clone(),
            done: done_tx,
        };
        runtime.spawn(actor.run());
        Ok(Batcher {
            intake,
            shared,
            pool,
            done,
        })
    }

    /// Changes the worker bounds at run time (the management API's `min_worker` /
    /// `max_worker`): workers start at once up to `min`; workers above `max` exit as soon as
    /// their current batch is done; above `min`, idle workers exit after the configured
    /// `worker_idle_timeout`. Fails with [`BatchError::BadSettings`] (nothing changed) when
    /// `max` is 0 or below `min`, and with [`BatchError::ShuttingDown`] after `shutdown`.
    pub fn scale(&self, min: usize, max: usize) -> Result<(), BatchError> {
        if self.shared.closing.load(Relaxed) {
            return Err(BatchError::ShuttingDown);
        }
        self.pool.scale(min, max)
    }

    /// Queues one request and waits for its outputs. `inputs` are the request's tensors
    /// without a batch dim; the outputs come back the same way.
    ///
    /// Fails at once with [`BatchError::Overloaded`] when the queue is full, and with
    /// [`BatchError::Timeout`] if `deadline` passes before the request runs. Dropping the
    /// future cancels the request: it leaves the queue without running, or, if it is already
    /// running, its result is discarded.
    pub async fn submit(
        &self,
        inputs: Vec<Tensor>,
        deadline: Instant,
    ) -> Result<Vec<Tensor>, BatchError> {
        Ok(self.submit_timed(inputs, deadline).await?.outputs)
    }

    /// [`Batcher::submit`], also saying how long the request queued and ran.
    pub async fn submit_timed(
        &self,
        inputs: Vec<Tensor>,
        deadline: Instant,
    ) -> Result<Completed, BatchError> {
        if inputs.is_empty() {
            return Err(BatchError::BadInput(
                "a request must carry at least one tensor".into(),
            ));
        }
        if self.shared.closing.load(Relaxed) {
            return Err(BatchError::ShuttingDown);
        }
        let (entry, answer) = Entry::new(inputs, Instant::now(), deadline);
        match self.intake.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                Stats::add(&self.shared.stats.overloaded, 1);
                return Err(BatchError::Overloaded {
                    capacity: self.shared.capacity,
                });
            }
            Err(TrySendError::Closed(_)) => return Err(BatchError::ShuttingDown),
        }
        // The sender is only dropped unanswered when the runtime drops the actor.
        answer.await.unwrap_or(Err(BatchError::ShuttingDown))
    }

    /// [`Batcher::submit`] that gives up with [`BatchError::Cancelled`] as soon as `cancel`
    /// completes (a client disconnect, an admin action), removing the request like a drop does.
    pub async fn submit_with_cancel(
        &self,
        inputs: Vec<Tensor>,
        deadline: Instant,
        cancel: impl Future<Output = ()>,
    ) -> Result<Vec<Tensor>, BatchError> {
        tokio::select! {
            biased;
            outcome = self.submit(inputs, deadline) => outcome,
            () = cancel => Err(BatchError::Cancelled),
        }
    }

    /// Requests accepted and waiting for a batch (not counting formed batches that wait for a
    /// worker). Feeds the queue-depth metric.
    pub fn queue_len(&self) -> usize {
        let in_transit = self.intake.max_capacity() - self.intake.capacity();
        self.shared.stats.queued.load(Relaxed) + in_transit
    }

    /// Requests the queue holds before refusing (`job_queue_size`).
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Why the model cannot serve at all, if so ([`BatchRunner::failed`]).
    pub fn failed(&self) -> Option<String> {
        self.pool.runner.failed()
    }

    pub fn stats(&self) -> BatcherStats {
        let mut stats = self.shared.stats.snapshot();
        stats.queued = self.queue_len();
        stats
    }

    /// Refuses new requests from now on, runs every request already accepted (ignoring
    /// `max_batch_delay`), and returns once the worker threads have exited.
    pub async fn shutdown(&self) {
        self.shared.closing.store(true, Relaxed);
        self.pool.runner.stop();
        self.shared.shutdown.notify_one();
        let mut done = self.done.clone();
        // An error means the actor was dropped with its runtime: nothing is left to wait for.
        let _ = done.wait_for(|done| *done).await;
    }
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("model", &self.shared.name)
            .field("stats", &self.stats())
            .finish()
    }
}
