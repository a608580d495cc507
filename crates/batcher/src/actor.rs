//! The queue actor: one tokio task per model. It feeds arrivals into [`State`], carries out
//! its decisions (answer expired and refused requests, hand ready batches to the worker
//! [`Pool`]) and sleeps until the next arrival, room or an idle worker in the pool, or the
//! instant `State` names.
//!
//! It never blocks: the pool takes a bounded number of formed batches, and while it has no
//! room requests stay in `State`, where they keep counting against the capacity, can expire,
//! and gather into larger batches.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::BatchError;
use crate::entry::Entry;
use crate::pool::Pool;
use crate::shared::{Shared, Stats};
use crate::state::{Patience, Rejected, State};

/// Arrivals taken per wake-up before batches are formed, so a burst batches well; also the
/// room the hand-off into the actor has beyond the queue's capacity, so a burst of arrivals
/// reaches `State` (which decides what is overload) instead of bouncing off the channel.
pub(crate) const INTAKE_BURST: usize = 256;

pub(crate) struct Actor {
    pub(crate) state: State,
    pub(crate) intake: mpsc::Receiver<Entry>,
    pub(crate) pool: Arc<Pool>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) done: watch::Sender<bool>,
}

/// Dropped with its runtime before it finished: let the workers drain and exit, not park
/// forever. (Requests still in `State` are dropped, so their callers get `ShuttingDown`.)
impl Drop for Actor {
    fn drop(&mut self) {
        self.pool.close();
    }
}

impl Actor {
    pub(crate) async fn run(mut self) {
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        let mut closing = false;
        // False once the intake is closed and drained: then the queue is flushed and we stop.
        let mut open = true;
        loop {
            let now = Instant::now();
            self.expire(now);
            let (waiting_for_worker, patience) = self.dispatch(now, !open);
            self.shared.stats.queued.store(self.state.len(), Relaxed);
            if !open && self.state.is_empty() {
                break;
            }
            let wake = self.state.next_wakeup(now, patience);
            if wake != armed {
                if let Some(at) = wake {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(at));
                }
                armed = wake;
            }
            tokio::select! {
                biased;
                () = self.shared.shutdown.notified(), if !closing => {
                    closing = true;
                    self.intake.close();
                }
                // Room for a batch first: it may free a place for the next arrival. With
                // requests waiting, a worker going idle is news too: they need not wait.
                () = self.pool.room.notified(), if waiting_for_worker || !self.state.is_empty() => {}
                arrival = self.intake.recv(), if open => match arrival {
                    Some(entry) => {
                        let now = Instant::now();
                        admit(&mut self.state, &self.shared, entry, now);
                        // Stop at a full queue: dispatching first may make room.
                        for _ in 1..INTAKE_BURST {
                            if self.state.len() >= self.shared.capacity {
                                break;
                            }
                            let Ok(entry) = self.intake.try_recv() else { break };
                            admit(&mut self.state, &self.shared, entry, now);
                        }
                    }
                    None => open = false,
                },
                () = &mut sleep, if armed.is_some() => armed = None,
                // Unreachable while requests wait (see `dispatch`); were it reached, dropping
                // the rest answers their callers with `ShuttingDown` rather than hanging.
                else => break,
            }
        }
        self.shared.stats.queued.store(0, Relaxed);
        self.pool.close();
        self.pool.closed().await;
        let _ = self.done.send(true);
    }

    fn expire(&mut self, now: Instant) {
        let expired = self.state.take_expired(now);
        Stats::add(&self.shared.stats.expired, expired.len() as u64);
        for entry in expired {
            let error = entry.timeout(now);
            entry.answer(Err(error));
        }
        Stats::add(&self.shared.stats.cancelled, self.state.take_cancelled());
    }

    /// Hands every ready batch to the workers while they have room; how long a partial
    /// batch waits depends on the workers (`State`'s rules). Returns whether a ready batch is
    /// left waiting for room, and the patience that applied last.
    fn dispatch(&mut self, now: Instant, flush: bool) -> (bool, Patience) {
        let mut waiting = false;
        let patience = loop {
            let standing = self.pool.standing();
            let patience = if flush || standing.idle {
                Patience::Now
            } else if standing.spare {
                Patience::Delay
            } else {
                Patience::Full
            };
            if !self.state.is_ready(now, patience) {
                break patience;
            }
            if !standing.room {
                waiting = true;
                break patience;
            }
            if let Some(batch) = self.state.next_batch(now, patience) {
                self.pool.push(batch);
            }
        };
        Stats::add(&self.shared.stats.cancelled, self.state.take_cancelled());
        (waiting, patience)
    }
}

/// Queues an arrival, or answers it at once when `State` refuses it.
fn admit(state: &mut State, shared: &Shared, entry: Entry, now: Instant) {
    if let Err(rejected) = state.push(entry, now) {
        let Rejected { entry, error } = *rejected;
        let counter = match error {
            BatchError::Overloaded { .. } => &shared.stats.overloaded,
            _ => &shared.stats.expired,
        };
        Stats::add(counter, 1);
        entry.answer(Err(error));
    }
}
