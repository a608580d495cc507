//! The queue's private [`State`]: it holds every waiting request and makes every decision —
//! admit or refuse, which requests form the next batch, which expired, when to wake up.
//!
//! It owns no runtime, channel or clock: callers pass `now` in, so the tests below drive it
//! through time by hand. The actor (`actor.rs`) only carries its decisions out.
//!
//! Rules:
//! - Requests are grouped by [`Signature`]; a batch holds up to `batch_size` requests of one
//!   group, oldest first.
//! - A group is *ready* when it holds a full batch, or when its oldest request has waited
//!   `max_batch_delay`, or when the queue is full (waiting for companions would only turn
//!   arrivals away), or when the caller says a worker is idle (*eager*): waiting for
//!   companions while a worker idles only adds the delay to a closed-loop client's every
//!   request (measured: batch 8 with a 1 ms delay served 39 % fewer requests than batch 1).
//!   So the delay applies only while every worker is busy, and batches grow with the load:
//!   what gathers during one forward is the next batch. Past its delay a partial batch goes
//!   only if a worker may still start for it ([`Patience::Delay`]); with every worker busy
//!   and no more allowed ([`Patience::Full`]) it waits for one to idle, and takes what
//!   gathered meanwhile: handed over early, a small batch would run before the larger one
//!   forming behind it (measured: batch 8 lost to batch 1 with one worker at c8). Of the ready groups, the one whose
//!   oldest request is oldest goes first: a full batch never idles behind a partial one
//!   still inside its delay, and the oldest request is served first as soon as its delay is
//!   up (FIFO across shapes).
//! - A request past its deadline leaves the queue (`take_expired`) before it costs compute.
//! - A cancelled request (its caller dropped the future) is dropped when seen: when a batch is
//!   formed, when it expires, and when the queue is full (so it frees its place at once).

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::BatchError;
use crate::entry::Entry;
use crate::stack::Signature;

/// Empty groups kept for reuse (saves re-allocating a signature per request when one shape
/// comes and goes); past this many groups, empty ones are dropped.
const KEEP_GROUPS: usize = 8;

pub(crate) struct State {
    batch_size: usize,
    max_batch_delay: Duration,
    capacity: usize,
    groups: Vec<Group>,
    /// Every queued request's (deadline, id), earliest first.
    deadlines: BTreeSet<(Instant, u64)>,
    len: usize,
    next_id: u64,
    cancelled: u64,
}

struct Group {
    signature: Signature,
    /// Ascending ids: FIFO, and binary-searchable for `take_expired`.
    slots: VecDeque<Slot>,
}

struct Slot {
    id: u64,
    entry: Entry,
}

/// How long a partial batch waits for companions; the actor asks the workers which applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patience {
    /// Not at all: a worker is idle, or shutdown drains the queue.
    Now,
    /// Until its oldest request has waited `max_batch_delay` (a worker may start for it).
    Delay,
    /// Until it is full: every worker is busy and no more may start.
    Full,
}

/// A request the queue refused, handed back with the reason so the caller can answer it.
pub(crate) struct Rejected {
    pub(crate) entry: Entry,
    pub(crate) error: BatchError,
}

impl State {
    pub(crate) fn new(batch_size: usize, max_batch_delay: Duration, capacity: usize) -> State {
        State {
            batch_size: batch_size.max(1),
            max_batch_delay,
            capacity,
            groups: Vec::new(),
            deadlines: BTreeSet::new(),
            len: 0,
            next_id: 0,
            cancelled: 0,
        }
    }

    /// Requests waiting (cancelled ones not yet noticed included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Cancelled requests dropped since the last call (for the stats).
    pub(crate) fn take_cancelled(&mut self) -> u64 {
        std::mem::take(&mut self.cancelled)
    }

