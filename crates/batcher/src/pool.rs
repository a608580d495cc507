//! The worker pool: OS threads that run batches, started and retired as the private
//! [`Crew`] decides (`crew.rs` has the rules). The actor hands a formed batch over with
//! [`Pool::push`] while [`Pool::has_room`]; a worker (`worker.rs`) asks [`Pool::next`] what to
//! do, and parks while idle. Lock held only for `Crew`'s bookkeeping; threads are woken and
//! started after it is released.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::config::check_workers;
use crate::crew::{Crew, Exit, Next};
use crate::shared::{Shared, Stats};
use crate::worker::{self, Batch};
use crate::{BatchError, BatchRunner, BatcherConfig};

/// Requests' worth of formed batches that may wait for each worker. Expiry and cancellation
/// are checked again when a worker takes a batch, so waiting here costs no compute.
const HANDOFF_REQUESTS: usize = 16;

/// How long a worker that replaces one killed by a bug waits before serving.
const REPLACEMENT_BACKOFF: Duration = Duration::from_millis(100);

/// What the actor asks before it hands over a batch (one lock for both answers).
pub(crate) struct Standing {
    pub(crate) room: bool,
    pub(crate) idle: bool,
    /// Another worker may start (a batch handed over with none idle starts one).
    pub(crate) spare: bool,
}

pub(crate) struct Pool {
    crew: Mutex<Crew<Batch, Thread>>,
    /// Notified when a worker takes a batch, goes idle, or workers are added: room for the
    /// actor, or a worker a partial batch need not wait for.
    pub(crate) room: Notify,
    /// Notified when the last worker has exited after `close`.
    done: Notify,
    pub(crate) runner: Arc<dyn BatchRunner>,
    pub(crate) shared: Arc<Shared>,
    next_id: AtomicU64,
}

impl Pool {
    /// Starts `config.min_workers` threads.
    pub(crate) fn start(
        config: &BatcherConfig,
        runner: Arc<dyn BatchRunner>,
        shared: Arc<Shared>,
    ) -> Result<Arc<Pool>, BatchError> {
        let per_worker = (HANDOFF_REQUESTS / config.batch_size).max(1);
        let (min, max, idle) = (
            config.min_workers,
            config.max_workers,
            config.worker_idle_timeout,
        );
        let pool = Arc::new(Pool {
            crew: Mutex::new(Crew::new(min, max, idle, per_worker)),
            room: Notify::new(),
            done: Notify::new(),
            runner,
            shared,
            next_id: AtomicU64::new(0),
        });
        let start = pool.locked(Crew::start_min);
        if let Err(e) = pool.start_workers(start, "min_workers", Duration::ZERO) {
            pool.close();
            return Err(BatchError::Start(format!(
                "cannot start a worker thread: {e}"
            )));
        }
        Ok(pool)
    }

    /// Whether another batch may be handed over, and whether it would find an idle worker.
    pub(crate) fn standing(&self) -> Standing {
        let crew = self.lock();
        Standing {
            room: crew.has_room(),
            idle: crew.has_idle(),
            spare: crew.may_start(),
        }
    }

    /// Hands a batch to the most recently idle worker, starting one if none is idle.
    pub(crate) fn push(self: &Arc<Self>, batch: Batch) {
        let plan = self.locked(|crew| crew.push(batch));
        if let Some(worker) = plan.wake {
            worker.unpark();
        }
        // A thread that cannot start is logged and uncounted; with no worker left, the
        // waiting batches are answered instead of left hanging.
        let _ = self.start_workers(plan.start, "backlog", Duration::ZERO);
    }

    /// New worker bounds, applied at once: workers start up to `min`; those above `max` exit
    /// as soon as they are free.
    pub(crate) fn scale(self: &Arc<Self>, min: usize, max: usize) -> Result<(), BatchError> {
        check_workers(min, max).map_err(BatchError::BadSettings)?;
        let before = self.lock().bounds();
        let (start, wake) = self.locked(|crew| crew.scale(min, max));
        tracing::info!(model = %self.shared.name, min, max, "worker bounds changed");
        wake.iter().for_each(Thread::unpark);
        if let Err(e) = self.start_workers(start, "min_workers", Duration::ZERO) {
            // A minimum the OS cannot give would leave the model unhealthy for good: the
            // old bounds come back (workers above them exit when free).
            let (_, wake) = self.locked(|crew| crew.scale(before.0, before.1));
            wake.iter().for_each(Thread::unpark);
            return Err(BatchError::Start(format!(
                "cannot start a worker thread: {e}"
            )));
        }
        self.room.notify_one();
        Ok(())
    }

