//! Worker scaling with real threads: a backlog grows the pool to `max_workers`, idleness
//! shrinks it back to `min_workers`, and `Batcher::scale` moves the bounds at run time.
//! Idle timeouts are short here; the waits are guards (`eventually` gives up after 5 s).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferroserve_batcher::{BatchError, Batcher, BatcherConfig};

const GUARD: Duration = Duration::from_secs(10);

fn config(min: usize, max: usize, idle_ms: u64) -> BatcherConfig {
    BatcherConfig::new("fake")
        .batch_size(1)
        .max_batch_delay(Duration::ZERO)
        .capacity(64)
        .min_workers(min)
        .max_workers(max)
        .worker_idle_timeout(Duration::from_millis(idle_ms))
}

/// Submits `n` requests at once; returns their tasks (each checks its answer).
fn burst(b: &Arc<Batcher>, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move {
                let out = b.submit(request(i as f32, &[2]), later()).await.unwrap();
                assert_answer(&out, i as f32, &[2]);
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_grows_the_pool_to_max_and_idleness_shrinks_it_to_min() {
    // 30 requests of 20 ms each: one worker would need 600 ms.
    let b =
        Arc::new(Batcher::spawn(config(1, 3, 150), Fake::slow(Duration::from_millis(20))).unwrap());
    let stats = b.stats();
    assert_eq!(
        (stats.workers, stats.min_workers, stats.max_workers),
        (1, 1, 3)
    );
    let tasks = burst(&b, 30);
    eventually("the backlog to start workers up to max", || {
        b.stats().workers == 3
    })
    .await;
    for t in tasks {
        tokio::time::timeout(GUARD, t).await.unwrap().unwrap();
    }
    assert_eq!(b.stats().workers, 3, "still within the idle timeout");
    eventually("idle workers above min to exit", || b.stats().workers == 1).await;
    let stats = b.stats();
    assert_eq!(
        (stats.workers_started, stats.workers_stopped),
        (3, 2),
        "{stats:?}"
    );
    // It stays at the minimum, and still serves.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.stats().workers, 1);
    for t in burst(&b, 2) {
        t.await.unwrap();
    }
    b.shutdown().await;
    assert_eq!(b.stats().workers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_moves_the_bounds_at_run_time() {
    let fake = Fake::slow(Duration::from_millis(5));
    let b = Arc::new(Batcher::spawn(config(1, 1, 60_000), fake).unwrap());
    b.scale(3, 4).unwrap();
    let stats = b.stats();
    assert_eq!(
        (stats.workers, stats.min_workers, stats.max_workers),
        (3, 3, 4)
    );
    for t in burst(&b, 12) {
        tokio::time::timeout(GUARD, t).await.unwrap().unwrap();
    }
    // Lowering max retires the surplus at once, idle timeout or not.
    b.scale(1, 1).unwrap();
    eventually("workers above the new max to exit", || {
        b.stats().workers == 1
    })
    .await;
    for t in burst(&b, 3) {
        tokio::time::timeout(GUARD, t).await.unwrap().unwrap();
    }

    let err = b.scale(2, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid worker settings: min_workers (2) must not be above max_workers (1)"
    );
    assert!(matches!(b.scale(0, 0), Err(BatchError::BadSettings(_))));
    assert_eq!(
        (b.stats().min_workers, b.stats().max_workers),
        (1, 1),
        "nothing changed"
    );
    b.shutdown().await;
    assert_eq!(b.scale(1, 2), Err(BatchError::ShuttingDown));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_min_zero_the_first_batch_starts_a_worker_and_idleness_stops_it() {
    let b = Arc::new(Batcher::spawn(config(0, 1, 100), Fake::new()).unwrap());
    assert_eq!(b.stats().workers, 0);
    for round in 0..2 {
        for t in burst(&b, 3) {
            tokio::time::timeout(GUARD, t).await.unwrap().unwrap();
        }
        eventually("the idle worker to exit", || b.stats().workers == 0).await;
        assert_eq!(b.stats().workers_started, round + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_scaled_pool_answers_everything_and_stops_every_worker() {
    let fake = Fake::slow(Duration::from_millis(5));
    let b = Arc::new(Batcher::spawn(config(1, 4, 60_000), fake).unwrap());
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move {
                match b.submit(request(i as f32, &[2]), later()).await {
                    Ok(out) => assert_answer(&out, i as f32, &[2]),
                    // Submitted after shutdown began: refused, still answered.
                    Err(e) => assert_eq!(e, BatchError::ShuttingDown),
                }
            })
        })
        .collect();
    eventually("the pool to grow", || b.stats().workers > 1).await;
    tokio::time::timeout(GUARD, b.shutdown()).await.unwrap();
    for t in tasks {
        tokio::time::timeout(GUARD, t).await.unwrap().unwrap();
    }
    let stats = b.stats();
    assert_eq!(stats.workers, 0);
    assert_eq!(stats.workers_started, stats.workers_stopped);
}
