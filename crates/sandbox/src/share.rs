//! CPU fair share between groups of handlers; the server makes one group per tenant.
//!
//! A call that has run past its normal-priority slice (10 ms, handler.rs) is a *long* call
//! and already runs at idle CPU priority. That is not enough on its own: a looping handler
//! at idle priority still took other tenants' p99 from 3.3 to 7.7 ms on 2 cores
//! (docs/benchmarks.md). So while another group has called in the last
//! [`CONTENDED_WINDOW`], a group's long calls are background work with a bounded budget:
//! one at a time per group per 4 cores (the others wait, their deadlines running), and
//! each rests [`REST`] after every epoch tick it runs. With no other group active a
//! group's long calls run unthrottled: the machine is theirs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

/// How recent another group's call must be for a long call to count as contended.
pub(crate) const CONTENDED_WINDOW: Duration = Duration::from_millis(100);
/// A contended long call's rest after each tick it runs: 9 ticks, a tenth of a core. A
/// quarter (30 ms) still took a saturating neighbour's p99 to 1.7-1.9x on 2 cores, a tenth
/// to 1.0x (benches/hostile_neighbour.sh, docs/benchmarks.md).
pub(crate) const REST: Duration = Duration::from_millis(90);
/// All groups of one sandbox, by name.
pub(crate) struct Share {
    groups: Mutex<HashMap<Arc<str>, Weak<Group>>>,
    /// Long calls per group that may run at once while contended.
    long_per_group: usize,
}

/// One group's state: when it last called, and its long-call slots.
pub(crate) struct Group {
    /// Also the group's lane in the executor (lanes.rs).
    pub(crate) name: Arc<str>,
    share: Arc<Share>,
    last_call_ms: AtomicU64,
    long_running: Mutex<usize>,
    freed: Condvar,
}

impl Share {
    /// One long call per group per 4 cores, at least one: on 2 cores a looping tenant gets
    /// a tenth of a core while others are busy, on 64 cores 16 tenths.
    pub(crate) fn for_this_machine() -> Share {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Share::new((cores / 4).max(1))
    }

    pub(crate) fn new(long_per_group: usize) -> Share {
        Share {
            groups: Mutex::default(),
            long_per_group: long_per_group.max(1),
        }
    }

    /// The group called `name`, made on first use and kept while a handler holds it.
    pub(crate) fn group(self: &Arc<Self>, name: &str) -> Arc<Group> {
        let mut groups = self.groups.lock().unwrap();
        if let Some(group) = groups.get(name).and_then(Weak::upgrade) {
            return group;
        }
        groups.retain(|_, g| g.strong_count() > 0);
        let group = Arc::new(Group {
            name: name.into(),
            share: self.clone(),
            last_call_ms: AtomicU64::new(0),
            long_running: Mutex::new(0),
            freed: Condvar::new(),
        });
        groups.insert(group.name.clone(), Arc::downgrade(&group));
        group
    }

    /// Whether a group other than `me` called within the window.
    fn others_active(&self, me: &Group) -> bool {
        let now = clock_ms();
        let window = CONTENDED_WINDOW.as_millis() as u64;
        self.groups.lock().unwrap().values().any(|g| {
            g.upgrade().is_some_and(|g| {
                g.name != me.name && {
                    let at = g.last_call_ms.load(Relaxed);
                    at != 0 && now.saturating_sub(at) < window
                }
            })
        })
    }
}

impl Group {
    /// Start of a call: marks the group active and gives the call its ticket.
    pub(crate) fn enter(self: &Arc<Self>) -> Ticket {
        self.last_call_ms.store(clock_ms().max(1), Relaxed);
        Ticket {
            group: self.clone(),
            holds_slot: false,
            throttled: Duration::ZERO,
        }
    }
}

/// A call's standing in its group: whether it holds a long-call slot (given back on drop),
/// and how long it has waited or rested so far.
pub(crate) struct Ticket {
    group: Arc<Group>,
    holds_slot: bool,
    pub(crate) throttled: Duration,
}

/// The call's deadline passed while it waited or rested.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Expired;

impl Ticket {
    /// Called for a long call at each epoch tick (and before a known long runner starts):
    /// if other groups are active, take this group's slot (waiting for it) and rest.
    pub(crate) fn throttle(&mut self, deadline: Instant) -> Result<(), Expired> {
        if !self.group.share.others_active(&self.group) {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.take_slot(deadline).and_then(|()| {
            std::thread::sleep(REST.min(deadline.saturating_duration_since(Instant::now())));
            if Instant::now() >= deadline {
                Err(Expired)
            } else {
                Ok(())
            }
        });
        self.throttled += started.elapsed();
        result
    }

    fn take_slot(&mut self, deadline: Instant) -> Result<(), Expired> {
        if self.holds_slot {
            return Ok(());
        }
        let mut running = self.group.long_running.lock().unwrap();
        while *running >= self.group.share.long_per_group {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Expired);
            }
            running = self.group.freed.wait_timeout(running, left).unwrap().0;
        }
        *running += 1;
        self.holds_slot = true;
        Ok(())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.holds_slot {
            *self.group.long_running.lock().unwrap() -= 1;
            self.group.freed.notify_one();
        }
    }
}

/// Milliseconds since the first use; coarse and monotonic, for "how recent" questions.
pub(crate) fn clock_ms() -> u64 {
    static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);
    ORIGIN.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn alone_a_group_is_not_throttled() {
        let share = Arc::new(Share::new(1));
        let a = share.group("a");
        let mut t = a.enter();
        assert_eq!(t.throttle(soon(1000)), Ok(()));
        assert_eq!(t.throttled, Duration::ZERO);
        assert!(!t.holds_slot);
    }

    #[test]
    fn with_another_group_active_long_calls_rest_and_take_turns() {
        let share = Arc::new(Share::new(1));
        let (a, b) = (share.group("a"), share.group("b"));
        b.enter();
        let mut first = a.enter();
        assert_eq!(first.throttle(soon(1000)), Ok(()));
        assert!(first.holds_slot);
        assert!(first.throttled >= REST);
        // The group's one slot is taken: a second long call waits until its deadline.
        b.enter();
        let mut second = a.enter();
        assert_eq!(second.throttle(soon(50)), Err(Expired));
        assert!(!second.holds_slot);
        // Given back when the first call ends.
        drop(first);
        b.enter();
        assert_eq!(second.throttle(soon(1000)), Ok(()));
        assert!(second.holds_slot);
    }

    #[test]
    fn a_waiting_call_gets_the_slot_when_it_is_freed() {
        let share = Arc::new(Share::new(1));
        let (a, b) = (share.group("a"), share.group("b"));
        b.enter();
        let mut first = a.enter();
        first.throttle(soon(1000)).unwrap();
        let a2 = a.clone();
        let waiter = std::thread::spawn(move || a2.enter().throttle(soon(2000)));
        std::thread::sleep(Duration::from_millis(50));
        drop(first);
        assert_eq!(waiter.join().unwrap(), Ok(()));
    }

    #[test]
    fn the_same_name_is_the_same_group() {
        let share = Arc::new(Share::new(1));
        let (a1, a2) = (share.group("a"), share.group("a"));
        assert!(Arc::ptr_eq(&a1, &a2));
        let _call = a1.enter();
        // Its own activity does not make a group contended.
        assert!(!share.others_active(&a2));
    }
}
