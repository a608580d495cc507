//! `State` driven through time by hand: no runtime, no sleeps.

use std::time::{Duration, Instant};

use ferroserve_tensor::Tensor;
use tokio::sync::oneshot;

use super::Patience::{Delay, Full, Now};
use super::*;
use crate::entry::Outcome;

const MS: Duration = Duration::from_millis(1);
const LONG: Duration = Duration::from_secs(60);

/// A request whose input `x` has `len` elements all equal to `tag`.
fn req(tag: f32, len: u64, at: Instant, deadline: Instant) -> (Entry, oneshot::Receiver<Outcome>) {
    let x = Tensor::from_f32("x", vec![len], &vec![tag; len as usize]).unwrap();
    Entry::new(vec![x], at, deadline)
}

fn tags(batch: &[Entry]) -> Vec<f32> {
    batch
        .iter()
        .map(|e| e.inputs[0].to_f32().unwrap()[0])
        .collect()
}

/// Pushes one request per (tag, len), all at `at`; keeps the receivers alive.
fn push_all(s: &mut State, reqs: &[(f32, u64)], at: Instant) -> Vec<oneshot::Receiver<Outcome>> {
    reqs.iter()
        .map(|&(tag, len)| {
            let (e, rx) = req(tag, len, at, at + LONG);
            assert!(s.push(e, at).is_ok());
            rx
        })
        .collect()
}

#[test]
fn a_full_batch_is_ready_at_once_in_fifo_order() {
    let t0 = Instant::now();
    let mut s = State::new(3, 10 * MS, 16);
    let _rx = push_all(&mut s, &[(1.0, 2), (2.0, 2), (3.0, 2), (4.0, 2)], t0);
    assert!(s.is_ready(t0, Delay));
    assert_eq!(tags(&s.next_batch(t0, Delay).unwrap()), vec![1.0, 2.0, 3.0]);
    assert_eq!(s.len(), 1);
    assert!(
        !s.is_ready(t0, Delay),
        "one request is a partial batch inside its delay"
    );
    assert!(s.next_batch(t0, Delay).is_none());
}

#[test]
fn a_partial_batch_waits_for_the_delay_of_its_oldest_request() {
    let t0 = Instant::now();
    let mut s = State::new(4, 10 * MS, 16);
    let _a = push_all(&mut s, &[(1.0, 2)], t0);
    let _b = push_all(&mut s, &[(2.0, 2)], t0 + 3 * MS);
    assert_eq!(s.next_wakeup(t0 + 3 * MS, Delay), Some(t0 + 10 * MS));
    assert!(s.next_batch(t0 + 9 * MS, Delay).is_none());
    assert_eq!(
        tags(&s.next_batch(t0 + 10 * MS, Delay).unwrap()),
        vec![1.0, 2.0]
    );
    assert!(s.is_empty());
    assert_eq!(s.next_wakeup(t0 + 10 * MS, Delay), None);
}

#[test]
fn requests_of_another_shape_go_to_another_batch() {
    let t0 = Instant::now();
    let mut s = State::new(2, 10 * MS, 16);
    let _rx = push_all(&mut s, &[(1.0, 2), (2.0, 3), (3.0, 2), (4.0, 3)], t0);
    assert_eq!(tags(&s.next_batch(t0, Delay).unwrap()), vec![1.0, 3.0]);
    assert_eq!(tags(&s.next_batch(t0, Delay).unwrap()), vec![2.0, 4.0]);
    assert!(s.is_empty());
}

#[test]
fn a_full_batch_does_not_idle_behind_an_older_partial_one() {
    let t0 = Instant::now();
    let mut s = State::new(2, 10 * MS, 16);
    let _rx = push_all(&mut s, &[(1.0, 2), (2.0, 3), (3.0, 3)], t0);
    assert_eq!(tags(&s.next_batch(t0, Delay).unwrap()), vec![2.0, 3.0]);
    assert!(s.next_batch(t0 + 5 * MS, Delay).is_none());
    assert_eq!(tags(&s.next_batch(t0 + 10 * MS, Delay).unwrap()), vec![1.0]);
}

#[test]
fn once_its_delay_is_up_the_oldest_request_goes_first() {
    let t0 = Instant::now();
    let mut s = State::new(2, 10 * MS, 16);
    let _a = push_all(&mut s, &[(1.0, 2)], t0);
    let _b = push_all(&mut s, &[(2.0, 3), (3.0, 3)], t0 + MS);
    // No worker was free until now: both groups are ready, the older head wins.
    let now = t0 + 20 * MS;
    assert_eq!(tags(&s.next_batch(now, Delay).unwrap()), vec![1.0]);
    assert_eq!(tags(&s.next_batch(now, Delay).unwrap()), vec![2.0, 3.0]);
}

