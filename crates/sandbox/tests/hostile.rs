//! Every hostile fixture yields its typed outcome, and the well-behaved handler works
//! right after it in the same process.

mod common;

use std::time::Duration;

use common::*;
use ferroserve_sandbox::{Limits, SandboxError};
use ferroserve_test_fixtures as fx;

fn preprocess_err(fixture: &str, limits: Limits, request: &str) -> SandboxError {
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fixture, None, limits);
    let (result, _) = handler.preprocess_blocking(body(request));
    let err = result
        .err()
        .unwrap_or_else(|| panic!("{fixture} should fail"));
    assert_well_behaved_works(&sandbox);
    err
}

#[test]
fn infinite_loop_hits_the_deadline_on_time() {
    let _turn = one_at_a_time();
    let sandbox = sandbox(None);
    let deadline = Duration::from_millis(200);
    let handler = load(
        &sandbox,
        fx::SPIN,
        None,
        Limits {
            deadline,
            ..limits()
        },
    );
    assert!(!handler.runs_long());
    // The second call starts demoted (the handler is now known to run long): the deadline
    // must hold on that path too.
    for _ in 0..2 {
        let (result, report) = handler.preprocess_blocking(body("{}"));
        let err = result.unwrap_err();
        assert!(
            matches!(err, SandboxError::DeadlineExceeded { .. }),
            "{err:?}"
        );
        assert_eq!(err.kind(), "HandlerDeadlineExceeded");
        // Acceptance: stopped within the deadline + 100 ms, and not before it.
        assert!(report.elapsed >= deadline, "{:?}", report.elapsed);
        assert!(
            report.elapsed <= deadline + Duration::from_millis(100),
            "{:?}",
            report.elapsed
        );
        assert!(handler.runs_long());
    }
    assert_well_behaved_works(&sandbox);
}

#[test]
fn short_calls_are_not_marked_long() {
    let _turn = one_at_a_time();
    let sandbox = sandbox(None);
    let ok = load(&sandbox, fx::OK, None, limits());
    // Back-to-back calls for 20 epoch ticks: ticks land inside calls (which used to demote
    // them), yet none runs 10 ms.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(200) {
        ok.preprocess_blocking(body("[1.0]")).0.unwrap();
    }
    assert!(!ok.runs_long());
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let _turn = one_at_a_time();
    let err = preprocess_err(fx::MEMBOMB, limits(), "{}");
    assert!(
        matches!(err, SandboxError::MemoryLimit { limit } if limit == 32 << 20),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the handler exceeded its memory limit of 32 MiB and was stopped"
    );
}

#[test]
fn deep_recursion_is_a_trap() {
    let _turn = one_at_a_time();
    let err = preprocess_err(fx::RECURSE, limits(), "{}");
    assert_eq!(err.kind(), "HandlerTrapped");
    let msg = err.to_string();
    assert!(
        msg.contains("stack overflow") || msg.contains("deep recursion"),
        "{msg}"
    );
}

#[test]
fn panic_carries_the_guest_message() {
    let _turn = one_at_a_time();
    let err = preprocess_err(fx::PANIC, limits(), "{}");
    assert_eq!(err.kind(), "HandlerPanicked");
    assert!(
        err.to_string().contains("fixture panicked on purpose"),
        "{err}"
    );
}

#[test]
fn malformed_tensor_is_refused() {
    let _turn = one_at_a_time();
    let err = preprocess_err(fx::MALFORMED, limits(), "{}");
    assert_eq!(err.kind(), "HandlerMalformedTensor");
    assert!(
        err.to_string().contains("needs 16 bytes but has 3"),
        "{err}"
    );
}

