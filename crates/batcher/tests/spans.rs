//! A request's span follows it onto the worker thread: when its batch fails, the log line is
//! emitted inside the span `submit` was called in, so it carries the request's id.
//!
//! The recorder (`ferroserve_test_fixtures::spans`) is this binary's global subscriber;
//! tests run in parallel and each only looks at lines carrying its own request ids.

mod common;

use std::time::Duration;

use common::*;
use ferroserve_batcher::{BatchError, Batcher, BatcherConfig};
use ferroserve_test_fixtures::spans::{Line, all_lines, lines_where, record};
use tracing::Instrument;

/// The lines with `message` emitted inside the span of request `id`.
fn lines_of(id: &str, message: &str) -> Vec<Line> {
    lines_where(|l| l.request_id.as_deref() == Some(id) && l.has("message", message))
}

/// `submit` inside a `request{request_id}` span, as the HTTP layer does.
async fn submit_as(
    batcher: &Batcher,
    id: &str,
    v: f32,
) -> Result<Vec<ferroserve_tensor::Tensor>, BatchError> {
    let span = tracing::info_span!("request", request_id = id);
    batcher
        .submit(request(v, &[2]), later())
        .instrument(span)
        .await
}

#[tokio::test]
async fn a_failed_batch_is_logged_inside_the_request_span() {
    record();
    let batcher = Batcher::spawn(BatcherConfig::new("spans/fail"), Fake::new()).unwrap();
    let err = submit_as(&batcher, "req-fail", POISON_ERROR)
        .await
        .unwrap_err();
    assert!(matches!(err, BatchError::Run(_)), "{err}");
    let lines = lines_of("req-fail", "batch failed");
    assert_eq!(lines.len(), 1, "{:?}", all_lines());
    let line = &lines[0];
    assert!(
        line.has("model", "spans/fail") && line.has("batch", "1"),
        "{line:?}"
    );
    assert!(line.has("error", &err.to_string()), "{line:?}");
    batcher.shutdown().await;
}

#[tokio::test]
async fn a_runner_panic_is_logged_inside_the_request_span() {
    record();
    let batcher = Batcher::spawn(BatcherConfig::new("spans/panic"), Fake::new()).unwrap();
    let err = submit_as(&batcher, "req-panic", POISON_PANIC)
        .await
        .unwrap_err();
    assert!(matches!(err, BatchError::WorkerPanicked(_)), "{err}");
    let lines = lines_of("req-panic", "model runner panicked");
    assert_eq!(lines.len(), 1, "{:?}", all_lines());
    let line = &lines[0];
    assert!(
        line.has("model", "spans/panic") && line.has("batch", "1"),
        "{line:?}"
    );
    assert!(
        line.has("message", "boom: the fake model fell over"),
        "{line:?}"
    );
    batcher.shutdown().await;
}

#[tokio::test]
async fn a_failed_batch_of_two_logs_both_request_ids() {
    record();
    // Both requests wait for each other (the batch is full at two), then fail together.
    let config = BatcherConfig::new("spans/two")
        .batch_size(2)
        .max_batch_delay(Duration::from_secs(30));
    let fake = Fake::new();
    let batcher = Batcher::spawn(config, fake.clone()).unwrap();
    let (a, b) = tokio::join!(
        submit_as(&batcher, "req-two-a", 1.0),
        submit_as(&batcher, "req-two-b", POISON_ERROR),
    );
    assert!(matches!(a, Err(BatchError::Run(_))) && matches!(b, Err(BatchError::Run(_))));
    assert_eq!(fake.sizes(), vec![2]);
    for id in ["req-two-a", "req-two-b"] {
        let lines = lines_of(id, "batch failed");
        assert_eq!(lines.len(), 1, "{id}: {:?}", all_lines());
        assert!(lines[0].has("model", "spans/two") && lines[0].has("batch", "2"));
    }
    batcher.shutdown().await;
}
