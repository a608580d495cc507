//! A handler call runs on a sandbox thread inside the caller's span, so what the call logs
//! (the `log` import, captured stdout/stderr, its failure) carries the request's id.
//!
//! The recorder (`ferroserve_test_fixtures::spans`) is this binary's global subscriber;
//! tests run in parallel and each only looks at lines carrying its own request ids, or its
//! own model name.

mod common;

use common::*;
use ferroserve_sandbox::{Sandbox, SandboxConfig};
use ferroserve_test_fixtures as fx;
use ferroserve_test_fixtures::spans::{all_lines, lines_where, record};
use tracing::Instrument;

fn span(id: &str) -> tracing::Span {
    tracing::info_span!("request", request_id = id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_log_line_lands_in_the_request_span_and_not_in_the_next_call() {
    record();
    // One thread, so the second call runs where the first did.
    let sandbox = Sandbox::new(SandboxConfig {
        threads: 1,
        ..config(None)
    })
    .unwrap();
    let handler = load(&sandbox, fx::OK, None, limits());
    handler
        .preprocess(body("[1.0, 2.0, 3.0]"))
        .instrument(span("sbx-log"))
        .await
        .unwrap();
    let logged = lines_where(|l| {
        l.target == "handler"
            && l.has("message", "preprocess 3 values")
            && l.has("model", "fixture_ok")
    });
    assert_eq!(logged.len(), 1, "{:?}", all_lines());
    assert_eq!(logged[0].request_id.as_deref(), Some("sbx-log"));
    // A call outside any span: the thread has left the first request's span.
    handler.preprocess(body("[1, 2, 3, 4, 5]")).await.unwrap();
    let logged = lines_where(|l| l.target == "handler" && l.has("message", "preprocess 5 values"));
    assert_eq!(logged.len(), 1, "{:?}", all_lines());
    assert_eq!(logged[0].request_id, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handlers_stderr_and_failure_land_in_the_request_span() {
    record();
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::PANIC, None, limits());
    let err = handler
        .preprocess(body("{}"))
        .instrument(span("sbx-panic"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "HandlerPanicked");
    let ours = lines_where(|l| l.request_id.as_deref() == Some("sbx-panic"));
    let stderr = ours
        .iter()
        .find(|l| l.target == "handler" && l.has("stream", "stderr"));
    let stderr = stderr.unwrap_or_else(|| panic!("no stderr line in the span: {ours:?}"));
    assert!(stderr.says("fixture panicked on purpose"), "{stderr:?}");
    assert!(
        ours.iter().any(|l| l.has("kind", "HandlerPanicked")),
        "no failure line in the span: {ours:?}"
    );
}
