//! `Crew` driven by hand: batches are numbers, wakers are worker ids, time is passed in.

use std::time::{Duration, Instant};

use super::*;

const IDLE: Duration = Duration::from_secs(30);
const SEC: Duration = Duration::from_secs(1);

type C = Crew<u32, u64>;

/// A crew of `min..=max` with its `min` workers started.
fn crew(min: usize, max: usize) -> C {
    let mut c = C::new(min, max, IDLE, 2);
    assert_eq!(c.start_min(), min);
    c
}

/// Worker `id` asks for its next step with no batch since `since`.
fn next(c: &mut C, id: u64, since: Instant, now: Instant) -> Next<u32> {
    c.next(id, since, now, || id)
}

#[test]
fn a_batch_wakes_the_most_recently_idle_worker() {
    let t0 = Instant::now();
    let mut c = crew(3, 3);
    for id in [1, 2, 3] {
        assert_eq!(next(&mut c, id, t0, t0), Next::Wait(t0 + IDLE));
    }
    assert_eq!(
        c.push(10),
        Plan {
            wake: Some(3),
            start: 0
        }
    );
    assert_eq!(
        c.push(11),
        Plan {
            wake: Some(2),
            start: 0
        }
    );
    assert_eq!(next(&mut c, 3, t0, t0), Next::Run(10));
    assert_eq!(next(&mut c, 2, t0, t0), Next::Run(11));
    // Worker 3 is idle again and on top: the next batch is its.
    assert_eq!(next(&mut c, 3, t0, t0 + SEC), Next::Wait(t0 + IDLE));
    assert_eq!(c.push(12).wake, Some(3));
}

#[test]
fn a_batch_that_finds_no_idle_worker_starts_one_up_to_max() {
    let t0 = Instant::now();
    let mut c = crew(1, 3);
    assert_eq!(
        c.push(1),
        Plan {
            wake: None,
            start: 1
        },
        "worker 1 has not asked yet"
    );
    assert_eq!(
        c.push(2),
        Plan {
            wake: None,
            start: 1
        }
    );
    assert_eq!(c.alive(), 3);
    assert_eq!(
        c.push(3),
        Plan {
            wake: None,
            start: 0
        },
        "at max"
    );
    assert_eq!(next(&mut c, 1, t0, t0), Next::Run(1));
}

#[test]
fn the_hand_off_holds_batches_in_proportion_to_live_workers() {
    let mut c = crew(1, 1);
    assert!(c.has_room());
    c.push(1);
    assert!(c.has_room());
    c.push(2);
    assert!(!c.has_room(), "2 batches per worker");
    let mut none = C::new(0, 2, IDLE, 2);
    assert!(
        none.has_room(),
        "even with no worker yet, one batch may be handed over"
    );
    assert_eq!(none.push(1).start, 1);
}

#[test]
fn only_workers_above_min_retire_after_the_idle_timeout() {
    let t0 = Instant::now();
    let mut c = crew(1, 3);
    c.push(1);
    c.push(2); // workers 2 and 3 start
    for id in [1, 2, 3] {
        assert!(matches!(
            next(&mut c, id, t0, t0),
            Next::Run(_) | Next::Wait(_)
        ));
    }
    assert_eq!(next(&mut c, 2, t0, t0 + IDLE - SEC), Next::Wait(t0 + IDLE));
    assert_eq!(next(&mut c, 2, t0, t0 + IDLE), Next::Exit(Exit::Idle));
    assert_eq!(next(&mut c, 3, t0, t0 + IDLE), Next::Exit(Exit::Idle));
    assert_eq!(c.alive(), 1);
    // The last one stays, and, past its timeout, checks again a timeout later.
    let late = t0 + 5 * IDLE;
    assert_eq!(next(&mut c, 1, t0, late), Next::Wait(late + IDLE));
}

#[test]
fn a_worker_that_just_ran_a_batch_is_not_idle() {
    let t0 = Instant::now();
    let mut c = crew(0, 2);
    c.push(1);
    assert_eq!(next(&mut c, 1, t0, t0), Next::Run(1));
    let done = t0 + 2 * IDLE;
    assert_eq!(next(&mut c, 1, done, done), Next::Wait(done + IDLE));
    assert_eq!(next(&mut c, 1, done, done + IDLE), Next::Exit(Exit::Idle));
    assert_eq!(c.alive(), 0, "min 0: the last worker goes too");
    assert_eq!(c.push(2).start, 1, "and the next batch starts one");
}

