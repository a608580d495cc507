//! One request, one span: the request id the HTTP layer gives a request reaches the log
//! lines written for it on other threads, a handler's own `log` line (on a sandbox thread)
//! and a failed batch's warning (on a model worker thread). The recording subscriber
//! (`ferroserve_test_fixtures::spans`) keeps each event with the `request_id` of the spans
//! around it.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::app::TestApp;
use ferroserve_test_fixtures::spans::{all_lines, lines_where, record};
use tower::ServiceExt;

async fn predict(t: &TestApp, id: &str, body: &'static str) -> u16 {
    let request = Request::post("/predictions/echo")
        .header("content-type", "application/json")
        .header("x-request-id", id)
        .body(Body::from(body))
        .unwrap();
    let response = t.app.inference.clone().oneshot(request).await.unwrap();
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_on_other_threads_carry_the_request_id() {
    record();
    let t = TestApp::open();
    t.register(None, "echo.mar", "").await.ok();
    assert_eq!(predict(&t, "req-handler-log", "[1, 2]").await, 200);
    // The fake model raises on a negative input: the batch fails on a worker thread.
    assert_eq!(predict(&t, "req-failed-batch", "[-1]").await, 500);
    let handler_line = lines_where(|l| l.target == "handler" && l.says("preprocess 2 values"));
    let handler_line = handler_line
        .first()
        .unwrap_or_else(|| panic!("no handler log line in {:#?}", all_lines()));
    assert_eq!(handler_line.request_id.as_deref(), Some("req-handler-log"));
    let failed = lines_where(|l| l.says("batch failed"));
    let failed = failed
        .first()
        .unwrap_or_else(|| panic!("no failed-batch warning in {:#?}", all_lines()));
    assert_eq!(failed.request_id.as_deref(), Some("req-failed-batch"));
}
