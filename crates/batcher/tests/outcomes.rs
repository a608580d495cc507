//! Every request gets an answer: queue full, deadline passed, cancelled, shutting down, and
//! all of them at once under concurrency.
//!
//! Most tests hold the single worker inside a gated fake, so where each request sits is known:
//! r1 runs, later ones wait in the queue (a partial batch does not go to the workers while
//! the only one is busy: it waits there for what gathers behind it). These tests use
//! `batch_size` 16 and no delay: every request runs as soon as a worker is free.

mod common;

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferroserve_batcher::{BatchError, Batcher, BatcherConfig};
use tokio::time::timeout;

const GUARD: Duration = Duration::from_secs(10);

fn one_worker() -> BatcherConfig {
    BatcherConfig::new("fake")
        .batch_size(16)
        .max_batch_delay(Duration::ZERO)
        .capacity(16)
        .workers(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_overloaded_at_once() {
    let (fake, mut started) = Fake::gated();
    let b = Batcher::spawn(one_worker(), fake.clone()).unwrap();
    let mut r1 = pin!(b.submit(request(1.0, &[2]), later()));
    enqueue(r1.as_mut()).await;
    started.recv().await.unwrap();
    // 16 form a full batch, which waits in the hand-off for the worker; 16 more fill the queue.
    let mut queued: Vec<_> = (2..34)
        .map(|v| Box::pin(b.submit(request(v as f32, &[2]), later())))
        .collect();
    for r in &mut queued {
        enqueue(r.as_mut()).await;
    }
    eventually("16 requests to queue", || b.queue_len() == 16).await;

    let err = timeout(GUARD, b.submit(request(34.0, &[2]), later()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, BatchError::Overloaded { capacity: 16 });
    assert!(
        err.to_string()
            .starts_with("the model's queue is full (16 requests waiting); retry"),
        "{err}"
    );

    fake.open();
    assert_answer(&timeout(GUARD, r1).await.unwrap().unwrap(), 1.0, &[2]);
    for (r, v) in queued.into_iter().zip(2..) {
        assert_answer(&timeout(GUARD, r).await.unwrap().unwrap(), v as f32, &[2]);
    }
    assert_eq!(b.stats().overloaded, 1);
    assert_eq!(
        fake.sizes(),
        vec![1, 16, 16],
        "the queued requests ran as full batches"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_requests_time_out_without_running() {
    let (fake, mut started) = Fake::gated();
    let b = Batcher::spawn(one_worker(), fake.clone()).unwrap();
    let mut r1 = pin!(b.submit(request(1.0, &[2]), later()));
    enqueue(r1.as_mut()).await;
    started.recv().await.unwrap();
    let mut r2 = pin!(b.submit(request(2.0, &[2]), in_ms(40)));
    enqueue(r2.as_mut()).await;
    eventually("r2 to queue", || b.queue_len() == 1).await;
    // r3 waits in the queue too: its deadline alone wakes the queue, the worker still busy.
    let r3 = timeout(GUARD, b.submit(request(3.0, &[2]), in_ms(40)))
        .await
        .unwrap();
    match r3 {
        Err(BatchError::Timeout { waited }) => {
            assert!(waited >= Duration::from_millis(40), "{waited:?}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // r2 expired waiting for the worker: dropped before it costs compute.
    tokio::time::sleep(Duration::from_millis(40)).await;
    fake.open();
    assert_answer(&timeout(GUARD, r1).await.unwrap().unwrap(), 1.0, &[2]);
    assert!(matches!(
        timeout(GUARD, r2).await.unwrap(),
        Err(BatchError::Timeout { .. })
    ));
    assert_eq!(fake.sizes(), vec![1], "only r1 ran");
    // A deadline already past is refused at once.
    let late = b.submit(request(4.0, &[2]), in_ms(0)).await.unwrap_err();
    assert!(matches!(late, BatchError::Timeout { .. }), "{late}");
    assert_eq!(b.stats().expired, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_future_cancels_the_request() {
    let (fake, mut started) = Fake::gated();
    let b = Batcher::spawn(one_worker(), fake.clone()).unwrap();
    let mut r1 = pin!(b.submit(request(1.0, &[2]), later()));
    enqueue(r1.as_mut()).await;
    started.recv().await.unwrap();
    {
        let mut r2 = pin!(b.submit(request(2.0, &[2]), later()));
        enqueue(r2.as_mut()).await;
        eventually("r2 to queue", || b.queue_len() == 1).await;
        let mut r3 = pin!(b.submit(request(3.0, &[2]), later()));
        enqueue(r3.as_mut()).await;
        eventually("r3 to queue", || b.queue_len() == 2).await;
    } // r2 and r3 are dropped here: their callers went away.
    fake.open();
    assert_answer(&timeout(GUARD, r1).await.unwrap().unwrap(), 1.0, &[2]);
    eventually("both cancellations to be seen", || b.stats().cancelled == 2).await;
    assert_answer(
        &b.submit(request(4.0, &[2]), later()).await.unwrap(),
        4.0,
        &[2],
    );
    assert_eq!(fake.sizes(), vec![1, 1], "the cancelled requests never ran");
    assert_eq!(b.queue_len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_with_cancel_answers_cancelled() {
    let (fake, mut started) = Fake::gated();
    let b = Batcher::spawn(one_worker(), fake.clone()).unwrap();
    let mut r1 = pin!(b.submit(request(1.0, &[2]), later()));
    enqueue(r1.as_mut()).await;
    started.recv().await.unwrap();
    let cancel = tokio::time::sleep(Duration::from_millis(10));
    let err = b
        .submit_with_cancel(request(2.0, &[2]), later(), cancel)
        .await
        .unwrap_err();
    assert_eq!(err, BatchError::Cancelled);
    fake.open();
    assert_answer(&timeout(GUARD, r1).await.unwrap().unwrap(), 1.0, &[2]);
    eventually("the cancellation to be seen", || b.stats().cancelled == 1).await;
    assert_eq!(fake.sizes(), vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_runs_what_was_accepted_then_refuses() {
    let fake = Fake::new();
    let config = BatcherConfig::new("fake")
        .batch_size(4)
        .max_batch_delay(Duration::from_secs(3600))
        .workers(2);
    let b = Batcher::spawn(config, fake.clone()).unwrap();
    let r = |v: f32| b.submit(request(v, &[2]), later());
    // Three requests wait for a fourth that never comes; shutdown flushes them.
    let all = async {
        tokio::join!(r(1.0), r(2.0), r(3.0), async {
            tokio::task::yield_now().await;
            b.shutdown().await
        })
    };
    let (o1, o2, o3, ()) = timeout(GUARD, all).await.unwrap();
    for (o, v) in [(o1, 1.0), (o2, 2.0), (o3, 3.0)] {
        assert_answer(&o.unwrap(), v, &[2]);
    }
    assert_eq!(
        b.submit(request(4.0, &[2]), later()).await.unwrap_err(),
        BatchError::ShuttingDown
    );
    timeout(GUARD, b.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_concurrency_every_submit_resolves() {
    // Arrivals (500 over ~40 ms, at random) come about as fast as the model serves them (2 workers
    // × 4 requests per 0.5 ms), so the tiny queue overflows in bursts and deadlines of 1–30 ms
    // expire at times. 1 in 50 requests makes its batch fail, 1 in 50 panic, 1 in 10 is cancelled.
    let fake = Fake::slow(Duration::from_micros(500));
    let config = BatcherConfig::new("fake")
        .batch_size(4)
        .max_batch_delay(Duration::from_millis(1))
        .capacity(6)
        .workers(2);
    let b = Arc::new(Batcher::spawn(config, fake.clone()).unwrap());
    let shapes: [&[u64]; 3] = [&[1], &[2], &[2, 3]];
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut tasks = Vec::new();
    for i in 0..500 {
        let (shape, deadline_ms, fate) = (
            shapes[rand(&mut seed, 3)],
            1 + rand(&mut seed, 30),
            rand(&mut seed, 50),
        );
        let (start_us, patience_us) = (
            rand(&mut seed, 40_000) as u64,
            rand(&mut seed, 3_000) as u64,
        );
        let value = match fate {
            0 => POISON_ERROR,
            1 => POISON_PANIC,
            _ => i as f32,
        };
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(start_us)).await;
            let call = b.submit(request(value, shape), in_ms(deadline_ms as u64));
            if (2..=6).contains(&fate) {
                // The caller gives up after a moment (it may have had its answer by then).
                return match timeout(Duration::from_micros(patience_us), call).await {
                    Ok(_) => "answered before cancel",
                    Err(_) => "cancelled",
                };
            }
            match call.await {
                Ok(out) => {
                    assert_answer(&out, value, shape);
                    "ok"
                }
                Err(BatchError::Overloaded { capacity: 6 }) => "overloaded",
                Err(BatchError::Timeout { .. }) => "timeout",
                Err(BatchError::Run(_) | BatchError::WorkerPanicked(_)) => "failed",
                Err(other) => panic!("unexpected outcome {other:?}"),
            }
        }));
    }
    let mut counts = std::collections::BTreeMap::new();
    for t in tasks {
        let outcome = timeout(GUARD, t)
            .await
            .expect("a submit never resolved")
            .unwrap();
        *counts.entry(outcome).or_insert(0) += 1;
    }
    println!("outcomes: {counts:?}, stats: {:?}", b.stats());
    assert_eq!(counts.values().sum::<usize>(), 500);
    assert!(counts.contains_key("ok"), "{counts:?}");
    eventually("the queue to empty", || b.queue_len() == 0).await;
    assert_answer(
        &b.submit(request(7.0, &[2]), later()).await.unwrap(),
        7.0,
        &[2],
    );
}

/// xorshift64: enough randomness for a test, no dependency.
fn rand(seed: &mut u64, below: usize) -> usize {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed % below as u64) as usize
}
