//! The pipeline with real handlers in the real sandbox and a fake model behind the
//! batcher's seam: answers come back per request, and each stage's failure reaches the
//! client as TorchServe's error JSON with the right status.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferroserve_batcher::BatcherConfig;
use ferroserve_test_fixtures as fx;

fn body(r: &ferroserve_sandbox::HandlerResponse) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// Waits, polling, until `done` holds; a test's own bound, far above what it needs.
async fn until(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never saw {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_get_their_own_answer() {
    let sandbox = sandbox();
    let gate = Arc::new(Gated::default());
    // Room for all eight in one batch and no timer: the seven wait for the worker alone.
    let config = BatcherConfig::new("m")
        .batch_size(8)
        .max_batch_delay(Duration::from_secs(3600));
    let p = pipeline_with(
        &sandbox,
        fx::OK,
        Duration::from_secs(2),
        gate.clone(),
        config,
    );
    let call = |i: usize| {
        let p = p.clone();
        tokio::spawn(async move { p.infer(json(&format!("[{i}, 0.5]"))).await })
    };
    // The first request holds the only worker; the other seven queue behind it.
    let mut calls = vec![call(0)];
    until("the first batch start", || {
        gate.entered.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    calls.extend((1..8).map(call));
    until("seven queued requests", || p.batcher().stats().queued == 7).await;
    gate.open();
    for (i, call) in calls.into_iter().enumerate() {
        let response = call.await.unwrap().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            body(&response)["outputs"]["output"],
            serde_json::json!([2.0 * i as f64, 1.0])
        );
    }
    let stats = p.batcher().stats();
    assert_eq!(
        (stats.batches, stats.requests_run),
        (2, 8),
        "one alone, then the seven that queued behind it together"
    );
}

#[tokio::test]
async fn the_handlers_bad_input_is_a_400_with_its_message() {
    let sandbox = sandbox();
    let p = pipeline(&sandbox, fx::OK, Duration::from_secs(2));
    let err = ferroserve_http::ApiError::from(p.infer(json("[]")).await.unwrap_err());
    let sent: serde_json::Value = serde_json::from_slice(&err.body()).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({
            "code": 400,
            "type": "HandlerBadInput",
            "message": "send a non-empty JSON array of numbers, e.g. [1, 2, 3]"
        })
    );
}

#[tokio::test]
async fn a_model_error_is_a_500_naming_it_and_the_next_request_works() {
    let sandbox = sandbox();
    let p = pipeline(&sandbox, fx::OK, Duration::from_secs(2));
    let err = ferroserve_http::ApiError::from(p.infer(json("[-1]")).await.unwrap_err());
    assert_eq!((err.code, err.kind.as_str()), (500, "ModelForwardError"));
    assert!(
        err.message.contains("ValueError: negative input"),
        "{}",
        err.message
    );
    let ok = p.infer(json("[3]")).await.unwrap();
    assert_eq!(body(&ok)["outputs"]["output"], serde_json::json!([6.0]));
}

#[tokio::test]
async fn a_hostile_handler_is_a_5xx_and_leaves_others_untouched() {
    let sandbox = sandbox();
    let spin = pipeline(&sandbox, fx::SPIN, Duration::from_millis(100));
    let good = pipeline(&sandbox, fx::OK, Duration::from_secs(2));
    let err = ferroserve_http::ApiError::from(spin.infer(json("[1]")).await.unwrap_err());
    assert_eq!(
        (err.code, err.kind.as_str()),
        (504, "HandlerDeadlineExceeded")
    );
    let err = ferroserve_http::ApiError::from(
        pipeline(&sandbox, fx::PANIC, Duration::from_secs(1))
            .infer(json("[1]"))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.kind.as_str()), (500, "HandlerPanicked"));
    assert!(err.message.contains("fixture panicked on purpose"));
    let ok = good.infer(json("[1]")).await.unwrap();
    assert_eq!(body(&ok)["outputs"]["output"], serde_json::json!([2.0]));
}