#[test]
fn oversized_outputs_are_refused_in_both_directions() {
    let _turn = one_at_a_time();
    let limits = Limits {
        max_output_bytes: 1 << 20,
        memory_bytes: 64 << 20,
        ..limits()
    };
    let err = preprocess_err(fx::BIG_OUTPUT, limits.clone(), "2");
    assert!(
        // The data and the context, plus the name, the shape and 64 bytes for the tensor.
        matches!(err, SandboxError::OutputTooLarge { limit, actual } if limit == 1 << 20 && actual == (2 << 20) + 8 + 5 + 8 + 64),
        "{err:?}"
    );

    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::BIG_OUTPUT, None, limits);
    let (result, _) = handler.postprocess_blocking(&[], &(3u64 << 20).to_le_bytes());
    let err = result.unwrap_err();
    assert!(
        matches!(err, SandboxError::OutputTooLarge { actual, .. } if actual == 3 << 20),
        "{err:?}"
    );
}

#[test]
fn stdout_flood_is_captured_bounded_and_counted() {
    let _turn = one_at_a_time();
    let sandbox = sandbox(None);
    // Writing 100 MB takes longer than the other fixtures' default deadline.
    let limits = Limits {
        deadline: Duration::from_secs(10),
        ..limits()
    };
    let handler = load(&sandbox, fx::STDOUT_FLOOD, None, limits.clone());
    let (result, report) = handler.preprocess_blocking(body("{}"));
    result.expect("a chatty handler still succeeds");
    let cap = limits.max_log_bytes;
    assert_eq!(report.stdout.len(), cap);
    assert_eq!(report.stdout_dropped, (100u64 << 20) - cap as u64);
    assert_eq!(report.stderr.len(), cap);
    assert_eq!(report.stderr_dropped, (1u64 << 20) + 1 - cap as u64);
    eprintln!("100 MB of stdout took {:?}", report.elapsed);
    assert_well_behaved_works(&sandbox);
}

#[test]
fn sockets_are_refused() {
    let _turn = one_at_a_time();
    let err = preprocess_err(fx::SOCKET, limits(), "{}");
    // The fixture reports BadInput only when tcp, udp and listen all failed.
    assert_eq!(err.kind(), "HandlerBadInput", "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("tcp:") && msg.contains("udp:") && msg.contains("listen:"),
        "{msg}"
    );
}

#[test]
fn bad_input_carries_the_handlers_message() {
    let _turn = one_at_a_time();
    let err = preprocess_err(fx::OK, limits(), "[]");
    assert_eq!(err.kind(), "HandlerBadInput");
    assert_eq!(
        err.to_string(),
        "send a non-empty JSON array of numbers, e.g. [1, 2, 3]"
    );
    let err = preprocess_err(fx::OK, limits(), "not json");
    assert!(
        err.to_string()
            .starts_with("the request body is not the JSON this model expects"),
        "{err}"
    );
}

#[test]
fn components_of_other_shapes_are_refused_at_load() {
    let _turn = one_at_a_time();
    let sandbox = sandbox(None);
    let other = fx::bytes(fx::OTHER_WORLD);
    let err = sandbox.load("other", &other, None, limits()).err().unwrap();
    assert_eq!(err.kind(), "HandlerWorldMismatch", "{err}");

    // The right names with the wrong types: refused at load by the export type check.
    let wrong = fx::bytes(fx::WRONG_TYPE);
    let err = sandbox.load("wrong", &wrong, None, limits()).err().unwrap();
    assert_eq!(err.kind(), "HandlerWorldMismatch", "{err}");
    assert!(
        err.to_string().contains("exports do not have the types"),
        "{err}"
    );

    // A core module (the magic and version of wasm 1.0, layer 0) is not a component.
    let module = b"\0asm\x01\0\0\0";
    let err = sandbox
        .load("module", module, None, limits())
        .err()
        .unwrap();
    assert_eq!(err.kind(), "HandlerNotAComponent", "{err}");

    let err = sandbox
        .load("junk", b"PK\x03\x04", None, limits())
        .err()
        .unwrap();
    assert_eq!(err.kind(), "HandlerNotAComponent", "{err}");
}

#[test]
fn a_memory_limit_above_the_servers_ceiling_is_refused_at_load() {
    let _turn = one_at_a_time();
    let sandbox = sandbox(None); // ceiling: 256 MiB
    let limits = Limits {
        memory_bytes: 512 << 20,
        ..limits()
    };
    let err = sandbox
        .load("greedy", &fx::bytes(fx::OK), None, limits)
        .err()
        .unwrap();
    assert_eq!(err.kind(), "HandlerLimitTooHigh");
    assert_eq!(
        err.to_string(),
        "the handler memory limit of 512 MiB is above this server's maximum of 256 MiB; ask for less"
    );
}

