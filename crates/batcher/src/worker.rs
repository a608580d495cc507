//! Worker OS threads: each asks the pool for its next step (`Pool::next`): run a formed
//! batch, park while idle, or exit. Running a batch drops what expired or was cancelled while
//! it waited, stacks, calls [`BatchRunner::run`] with panics caught, splits and answers.
//!
//! A panic fails only the batch that raised it (logged with the model's name); the thread
//! stays and takes the next batch, so no replacement is needed. A thread that dies anyway
//! (a bug in this crate) is replaced by the pool after a pause (`Pool::lost`).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::crew::Next;
use crate::entry::{Completed, Entry};
use crate::pool::Pool;
use crate::shared::{Shared, Stats};
use crate::stack::{split, stack};
use crate::{BatchError, BatchRunner};

pub(crate) type Batch = Vec<Entry>;

/// The body of worker thread `id`: serve until the pool says to exit.
pub(crate) fn work(pool: Arc<Pool>, id: u64, pause: Duration) {
    let mut guard = Leaving {
        pool: &pool,
        id,
        told: false,
    };
    if !pause.is_zero() {
        std::thread::sleep(pause);
    }
    let mut idle_since = Instant::now();
    loop {
        match pool.next(id, idle_since) {
            Next::Run(batch) => {
                run_batch(pool.runner.as_ref(), batch, &pool.shared);
                idle_since = Instant::now();
            }
            // An unpark (a batch for this worker, a scale, close) ends the wait early; a
            // spurious return only asks again.
            Next::Wait(until) => {
                std::thread::park_timeout(until.saturating_duration_since(Instant::now()))
            }
            Next::Exit(_) => {
                guard.told = true;
                return;
            }
        }
    }
}

/// Tells the pool when the thread ends without being told to (it is unwinding).
struct Leaving<'a> {
    pool: &'a Arc<Pool>,
    id: u64,
    told: bool,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        if !self.told {
            self.pool.lost(self.id);
        }
    }
}

/// Answers every request of a batch that will not run with `error`.
pub(crate) fn fail(batch: Batch, error: &BatchError, shared: &Shared) {
    Stats::add(&shared.stats.failed, batch.len() as u64);
    for entry in batch {
        entry.answer(Err(error.clone()));
    }
}

/// Runs one batch and answers every request in it, whatever happens.
pub(crate) fn run_batch(runner: &dyn BatchRunner, batch: Batch, shared: &Shared) {
    let stats = &shared.stats;
    let now = Instant::now();
    let mut live = Vec::with_capacity(batch.len());
    let (mut cancelled, mut expired) = (0, 0);
    for entry in batch {
        if entry.is_cancelled() {
            cancelled += 1;
        } else if entry.deadline <= now {
            expired += 1;
            let error = entry.timeout(now);
            entry.answer(Err(error));
        } else {
            live.push(entry);
        }
    }
    Stats::add(&stats.cancelled, cancelled);
    Stats::add(&stats.expired, expired);
    if live.is_empty() {
        return;
    }
    let n = live.len();
    let started = Instant::now();
    let (inputs, replies): (Vec<_>, Vec<_>) = live
        .into_iter()
        .map(|e| {
            (
                e.inputs,
                (e.reply, started.saturating_duration_since(e.enqueued)),
            )
        })
        .unzip();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let outputs = runner
            .run(stack(inputs)?)
            .map_err(|e| BatchError::Run(e.message().to_owned()))?;
        split(outputs, n)
    }));
    Stats::add(&stats.batches, 1);
    Stats::add(&stats.requests_run, n as u64);
    let error = match outcome {
        Ok(Ok(per_request)) => {
            let ran = started.elapsed();
            for ((reply, queued), outputs) in replies.into_iter().zip(per_request) {
                let _ = reply.send(Ok(Completed {
                    outputs,
                    queued,
                    ran,
                    batch_size: n,
                }));
            }
            return;
        }
        Ok(Err(error)) => {
            tracing::warn!(model = %shared.name, batch = n, %error, "batch failed");
            error
        }
        Err(payload) => {
            Stats::add(&stats.panics, 1);
            let message = panic_message(payload.as_ref());
            tracing::error!(model = %shared.name, batch = n, %message, "model runner panicked");
            BatchError::WorkerPanicked(message)
        }
    };
    Stats::add(&stats.failed, n as u64);
    for (reply, _) in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
