//! Worker OS threads: each takes a formed batch, drops what expired or was cancelled while it
//! waited, stacks, calls [`BatchRunner::run`] with panics caught, splits and answers.
//!
//! A panic fails only the batch that raised it; the thread stays and takes the next batch, so
//! no replacement is needed. (A panic outside `run_batch` would be a bug in this crate; the
//! thread would end and the others keep serving.)

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::entry::Entry;
use crate::shared::{Shared, Stats};
use crate::stack::{split, stack};
use crate::{BatchError, BatchRunner};

pub(crate) type Batch = Vec<Entry>;

/// Requests' worth of formed batches that may wait for each worker (see `Batcher::spawn`).
/// Expiry and cancellation are checked again when a worker takes a batch, so waiting here
/// costs no compute.
pub(crate) const HANDOFF_REQUESTS: usize = 16;

/// Starts `count` workers sharing `rx`. Each holds a clone of `alive` until it exits, so the
/// actor knows when the last one is gone.
pub(crate) fn spawn_workers(
    count: usize,
    runner: &Arc<dyn BatchRunner>,
    rx: mpsc::Receiver<Batch>,
    shared: &Arc<Shared>,
    alive: &mpsc::Sender<()>,
) -> Result<(), BatchError> {
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..count {
        let (runner, rx, shared, alive) =
            (runner.clone(), rx.clone(), shared.clone(), alive.clone());
        std::thread::Builder::new()
            .name(format!("batch-{}-{i}", shared.name))
            .spawn(move || {
                let _alive = alive;
                loop {
                    // One idle worker waits on the channel; the others wait for the lock.
                    let next = rx
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .blocking_recv();
                    let Some(batch) = next else { return };
                    run_batch(runner.as_ref(), batch, &shared);
                }
            })
            .map_err(|e| BatchError::Start(format!("cannot start worker thread {i}: {e}")))?;
    }
    Ok(())
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
    let (inputs, replies): (Vec<_>, Vec<_>) = live.into_iter().map(|e| (e.inputs, e.reply)).unzip();
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
            for (reply, outputs) in replies.into_iter().zip(per_request) {
                let _ = reply.send(Ok(outputs));
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
    for reply in replies {
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