#[test]
fn a_clock_wait_ends_at_the_deadline() {
    let _turn = one_at_a_time();
    let deadline = Duration::from_millis(300);
    let limits = Limits {
        deadline,
        ..limits()
    };
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::SLEEP, None, limits);
    // It asks for two 10 s sleeps; the first ends at the deadline, the second traps.
    let (result, report) = handler.preprocess_blocking(body("10"));
    let err = result.unwrap_err();
    assert!(
        matches!(err, SandboxError::DeadlineExceeded { .. }),
        "{err:?}"
    );
    assert!(report.elapsed >= deadline, "{:?}", report.elapsed);
    assert!(
        report.elapsed <= deadline + Duration::from_millis(150),
        "slept past the deadline: {:?}",
        report.elapsed
    );
    // A short sleep within the deadline is just a sleep.
    let (result, _) = handler.preprocess_blocking(body("0"));
    result.expect("sleeping 0 s is fine");
    assert_well_behaved_works(&sandbox);
}

#[test]
fn exit_is_named_with_its_code() {
    let _turn = one_at_a_time();
    let err = preprocess_err(fx::EXIT, limits(), "{}");
    let message = err.to_string();
    // WASI 0.2's exit carries success or failure only: exit(3) arrives as exit(1).
    assert!(
        message.contains("exited the process (status 1)"),
        "{message}"
    );
    assert!(!message.contains("wasm backtrace"), "{message}");
    assert_eq!(err.kind(), "HandlerTrapped", "{err:?}");
}

#[test]
fn a_million_empty_tensors_are_refused_by_count_and_size() {
    let _turn = one_at_a_time();
    let limits = Limits {
        deadline: Duration::from_secs(10),
        ..limits()
    };
    // A million do not even fit in the guest's memory grant.
    let err = preprocess_err(fx::MANY_OUTPUTS, limits.clone(), "1000000");
    assert_eq!(err.kind(), "HandlerMemoryLimitExceeded", "{err:?}");
    let err = preprocess_err(fx::MANY_OUTPUTS, limits.clone(), "2000");
    assert_eq!(err.kind(), "HandlerMalformedTensor", "{err:?}");
    assert!(err.to_string().contains("at most 1024"), "{err}");
    // Under the count, names and shapes still count against the byte cap.
    let small = Limits {
        max_output_bytes: 64 << 10,
        ..limits
    };
    let err = preprocess_err(fx::MANY_OUTPUTS, small, "1000");
    assert!(
        matches!(err, SandboxError::OutputTooLarge { .. }),
        "{err:?}"
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn opening_files_in_a_loop_stops_at_the_resource_cap_and_closes_them() {
    let _turn = one_at_a_time();
    let files = Files::new();
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::OPEN_FILES, Some(&files.dir()), limits());
    // Under the cap it works: what a real handler does.
    let (result, _) = handler.preprocess_blocking(body("100"));
    assert_eq!(result.unwrap().inputs[0].to_f32().unwrap(), vec![100.0]);
    let before = open_fds();
    for n in ["20000", "257", "1000000"] {
        let (result, _) = handler.preprocess_blocking(body(n));
        let err = result.unwrap_err();
        assert!(
            matches!(err, SandboxError::TooManyResources { limit: 256 }),
            "{n}: {err:?}"
        );
        assert_eq!(err.kind(), "HandlerResourceLimitExceeded");
        assert!(
            err.to_string().contains("more than 256 open files"),
            "{err}"
        );
    }
    // Every descriptor the calls opened is closed with their stores (768 would leak
    // otherwise; the margin is for other tests in this binary).
    assert!(
        open_fds() <= before + 32,
        "{} fds after, {before} before",
        open_fds()
    );
    assert_well_behaved_works(&sandbox);
}
