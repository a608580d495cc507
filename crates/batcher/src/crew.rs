//! The worker pool's private bookkeeping, [`Crew`]: how many workers live, which are idle,
//! the formed batches waiting for one, and every scaling decision. Like `State`, it owns no
//! thread, lock or clock: callers pass `now` and the wakers in, so `crew_tests.rs` drives it
//! by hand; `pool.rs` carries its decisions out.
//!
//! Rules:
//! - A batch handed over wakes the most recently idle worker. Idle workers form a stack, so
//!   under light load the same few take every batch and the surplus stays idle at the bottom
//!   until it retires (a FIFO wake-up would spread batches over all of them, and none would
//!   ever sit idle long enough to go).
//! - When a batch finds no idle worker and fewer than `max` live, one more starts. Fewer
//!   than `min` live (a worker died of a bug), enough start to make `min` again.
//! - A worker with no batch for `idle_timeout` exits while more than `min` live; above
//!   `max` (after `scale` lowered it) a worker exits as soon as it finishes its batch.
//! - After `close`, workers drain the waiting batches, then all exit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub(crate) struct Crew<B, W> {
    min: usize,
    max: usize,
    idle_timeout: Duration,
    /// Batches that may wait here per live worker (the hand-off's depth; see `has_room`).
    per_worker: usize,
    /// Workers started and not yet exited; a thread still starting counts.
    alive: usize,
    /// Idle workers, most recently idle last.
    idle: Vec<(u64, W)>,
    batches: VecDeque<B>,
    closed: bool,
}

/// What a worker does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<B> {
    Run(B),
    /// Sleep until woken, or until this instant, then ask again.
    Wait(Instant),
    Exit(Exit),
}

/// Why a worker exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Closed,
    OverMax,
    Idle,
}

/// What handing over a batch asks the caller to do (outside the lock).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan<W> {
    pub(crate) wake: Option<W>,
    /// Workers to start; already counted in `alive`.
    pub(crate) start: usize,
}

impl<B, W: Clone> Crew<B, W> {
    pub(crate) fn new(min: usize, max: usize, idle_timeout: Duration, per_worker: usize) -> Self {
        Crew {
            min,
            max,
            idle_timeout,
            per_worker: per_worker.max(1),
            alive: 0,
            idle: Vec::new(),
            batches: VecDeque::new(),
            closed: false,
        }
    }

    pub(crate) fn alive(&self) -> usize {
        self.alive
    }

    pub(crate) fn bounds(&self) -> (usize, usize) {
        (self.min, self.max)
    }

    /// Whether the last worker has exited after `close`.
    pub(crate) fn is_done(&self) -> bool {
        self.closed && self.alive == 0
    }

    /// Whether another batch may be handed over: about `per_worker` batches per live worker
    /// (at least one in all), so requests mostly wait in `State`, where they can still grow
    /// into larger batches, expire, or be cancelled.
    pub(crate) fn has_room(&self) -> bool {
        self.batches.len() < self.per_worker * self.alive.max(1)
    }

    /// Whether a batch handed over now would run at once: a worker is idle, or none is
    /// alive and one may start. While this holds the queue does not wait for companions.
    pub(crate) fn has_idle(&self) -> bool {
        !self.closed && (!self.idle.is_empty() || (self.alive == 0 && self.max > 0))
    }

    /// Whether a batch handed over now, with none idle, would start a worker for itself.
    pub(crate) fn may_start(&self) -> bool {
        !self.closed && self.alive < self.max
    }

    /// The workers to start at spawn, counted as alive.
    pub(crate) fn start_min(&mut self) -> usize {
        let start = self.min.saturating_sub(self.alive);
        self.alive += start;
        start
    }

    pub(crate) fn push(&mut self, batch: B) -> Plan<W> {
        self.batches.push_back(batch);
        let wake = self.idle.pop().map(|(_, waker)| waker);
        let mut start = self.min.saturating_sub(self.alive);
        if start == 0 && wake.is_none() && self.alive < self.max {
            start = 1;
        }
        self.alive += start;
        Plan { wake, start }
    }

    /// The next step of worker `id`, which has had no batch since `idle_since`. A worker told
    /// to wait is on the idle stack (`waker` is called once, when it is put there); one told
    /// to exit is no longer counted.
    pub(crate) fn next(
        &mut self,
        id: u64,
        idle_since: Instant,
        now: Instant,
        waker: impl FnOnce() -> W,
    ) -> Next<B> {
        let exit = if !self.closed && self.alive > self.max {
            Some(Exit::OverMax)
        } else if let Some(batch) = self.batches.pop_front() {
            self.forget(id);
            return Next::Run(batch);
        } else if self.closed {
            Some(Exit::Closed)
        } else if self.alive > self.min && now >= idle_since + self.idle_timeout {
            Some(Exit::Idle)
        } else {
            None
        };
        if let Some(why) = exit {
            self.forget(id);
            self.alive -= 1;
            return Next::Exit(why);
        }
        if !self.idle.iter().any(|&(i, _)| i == id) {
            self.idle.push((id, waker()));
        }
        // Also at or under `min` (a worker started later may make this one surplus): then,
        // once past its own timeout, it checks again a timeout later.
        let due = idle_since + self.idle_timeout;
        Next::Wait(if due > now {
            due
        } else {
            now + self.idle_timeout
        })
    }

    /// New bounds (checked by the caller). Returns the workers to start (counted as alive)
    /// and the idle ones to wake, so that those above a lowered `max` exit.
    pub(crate) fn scale(&mut self, min: usize, max: usize) -> (usize, Vec<W>) {
        (self.min, self.max) = (min, max);
        let start = self.start_min();
        let wake = if self.alive > max {
            self.idle.iter().map(|(_, w)| w.clone()).collect()
        } else {
            Vec::new()
        };
        (start, wake)
    }

    /// From now on workers drain the waiting batches and exit. Returns the idle ones to wake.
    pub(crate) fn close(&mut self) -> Vec<W> {
        self.closed = true;
        self.idle.iter().map(|(_, w)| w.clone()).collect()
    }

    /// A counted worker is gone without `next` saying so: its thread could not start
    /// (`id` is `None`), or it died of a bug.
    pub(crate) fn lost(&mut self, id: Option<u64>) {
        if let Some(id) = id {
            self.forget(id);
        }
        self.alive = self.alive.saturating_sub(1);
    }

    /// Workers to start (counted as alive) to replace lost ones: up to `min`, or one when
    /// none is left and batches wait.
    pub(crate) fn restore(&mut self) -> usize {
        if self.closed {
            return 0;
        }
        let mut start = self.min.saturating_sub(self.alive);
        if start == 0 && self.alive == 0 && !self.batches.is_empty() {
            start = 1;
        }
        self.alive += start;
        start
    }

    /// The waiting batches, when no worker is left to run them.
    pub(crate) fn orphans(&mut self) -> Vec<B> {
        if self.alive == 0 {
            self.batches.drain(..).collect()
        } else {
            Vec::new()
        }
    }

    fn forget(&mut self, id: u64) {
        self.idle.retain(|&(i, _)| i != id);
    }
}

#[cfg(test)]
#[path = "crew_tests.rs"]
mod tests;
