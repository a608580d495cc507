//! Worker OS threads: each asks the pool for its next step (`Pool::next`): run a formed
//! batch, park while idle, or exit. Running a batch drops what expired or was cancelled while
//! it waited, stacks, calls [`BatchRunner::run`] with panics caught, splits and answers.
//!
//! A failed batch is logged once per request, inside the span its `submit` ran in (so the
//! line carries the request id); the forward runs in a `batch` span that follows from those.
//!
//! A panic fails only the batch that raised it (logged with the model's name); the thread
//! stays and takes the next batch, so no replacement is needed. A thread that dies anyway
//! (a bug in this crate) is replaced by the pool after a pause (`Pool::lost`).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Span;

use crate::crew::Next;
use crate::entry::{Completed, Entry};
use crate::pool::Pool;
use crate::shared::{Shared, Stats};
use crate::stack::{split, stack};
use crate::{BatchError, BatchRunner, Fault};

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
    let (mut cancelled, mut expired) = (0, Vec::new());
    for entry in batch {
        if entry.is_cancelled() {
            cancelled += 1;
        } else if entry.deadline <= now {
            expired.push(entry);
        } else {
            live.push(entry);
        }
    }
    // Counted before answering, so a caller that reads the stats after its answer sees it.
    Stats::add(&stats.cancelled, cancelled);
    Stats::add(&stats.expired, expired.len() as u64);
    for entry in expired {
        let error = entry.timeout(now);
        entry.answer(Err(error));
    }
    if live.is_empty() {
        return;
    }
    let n = live.len();
    let started = Instant::now();
    let mut spans = Vec::with_capacity(n);
    let (inputs, replies): (Vec<_>, Vec<_>) = live
        .into_iter()
        .map(|e| {
            spans.push(e.span);
            (
                e.inputs,
                (e.reply, started.saturating_duration_since(e.enqueued)),
            )
        })
        .unzip();
    // The forward serves several requests, so it gets its own span, linked to theirs: what
    // the runner logs is then attributable without picking one request as its parent.
    let batch_span = tracing::info_span!(parent: None, "batch", model = %shared.name, size = n);
    for span in &spans {
        batch_span.follows_from(span);
    }
    let outcome = batch_span.in_scope(|| {
        catch_unwind(AssertUnwindSafe(|| {
            let outputs = runner.run(stack(inputs)?).map_err(|e| match e.fault() {
                Fault::Model => BatchError::Run(e.message().to_owned()),
                fault => BatchError::Process(fault, e.message().to_owned()),
            })?;
            split(outputs, n)
        }))
    });
    drop(batch_span);
    Stats::add(&stats.batches, 1);
    Stats::add(&stats.requests_run, n as u64);
    let error = match outcome {
        Ok(Ok(per_request)) => {
            let ran = started.elapsed();
            // Let go of the requests' spans first: each closes when its request is done.
            drop(spans);
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
            in_each_request(
                &spans,
                || tracing::warn!(model = %shared.name, batch = n, %error, "batch failed"),
            );
            error
        }
        Err(payload) => {
            Stats::add(&stats.panics, 1);
            let message = panic_message(payload.as_ref());
            in_each_request(
                &spans,
                || tracing::error!(model = %shared.name, batch = n, %message, "model runner panicked"),
            );
            BatchError::WorkerPanicked(message)
        }
    };
    Stats::add(&stats.failed, n as u64);
    for (reply, _) in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// Emits `log` once inside each request's span, so every affected request id is on a line
/// of its own; once outside any span when no request brought one (no repeats then).
fn in_each_request(spans: &[Span], log: impl Fn()) {
    let mut logged = false;
    for span in spans.iter().filter(|s| !s.is_none()) {
        span.in_scope(&log);
        logged = true;
    }
    if !logged {
        log();
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
