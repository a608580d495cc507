//! The batcher against a fake model: answers, batch formation, and failures that stay inside
//! their batch.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ferroserve_batcher::{BatchError, Batcher, BatcherConfig};

const GUARD: Duration = Duration::from_secs(10);

fn config(batch_size: usize, delay_ms: u64, workers: usize) -> BatcherConfig {
    BatcherConfig::new("fake")
        .batch_size(batch_size)
        .max_batch_delay(Duration::from_millis(delay_ms))
        .capacity(1024)
        .workers(workers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_gets_its_outputs_without_the_batch_dim() {
    let fake = Fake::new();
    let b = Batcher::spawn(config(1, 0, 1), fake.clone()).unwrap();
    let out = b.submit(request(1.5, &[2, 3]), later()).await.unwrap();
    assert_answer(&out, 1.5, &[2, 3]);
    let out = b.submit(request(4.0, &[]), later()).await.unwrap();
    assert_answer(&out, 4.0, &[]);
    assert_eq!(fake.sizes(), vec![1, 1]);
    assert_eq!(b.queue_len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_arriving_together_share_one_batch() {
    let fake = Fake::new();
    // The delay is an hour: only a full batch can run.
    let b = Batcher::spawn(config(4, 3_600_000, 1), fake.clone()).unwrap();
    let r = |v: f32| b.submit(request(v, &[3]), later());
    let all = async { tokio::join!(r(0.0), r(1.0), r(2.0), r(3.0)) };
    let (o0, o1, o2, o3) = tokio::time::timeout(GUARD, all).await.unwrap();
    for (i, out) in [o0, o1, o2, o3].into_iter().enumerate() {
        assert_answer(&out.unwrap(), i as f32, &[3]);
    }
    assert_eq!(fake.sizes(), vec![4]);
    assert_eq!(b.stats().batches, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_request_waits_for_the_batch_delay_then_runs_alone() {
    let fake = Fake::new();
    let b = Batcher::spawn(config(8, 30, 1), fake.clone()).unwrap();
    let start = Instant::now();
    let out = b.submit(request(2.0, &[4]), later()).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(30),
        "ran before the delay was up"
    );
    assert_answer(&out, 2.0, &[4]);
    assert_eq!(fake.sizes(), vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_mixed_shapes_each_get_their_own_answer() {
    let fake = Fake::new();
    let b = Arc::new(Batcher::spawn(config(8, 2, 2), fake.clone()).unwrap());
    let shapes: [&[u64]; 3] = [&[3], &[2, 2], &[5]];
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let (b, shape) = (b.clone(), shapes[i % 3]);
            tokio::spawn(async move {
                let out = b.submit(request(i as f32, shape), later()).await.unwrap();
                assert_answer(&out, i as f32, shape);
            })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(GUARD, t).await.unwrap().unwrap();
    }
    let sizes = fake.sizes();
    assert_eq!(sizes.iter().sum::<usize>(), 300);
    assert!(sizes.iter().all(|&n| (1..=8).contains(&n)), "{sizes:?}");
    assert!(sizes.len() < 300, "nothing was batched: {sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_fails_only_its_own_requests() {
    let fake = Fake::new();
    let b = Arc::new(Batcher::spawn(config(4, 5, 1), fake).unwrap());
    // Poisoned requests have shape [3]; healthy ones [2], so they never share a batch.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move {
                if i % 4 == 0 {
                    let err = b
                        .submit(request(POISON_ERROR, &[3]), later())
                        .await
                        .unwrap_err();
                    assert_eq!(err, BatchError::Run("poisoned input".into()));
                    assert_eq!(
                        err.to_string(),
                        "the model failed on this request's batch: poisoned input"
                    );
                } else {
                    let out = b.submit(request(i as f32, &[2]), later()).await.unwrap();
                    assert_answer(&out, i as f32, &[2]);
                }
            })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(GUARD, t).await.unwrap().unwrap();
    }
    assert_eq!(b.stats().failed, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_model_fails_only_that_batch_and_the_worker_keeps_serving() {
    let fake = Fake::new();
    let b = Batcher::spawn(config(1, 0, 1), fake.clone()).unwrap();
    let err = b
        .submit(request(POISON_PANIC, &[2]), later())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        BatchError::WorkerPanicked("boom: the fake model fell over".into())
    );
    assert!(
        err.to_string().starts_with("worker panicked: boom"),
        "{err}"
    );
    // The single worker survived and serves the next batch.
    for i in 0..3 {
        let out = b.submit(request(i as f32, &[2]), later()).await.unwrap();
        assert_answer(&out, i as f32, &[2]);
    }
    let stats = b.stats();
    assert_eq!((stats.panics, stats.failed, stats.batches), (1, 1, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_without_the_batch_dim_fail_the_batch_with_a_clear_error() {
    let b = Batcher::spawn(config(2, 3_600_000, 1), Fake::new()).unwrap();
    let (a, c) = tokio::join!(
        b.submit(request(POISON_SHAPE, &[2]), later()),
        b.submit(request(1.0, &[2]), later())
    );
    let expected = BatchError::BadOutput(
        "output `x2` has shape [3, 2], whose dim 0 (3) is not the batch size (2)".into(),
    );
    assert_eq!(
        (a.unwrap_err(), c.unwrap_err()),
        (expected.clone(), expected)
    );
    // The next batch is fine again.
    let (a, c) = tokio::join!(
        b.submit(request(5.0, &[2]), later()),
        b.submit(request(6.0, &[2]), later())
    );
    assert_answer(&a.unwrap(), 5.0, &[2]);
    assert_answer(&c.unwrap(), 6.0, &[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_request_is_refused() {
    let b = Batcher::spawn(config(1, 0, 1), Fake::new()).unwrap();
    let err = b.submit(vec![], later()).await.unwrap_err();
    assert!(matches!(err, BatchError::BadInput(_)), "{err}");
}

#[test]
fn spawn_refuses_bad_settings_and_a_missing_runtime() {
    let err = Batcher::spawn(config(1, 0, 1), Fake::new()).unwrap_err();
    assert!(err.to_string().contains("inside a tokio runtime"), "{err}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let err = Batcher::spawn(config(1, 0, 0), Fake::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot start the model's batcher: the model needs at least 1 worker (max_workers is 0)"
    );
}