#[test]
fn expired_requests_leave_the_queue_and_set_the_timer() {
    let t0 = Instant::now();
    let mut s = State::new(4, 100 * MS, 16);
    let (short, _r1) = req(1.0, 2, t0, t0 + 5 * MS);
    let (long, _r2) = req(2.0, 2, t0, t0 + 50 * MS);
    assert!(s.push(short, t0).is_ok() && s.push(long, t0).is_ok());
    assert_eq!(s.next_wakeup(t0, Delay), Some(t0 + 5 * MS));
    assert!(s.take_expired(t0 + 4 * MS).is_empty());
    let expired = s.take_expired(t0 + 5 * MS);
    assert_eq!(tags(&expired), vec![1.0]);
    assert_eq!(
        expired[0].timeout(t0 + 5 * MS),
        BatchError::Timeout { waited: 5 * MS }
    );
    assert_eq!(s.len(), 1);
    assert_eq!(s.next_wakeup(t0 + 5 * MS, Delay), Some(t0 + 50 * MS));
    assert_eq!(
        tags(&s.next_batch(t0 + 100 * MS, Delay).unwrap()),
        vec![2.0]
    );
}

#[test]
fn a_request_already_past_its_deadline_is_refused() {
    let t0 = Instant::now();
    let mut s = State::new(1, MS, 4);
    let (e, _rx) = req(1.0, 2, t0, t0);
    let rejected = s.push(e, t0 + 2 * MS).err().unwrap();
    assert_eq!(rejected.error, BatchError::Timeout { waited: 2 * MS });
    assert!(s.is_empty());
}

#[test]
fn a_full_queue_refuses_with_overloaded() {
    let t0 = Instant::now();
    let mut s = State::new(1, MS, 2);
    let _rx = push_all(&mut s, &[(1.0, 2), (2.0, 2)], t0);
    let (third, _r3) = req(3.0, 2, t0, t0 + LONG);
    let rejected = s.push(third, t0).err().unwrap();
    assert_eq!(rejected.error, BatchError::Overloaded { capacity: 2 });
    assert_eq!(tags(&[rejected.entry]), vec![3.0]);
    assert_eq!(s.len(), 2);
}

#[test]
fn a_full_queue_sends_partial_batches_without_waiting_for_the_delay() {
    let t0 = Instant::now();
    let mut s = State::new(4, LONG, 3);
    let _rx = push_all(&mut s, &[(1.0, 2), (2.0, 3), (3.0, 2)], t0);
    assert!(s.is_ready(t0, Delay));
    assert_eq!(tags(&s.next_batch(t0, Delay).unwrap()), vec![1.0, 3.0]);
    assert!(
        !s.is_ready(t0, Delay),
        "with room in the queue, the rest waits for its delay"
    );
}

#[test]
fn a_cancelled_request_frees_its_place_when_the_queue_is_full() {
    let t0 = Instant::now();
    let mut s = State::new(4, MS, 2);
    let mut rx = push_all(&mut s, &[(1.0, 2), (2.0, 2)], t0);
    drop(rx.remove(0));
    let (third, _r3) = req(3.0, 2, t0, t0 + LONG);
    assert!(s.push(third, t0).is_ok());
    assert_eq!(s.take_cancelled(), 1);
    assert_eq!(tags(&s.next_batch(t0 + MS, Delay).unwrap()), vec![2.0, 3.0]);
    assert_eq!(
        s.next_wakeup(t0 + MS, Delay),
        None,
        "the cancelled request's deadline is gone too"
    );
}

#[test]
fn cancelled_requests_never_reach_a_batch() {
    let t0 = Instant::now();
    let mut s = State::new(3, MS, 8);
    let mut rx = push_all(&mut s, &[(1.0, 2), (2.0, 2), (3.0, 2), (4.0, 2)], t0);
    drop(rx.remove(1));
    assert_eq!(tags(&s.next_batch(t0, Delay).unwrap()), vec![1.0, 3.0, 4.0]);
    assert_eq!(s.take_cancelled(), 1);
    assert_eq!(s.take_cancelled(), 0);
}

#[test]
fn a_group_of_only_cancelled_requests_yields_the_next_group() {
    let t0 = Instant::now();
    let mut s = State::new(2, MS, 8);
    let mut rx = push_all(&mut s, &[(1.0, 2), (2.0, 3)], t0);
    drop(rx.remove(0));
    assert_eq!(tags(&s.next_batch(t0 + MS, Delay).unwrap()), vec![2.0]);
    assert!(s.is_empty());
}

#[test]
fn a_lone_request_is_never_held_while_a_worker_idles() {
    let t0 = Instant::now();
    let mut s = State::new(8, LONG, 16);
    let _rx = push_all(&mut s, &[(1.0, 2)], t0);
    // Every worker busy: it waits for companions (up to the delay).
    assert!(!s.is_ready(t0, Delay));
    assert_eq!(s.next_wakeup(t0, Delay), Some(t0 + LONG));
    // A worker idle: it goes now, alone, though the delay is a minute.
    assert!(s.is_ready(t0, Now));
    assert_eq!(tags(&s.next_batch(t0, Now).unwrap()), vec![1.0]);
    assert!(s.is_empty());
}

