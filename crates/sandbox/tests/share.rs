//! CPU fair share between groups (tenants): a group's looping calls are throttled only
//! while another group is busy, and still stop at their deadline.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use ferroserve_sandbox::{Limits, SandboxError};
use ferroserve_test_fixtures as fx;

fn spin_limits() -> Limits {
    Limits {
        deadline: Duration::from_millis(200),
        ..limits()
    }
}

fn assert_stopped_on_time(result: Result<impl std::fmt::Debug, SandboxError>, elapsed: Duration) {
    let err = result.unwrap_err();
    assert!(
        matches!(err, SandboxError::DeadlineExceeded { .. }),
        "{err:?}"
    );
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed <= Duration::from_millis(300), "{elapsed:?}");
}

#[test]
fn alone_a_looping_call_is_not_throttled() {
    let _turn = one_at_a_time();
    let sandbox = sandbox(None);
    let spin = load_in(&sandbox, "a", fx::SPIN, None, spin_limits());
    let (result, report) = spin.preprocess_blocking(body("{}"));
    assert_eq!(report.throttled, Duration::ZERO);
    assert_stopped_on_time(result, report.elapsed);
    assert_eq!(spin.throttled_total(), Duration::ZERO);
}

#[test]
fn while_another_group_is_busy_looping_calls_take_turns_and_rest() {
    let _turn = one_at_a_time();
    let sandbox = Arc::new(sandbox(None));
    let spin = Arc::new(load_in(&sandbox, "a", fx::SPIN, None, spin_limits()));
    let ok = load_in(&sandbox, "b", fx::OK, None, limits());
    let done = Arc::new(AtomicBool::new(false));
    // Group b calls all along; every one of its calls must succeed.
    let b = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut calls = 0u32;
            while !done.load(Ordering::Relaxed) {
                let (result, _) = ok.preprocess_blocking(body("[1.0]"));
                result.expect("group b's call should succeed");
                calls += 1;
            }
            calls
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    // Round 1: found looping at their first tick. Round 2: known long runners, throttled
    // before they start (below 8 cores, one waits out its deadline for the other's turn).
    for round in 1..=2 {
        assert_eq!(spin.runs_long(), round == 2);
        let looping: Vec<_> = (0..2)
            .map(|_| {
                let spin = spin.clone();
                std::thread::spawn(move || spin.preprocess_blocking(body("{}")))
            })
            .collect();
        for call in looping {
            let (result, report) = call.join().unwrap();
            // Each either rested after its ticks or waited for the other's turn.
            assert!(report.throttled >= Duration::from_millis(30), "{report:?}");
            assert_stopped_on_time(result, report.elapsed);
        }
    }
    assert!(spin.throttled_total() >= Duration::from_millis(4 * 30));
    done.store(true, Ordering::Relaxed);
    assert!(b.join().unwrap() > 0);
}