#[test]
fn scaling_up_starts_workers_and_scaling_down_retires_them_once_free() {
    let t0 = Instant::now();
    let mut c = crew(1, 4);
    assert_eq!(next(&mut c, 1, t0, t0), Next::Wait(t0 + IDLE));
    assert_eq!(c.scale(3, 4), (2, vec![]));
    assert_eq!(c.alive(), 3);
    for id in [2, 3] {
        assert_eq!(next(&mut c, id, t0, t0), Next::Wait(t0 + IDLE));
    }
    c.push(7); // wakes worker 3, which is busy from now on
    assert_eq!(next(&mut c, 3, t0, t0), Next::Run(7));
    // Down to 1: the idle ones are woken; two of the three must go.
    let (start, mut woken) = c.scale(1, 1);
    woken.sort();
    assert_eq!((start, woken), (0, vec![1, 2]));
    assert_eq!(next(&mut c, 1, t0, t0), Next::Exit(Exit::OverMax));
    c.push(8);
    assert_eq!(
        next(&mut c, 3, t0, t0),
        Next::Exit(Exit::OverMax),
        "before its next batch"
    );
    assert_eq!(next(&mut c, 2, t0, t0), Next::Run(8));
    assert_eq!((c.alive(), c.bounds()), (1, (1, 1)));
}

#[test]
fn closing_drains_the_batches_then_every_worker_exits() {
    let t0 = Instant::now();
    let mut c = crew(2, 2);
    assert_eq!(next(&mut c, 1, t0, t0), Next::Wait(t0 + IDLE));
    c.push(1);
    c.push(2);
    assert_eq!(
        c.close(),
        Vec::<u64>::new(),
        "worker 1 was woken by the first push"
    );
    assert_eq!(next(&mut c, 1, t0, t0), Next::Run(1));
    assert_eq!(next(&mut c, 2, t0, t0), Next::Run(2));
    assert_eq!(next(&mut c, 1, t0, t0), Next::Exit(Exit::Closed));
    assert!(!c.is_done());
    assert_eq!(next(&mut c, 2, t0, t0), Next::Exit(Exit::Closed));
    assert!(c.is_done());
    assert_eq!(c.restore(), 0, "nothing restarts after close");
}

#[test]
fn lost_workers_are_replaced_and_without_any_the_batches_are_orphans() {
    let t0 = Instant::now();
    let mut c = crew(2, 2);
    assert_eq!(next(&mut c, 1, t0, t0), Next::Wait(t0 + IDLE));
    c.lost(Some(1));
    assert_eq!(
        c.push(5),
        Plan {
            wake: None,
            start: 1
        },
        "back to min"
    );
    c.lost(None); // that start failed
    c.lost(Some(2));
    assert_eq!(c.alive(), 0);
    assert_eq!(c.restore(), 2);
    c.lost(None);
    c.lost(None); // both starts failed
    assert_eq!(c.orphans(), vec![5]);
    assert_eq!(c.restore(), 2, "an empty hand-off still restores min");
}

#[test]
fn a_worker_is_idle_only_between_asking_and_being_handed_a_batch() {
    let t0 = Instant::now();
    let mut c = crew(1, 1);
    assert!(!c.has_idle(), "started, but it has not asked for work yet");
    assert_eq!(next(&mut c, 1, t0, t0), Next::Wait(t0 + IDLE));
    assert!(c.has_idle());
    c.push(1);
    assert!(!c.has_idle(), "woken for the batch: busy from now on");
    assert_eq!(next(&mut c, 1, t0, t0), Next::Run(1));
    assert!(!c.has_idle());
    let mut none = C::new(0, 1, IDLE, 2);
    assert!(
        none.has_idle(),
        "no worker alive, one may start: nothing to wait for"
    );
    none.push(1);
    assert!(!none.has_idle());
    c.close();
    assert!(!c.has_idle());
}