#[test]
fn with_no_worker_to_spare_a_partial_batch_waits_past_its_delay_for_what_gathers() {
    let t0 = Instant::now();
    let mut s = State::new(4, 10 * MS, 16);
    let _r1 = push_all(&mut s, &[(1.0, 2)], t0);
    let late = t0 + 20 * MS;
    // A worker could start for it: past its delay it goes.
    assert!(s.is_ready(late, Delay));
    // None can: handed over now it would run alone before what gathers behind it.
    assert!(!s.is_ready(late, Full));
    assert!(s.next_batch(late, Full).is_none());
    let _r2 = push_all(&mut s, &[(2.0, 2), (3.0, 2)], late);
    assert!(!s.is_ready(late + MS, Full));
    // The worker frees: everything gathered goes as one batch.
    assert_eq!(
        tags(&s.next_batch(late + MS, Now).unwrap()),
        vec![1.0, 2.0, 3.0]
    );
    // A full batch needs no spare worker: it waits in the hand-off for the next free one.
    let _r3 = push_all(
        &mut s,
        &[(4.0, 2), (5.0, 2), (6.0, 2), (7.0, 2), (8.0, 2)],
        late,
    );
    assert_eq!(
        tags(&s.next_batch(late, Full).unwrap()),
        vec![4.0, 5.0, 6.0, 7.0]
    );
    assert!(s.next_batch(late + LONG, Full).is_none());
    assert_eq!(s.len(), 1);
}

#[test]
fn with_no_worker_to_spare_a_delay_sets_no_timer() {
    let t0 = Instant::now();
    let mut s = State::new(4, 10 * MS, 16);
    let _rx = push_all(&mut s, &[(1.0, 2)], t0);
    assert_eq!(s.next_wakeup(t0, Delay), Some(t0 + 10 * MS));
    // Its delay decides nothing then: only the deadline wakes the queue.
    assert_eq!(s.next_wakeup(t0, Full), Some(t0 + LONG));
}

#[test]
fn an_idle_worker_takes_everything_gathered_up_to_the_batch_size() {
    let t0 = Instant::now();
    let mut s = State::new(4, LONG, 16);
    // What gathered while the only worker ran the last batch: six of one shape, one other.
    let _rx = push_all(
        &mut s,
        &[
            (1.0, 2),
            (2.0, 2),
            (3.0, 3),
            (4.0, 2),
            (5.0, 2),
            (6.0, 2),
            (7.0, 2),
        ],
        t0,
    );
    // The full batch was ready anyway; the oldest group goes first.
    assert_eq!(
        tags(&s.next_batch(t0, Delay).unwrap()),
        vec![1.0, 2.0, 4.0, 5.0]
    );
    assert!(
        !s.is_ready(t0, Delay),
        "the rest are partial batches inside their delay"
    );
    // The worker is idle again: the oldest partial batch goes whole, then the next.
    assert_eq!(tags(&s.next_batch(t0, Now).unwrap()), vec![3.0]);
    assert_eq!(tags(&s.next_batch(t0, Now).unwrap()), vec![6.0, 7.0]);
    assert!(s.next_batch(t0, Now).is_none());
}

#[test]
fn flush_ignores_the_delay() {
    let t0 = Instant::now();
    let mut s = State::new(8, LONG, 8);
    let _rx = push_all(&mut s, &[(1.0, 2), (2.0, 3)], t0);
    assert!(!s.is_ready(t0, Delay));
    assert_eq!(tags(&s.next_batch(t0, Now).unwrap()), vec![1.0]);
    assert_eq!(tags(&s.next_batch(t0, Now).unwrap()), vec![2.0]);
}

#[test]
fn a_group_waiting_for_a_worker_sets_no_timer() {
    let t0 = Instant::now();
    let mut s = State::new(2, MS, 8);
    let (e, _rx) = req(1.0, 2, t0, t0 + LONG);
    assert!(s.push(e, t0).is_ok());
    // Ready since t0 + 1 ms; the actor waits for a worker, not for a timer.
    assert!(s.is_ready(t0 + 5 * MS, Delay));
    assert_eq!(s.next_wakeup(t0 + 5 * MS, Delay), Some(t0 + LONG));
}

#[test]
fn many_shapes_coming_and_going_keep_few_groups() {
    let t0 = Instant::now();
    let mut s = State::new(1, MS, 4);
    for len in 1..100 {
        let _rx = push_all(&mut s, &[(len as f32, len)], t0);
        assert_eq!(tags(&s.next_batch(t0, Delay).unwrap()), vec![len as f32]);
    }
    assert!(s.groups.len() <= KEEP_GROUPS + 1);
}
