//! 1,000 hostile calls in a row leave the host's resident memory within 10 % of where it
//! started. Its own test binary, so no other test's allocations move the needle.

mod common;

use std::time::Duration;

use common::*;
use ferroserve_sandbox::Limits;
use ferroserve_test_fixtures as fx;

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

#[test]
fn a_thousand_hostile_calls_leave_resident_memory_flat() {
    let files = Files::new();
    let sandbox = sandbox(None);
    let quick = Limits {
        deadline: Duration::from_millis(20),
        max_output_bytes: 1 << 20,
        ..limits()
    };
    let hostile: Vec<(ferroserve_sandbox::Handler, &str)> = vec![
        (load(&sandbox, fx::SPIN, None, quick.clone()), "{}"),
        (load(&sandbox, fx::MEMBOMB, None, quick.clone()), "{}"),
        (load(&sandbox, fx::RECURSE, None, quick.clone()), "{}"),
        (load(&sandbox, fx::PANIC, None, quick.clone()), "{}"),
        (load(&sandbox, fx::MALFORMED, None, quick.clone()), "{}"),
        (load(&sandbox, fx::SOCKET, None, quick.clone()), "{}"),
        (load(&sandbox, fx::BIG_OUTPUT, None, quick.clone()), "2"),
        (
            load(&sandbox, fx::FS_ESCAPE, Some(&files.dir()), quick.clone()),
            "up",
        ),
    ];
    let run = |n: usize| {
        for i in 0..n {
            let (handler, body_text) = &hostile[i % hostile.len()];
            let (result, _) = handler.preprocess_blocking(body(body_text));
            assert!(result.is_err(), "{} should fail", handler.name());
        }
    };
    // Warm-up: let allocator arenas, pool slots and lazy statics settle first.
    run(200);
    let before = resident_bytes();
    run(1000);
    let after = resident_bytes();
    eprintln!(
        "resident: {} MiB before, {} MiB after",
        before >> 20,
        after >> 20
    );
    assert!(
        after as f64 <= before as f64 * 1.10,
        "resident memory grew from {before} to {after} bytes"
    );
    assert_well_behaved_works(&sandbox);
}