    /// Workers drain the batches already handed over, then exit. Idempotent.
    pub(crate) fn close(&self) {
        let wake = self.locked(Crew::close);
        wake.iter().for_each(Thread::unpark);
        if self.lock().is_done() {
            self.done.notify_one();
        }
    }

    /// Returns once every worker has exited after `close`.
    pub(crate) async fn closed(&self) {
        while !self.lock().is_done() {
            self.done.notified().await;
        }
    }

    /// Worker `id`'s next step (see [`Crew::next`]).
    pub(crate) fn next(&self, id: u64, idle_since: Instant) -> Next<Batch> {
        let next = self.locked(|crew| crew.next(id, idle_since, Instant::now(), thread::current));
        match &next {
            // Taking a batch makes room; going idle lets the queue send a partial batch.
            Next::Run(_) | Next::Wait(_) => self.room.notify_one(),
            Next::Exit(why) => {
                Stats::add(&self.shared.stats.workers_stopped, 1);
                let model = &self.shared.name;
                match why {
                    Exit::Closed => tracing::debug!(model = %model, worker = id, "worker exited"),
                    _ => {
                        tracing::info!(model = %model, worker = id, reason = ?why, "worker exited")
                    }
                }
                if self.lock().is_done() {
                    self.done.notify_one();
                }
            }
        }
        next
    }

    /// Worker `id` died without `next` telling it to exit (a bug in this crate: panics of
    /// the runner are caught). Replaces it, after a pause, while the pool is open.
    pub(crate) fn lost(self: &Arc<Self>, id: u64) {
        tracing::error!(model = %self.shared.name, worker = id, "worker thread died; replacing it");
        Stats::add(&self.shared.stats.workers_stopped, 1);
        let start = self.locked(|crew| {
            crew.lost(Some(id));
            crew.restore()
        });
        let _ = self.start_workers(start, "replacement", REPLACEMENT_BACKOFF);
        if self.lock().is_done() {
            self.done.notify_one();
        }
    }

    /// Starts `n` threads already counted alive. Stops at the first that cannot start,
    /// uncounting the rest and answering the waiting batches if no worker is left.
    fn start_workers(
        self: &Arc<Self>,
        n: usize,
        why: &str,
        pause: Duration,
    ) -> std::io::Result<()> {
        for started in 0..n {
            let (pool, id) = (self.clone(), self.next_id.fetch_add(1, Relaxed));
            let spawned = thread::Builder::new()
                .name(format!("batch-{}-{id}", self.shared.name))
                .spawn(move || worker::work(pool, id, pause));
            if let Err(e) = spawned {
                tracing::error!(model = %self.shared.name, error = %e, "cannot start a worker thread");
                let orphans = self.locked(|crew| {
                    (started..n).for_each(|_| crew.lost(None));
                    crew.orphans()
                });
                let error = BatchError::Start(format!("cannot start a worker thread: {e}"));
                for batch in orphans {
                    worker::fail(batch, &error, &self.shared);
                }
                return Err(e);
            }
            Stats::add(&self.shared.stats.workers_started, 1);
            tracing::debug!(model = %self.shared.name, worker = id, reason = why, "worker started");
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Crew<Batch, Thread>> {
        self.crew.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the crew and publishes the worker gauges, under the lock.
    fn locked<T>(&self, f: impl FnOnce(&mut Crew<Batch, Thread>) -> T) -> T {
        let mut crew = self.lock();
        let out = f(&mut crew);
        let stats = &self.shared.stats;
        let (min, max) = crew.bounds();
        stats.workers.store(crew.alive(), Relaxed);
        stats.min_workers.store(min, Relaxed);
        stats.max_workers.store(max, Relaxed);
        out
    }
}
