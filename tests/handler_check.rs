//! The real `ferroserve` binary checks handler components.

mod common;

use common::ferroserve;
use ferroserve_test_fixtures as fx;

#[test]
fn a_good_handler_passes_and_runs_a_sample() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, "[1, 2, 3]").unwrap();
    let (code, out) = ferroserve(&["handler", "check", fx::OK, "--body", body.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("implements ferroserve:handler@0.2.0 (compiled runtime)"),
        "{out}"
    );
    assert!(out.contains(r#"tensor "input": f32 [3]"#), "{out}");
}

#[test]
fn a_component_of_another_world_fails_with_the_reason() {
    let (code, out) = ferroserve(&["handler", "check", fx::OTHER_WORLD]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("HandlerWorldMismatch"), "{out}");
}

#[test]
fn a_hostile_sample_reports_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    std::fs::write(&body, "{}").unwrap();
    let (code, out) = ferroserve(&[
        "handler",
        "check",
        fx::SPIN,
        "--body",
        body.to_str().unwrap(),
        "--deadline-ms",
        "100",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("HandlerDeadlineExceeded"), "{out}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let (code, out) = ferroserve(&["handler", "check", "/nonexistent/handler.wasm"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("reading /nonexistent/handler.wasm"), "{out}");
}
