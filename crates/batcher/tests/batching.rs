//! The batcher against a fake model: answers, batch formation, and failures that stay inside
//! their batch.

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ferroserve_batcher::{BatchError, Batcher, BatcherConfig};
use ferroserve_tensor::Tensor;

const GUARD: Duration = Duration::from_secs(10);

fn config(batch_size: usize, delay_ms: u64, workers: usize) -> BatcherConfig {
    BatcherConfig::new("fake")
        .batch_size(batch_size)
        .max_batch_delay(Duration::from_millis(delay_ms))
        .capacity(1024)
        .workers(workers)
}

/// Awaits `first`, then `rest`, within the guard: the i-th answers value i.
async fn answers_in_order<F>(first: Pin<&mut F>, rest: Vec<Pin<Box<F>>>, shape: &[u64])
where
    F: Future<Output = Result<Vec<Tensor>, BatchError>>,
{
    let all = async {
        let mut outs = vec![first.await];
        for f in rest {
            outs.push(f.await);
        }
        outs
    };
    let outs = tokio::time::timeout(GUARD, all).await.unwrap();
    for (i, out) in outs.into_iter().enumerate() {
        assert_answer(&out.unwrap(), i as f32, shape);
    }
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
async fn requests_that_gather_while_the_worker_is_busy_share_one_batch() {
    let (fake, mut started) = Fake::gated();
    // The delay is an hour: only a full batch, or the worker coming free, can send them.
    let b = Batcher::spawn(config(4, 3_600_000, 1), fake.clone()).unwrap();
    let r = |v: f32| b.submit(request(v, &[3]), later());
    let mut first = pin!(r(0.0));
    enqueue(first.as_mut()).await;
    assert_eq!(
        started.recv().await,
        Some(1),
        "an idle worker takes a lone request"
    );
    let mut rest: Vec<_> = (1..=5).map(|v| Box::pin(r(v as f32))).collect();
    for f in &mut rest {
        enqueue(f.as_mut()).await;
    }
    // Four of them fill a batch, which waits in the hand-off for the busy worker.
    eventually("a full batch to form", || b.queue_len() == 1).await;
    fake.open();
    answers_in_order(first, rest, &[3]).await;
    // The fifth, alone and inside its hour, went as soon as the worker was free.
    assert_eq!(fake.sizes(), vec![1, 4, 1]);
    assert_eq!(b.stats().batches, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_delay_a_partial_batch_keeps_gathering_while_no_worker_is_free() {
    let (fake, mut started) = Fake::gated();
    // One worker at most, a 1 ms delay: handed over at its delay, a partial batch would run
    // alone before what gathers behind it.
    let b = Batcher::spawn(config(8, 1, 1), fake.clone()).unwrap();
    let r = |v: f32| b.submit(request(v, &[3]), later());
    let mut first = pin!(r(0.0));
    enqueue(first.as_mut()).await;
    assert_eq!(started.recv().await, Some(1));
    let mut rest: Vec<_> = (1..=3).map(|v| Box::pin(r(v as f32))).collect();
    for f in &mut rest {
        enqueue(f.as_mut()).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        b.queue_len(),
        3,
        "they wait in the queue, not in the hand-off"
    );
    rest.extend((4..=5).map(|v| Box::pin(r(v as f32))));
    for f in &mut rest[3..] {
        enqueue(f.as_mut()).await;
    }
    eventually("five to queue", || b.queue_len() == 5).await;
    fake.open();
    answers_in_order(first, rest, &[3]).await;
    assert_eq!(
        fake.sizes(),
        vec![1, 5],
        "all that gathered ran as one batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_request_never_waits_for_the_delay_while_a_worker_idles() {
    let fake = Fake::new();
    let b = Batcher::spawn(config(8, 3_600_000, 1), fake.clone()).unwrap();
    for v in [2.0, 3.0] {
        // An hour's delay: finishing at all inside the guard shows it was not waited for.
        let out = tokio::time::timeout(GUARD, b.submit(request(v, &[4]), later()))
            .await
            .expect("a lone request waited for the batch delay with its worker idle")
            .unwrap();
        assert_answer(&out, v, &[4]);
    }
    assert_eq!(fake.sizes(), vec![1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_every_worker_is_busy_a_partial_batch_waits_out_the_delay_then_scales_up() {
    let (fake, mut started) = Fake::gated();
    let config = config(8, 30, 1).max_workers(2);
    let b = Arc::new(Batcher::spawn(config, fake.clone()).unwrap());
    let submit = |v: f32| {
        let b = b.clone();
        tokio::spawn(async move { b.submit(request(v, &[4]), later()).await })
    };
    let first = submit(1.0);
    assert_eq!(started.recv().await, Some(1));
    let queued_at = Instant::now();
    let second = submit(2.0);
    // Its delay up, the partial batch is handed over and a second worker starts for it.
    assert_eq!(started.recv().await, Some(1));
    assert!(
        queued_at.elapsed() >= Duration::from_millis(30),
        "ran before the delay was up"
    );
    fake.open();
    assert_answer(&first.await.unwrap().unwrap(), 1.0, &[4]);
    assert_answer(&second.await.unwrap().unwrap(), 2.0, &[4]);
    assert_eq!(b.stats().workers_started, 2);
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
    let (fake, mut started) = Fake::gated();
    let b = Batcher::spawn(config(2, 3_600_000, 1), fake.clone()).unwrap();
    // The worker busy with a first request, the next two gather into one batch.
    let mut first = pin!(b.submit(request(0.5, &[2]), later()));
    enqueue(first.as_mut()).await;
    assert_eq!(started.recv().await, Some(1));
    let pair = async {
        tokio::join!(
            b.submit(request(POISON_SHAPE, &[2]), later()),
            b.submit(request(1.0, &[2]), later())
        )
    };
    let mut pair = pin!(pair);
    enqueue(pair.as_mut()).await;
    fake.open();
    assert_answer(&first.await.unwrap(), 0.5, &[2]);
    let (a, c) = tokio::time::timeout(GUARD, pair).await.unwrap();
    assert_eq!(fake.sizes(), vec![1, 2]);
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