    /// Queues `entry`, or hands it back: past its deadline already, or the queue is full.
    /// (Boxed: an `Entry` is large, and refusals are the rare path.)
    pub(crate) fn push(&mut self, entry: Entry, now: Instant) -> Result<(), Box<Rejected>> {
        if entry.deadline <= now {
            let error = entry.timeout(now);
            return Err(Box::new(Rejected { entry, error }));
        }
        if self.len >= self.capacity {
            self.purge_cancelled();
            if self.len >= self.capacity {
                let error = BatchError::Overloaded {
                    capacity: self.capacity,
                };
                return Err(Box::new(Rejected { entry, error }));
            }
        }
        let group = match self
            .groups
            .iter()
            .position(|g| g.signature.matches(&entry.inputs))
        {
            Some(i) => i,
            None => {
                if self.groups.len() >= KEEP_GROUPS {
                    self.groups.retain(|g| !g.slots.is_empty());
                }
                let signature = Signature::of(&entry.inputs);
                self.groups.push(Group {
                    signature,
                    slots: VecDeque::new(),
                });
                self.groups.len() - 1
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        self.deadlines.insert((entry.deadline, id));
        self.groups[group].slots.push_back(Slot { id, entry });
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the requests whose deadline is `now` or earlier.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<Entry> {
        let mut expired = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(entry) = self.remove(id) else {
                continue;
            };
            if entry.is_cancelled() {
                self.cancelled += 1;
            } else {
                expired.push(entry);
            }
        }
        expired
    }

    /// Whether `next_batch(now, patience)` would form a batch.
    pub(crate) fn is_ready(&self, now: Instant, patience: Patience) -> bool {
        self.pick(now, patience).is_some()
    }

    /// The next batch to run: up to `batch_size` live requests of one signature, oldest first.
    pub(crate) fn next_batch(&mut self, now: Instant, patience: Patience) -> Option<Vec<Entry>> {
        while let Some(g) = self.pick(now, patience) {
            let mut batch = Vec::with_capacity(self.batch_size.min(self.groups[g].slots.len()));
            while batch.len() < self.batch_size {
                let Some(slot) = self.groups[g].slots.pop_front() else {
                    break;
                };
                self.len -= 1;
                self.deadlines.remove(&(slot.entry.deadline, slot.id));
                if slot.entry.is_cancelled() {
                    self.cancelled += 1;
                } else {
                    batch.push(slot.entry);
                }
            }
            if !batch.is_empty() {
                return Some(batch);
            }
        }
        None
    }

    /// The next instant after `now` at which a decision changes without new input: a deadline
    /// passes, or a group that is not ready yet reaches its delay (only with
    /// [`Patience::Delay`]: otherwise its delay decides nothing). Groups that are ready
    /// already (waiting for a free worker) need no timer.
    pub(crate) fn next_wakeup(&self, now: Instant, patience: Patience) -> Option<Instant> {
        let deadline = self.deadlines.iter().map(|&(d, _)| d).find(|&d| d > now);
        let due = self
            .groups
            .iter()
            .filter(|_| patience == Patience::Delay)
            .filter_map(|g| self.due(g))
            .filter(|&d| d > now)
            .min();
        match (deadline, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The ready group whose oldest request is oldest.
    fn pick(&self, now: Instant, patience: Patience) -> Option<usize> {
        // A full queue would refuse arrivals: waiting for companions gains nothing then.
        let eager = patience == Patience::Now || self.len >= self.capacity;
        let delayed = patience == Patience::Delay;
        let ready = |g: &Group| {
            !g.slots.is_empty()
                && (eager
                    || g.slots.len() >= self.batch_size
                    || delayed && self.due(g).is_some_and(|d| d <= now))
        };
        (0..self.groups.len())
            .filter(|&i| ready(&self.groups[i]))
            .min_by_key(|&i| self.groups[i].slots.front().map_or(u64::MAX, |s| s.id))
    }

    /// When the group's oldest request has waited `max_batch_delay`.
    fn due(&self, g: &Group) -> Option<Instant> {
        g.slots
            .front()
            .and_then(|s| s.entry.enqueued.checked_add(self.max_batch_delay))
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        for g in &mut self.groups {
            if let Ok(i) = g.slots.binary_search_by_key(&id, |s| s.id) {
                self.len -= 1;
                return g.slots.remove(i).map(|s| s.entry);
            }
        }
        None
    }

    fn purge_cancelled(&mut self) {
        for g in &mut self.groups {
            g.slots.retain(|s| {
                let gone = s.entry.is_cancelled();
                if gone {
                    self.deadlines.remove(&(s.entry.deadline, s.id));
                    self.len -= 1;
                    self.cancelled += 1;
                }
                !gone
            });
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
