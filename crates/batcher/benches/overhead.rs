//! Batcher overhead per request with a no-op model (it hands its inputs back), so only the
//! queue, the hand-offs between threads, stacking and splitting are timed.
//!
//! `cargo bench -p ferroserve-batcher --bench overhead`. Each iteration is one request, so the
//! times criterion prints are per request: for `sequential`, one caller's round trip; for
//! `cN`, N callers at once, i.e. wall time / requests (throughput, not latency). `floor/*` is a
//! bare round trip to an OS thread through the same kind of channels, the cost any design
//! pays for running the model off the runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ferroserve_batcher::{BatchRunner, Batcher, BatcherConfig, RunError};
use ferroserve_tensor::Tensor;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

struct Noop;

impl BatchRunner for Noop {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        Ok(inputs)
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn input() -> Vec<Tensor> {
    vec![Tensor::from_f32("x", vec![16], &[1.0; 16]).unwrap()]
}

/// Runs `iters` submits spread over `callers` concurrent tasks; returns the wall time.
fn drive(rt: &Runtime, b: &Arc<Batcher>, callers: u64, iters: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..callers.min(iters))
            .map(|k| {
                let b = b.clone();
                let n = iters / callers + u64::from(k < iters % callers);
                tokio::spawn(async move {
                    let deadline = Instant::now() + Duration::from_secs(600);
                    for _ in 0..n {
                        b.submit(input(), deadline).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed()
    })
}

fn bench_batcher(c: &mut Criterion) {
    let rt = runtime();
    let cases = [
        ("batch1/sequential", 1, 1),
        ("batch1/c64", 1, 64),
        ("batch8/c64", 8, 64),
    ];
    let mut group = c.benchmark_group("batcher");
    for (name, batch_size, callers) in cases {
        let config = BatcherConfig::new("noop")
            .batch_size(batch_size)
            .max_batch_delay(Duration::from_millis(1))
            .capacity(1024)
            .workers(1);
        let b = Arc::new(
            rt.block_on(async { Batcher::spawn(config, Arc::new(Noop)) })
                .unwrap(),
        );
        group.bench_function(name, |bench| {
            bench.iter_custom(|iters| drive(&rt, &b, callers, iters))
        });
        let stats = b.stats();
        println!(
            "{name}: {} requests in {} batches (mean batch {:.2})",
            stats.requests_run,
            stats.batches,
            stats.requests_run as f64 / stats.batches.max(1) as f64
        );
        rt.block_on(b.shutdown());
    }
    group.finish();
}

/// The floor: tokio task → OS thread (bounded channel) → oneshot back, nothing else.
fn bench_floor(c: &mut Criterion) {
    let rt = runtime();
    type Job = (Vec<Tensor>, oneshot::Sender<Vec<Tensor>>);
    let (tx, mut rx) = mpsc::channel::<Job>(1);
    let thread = std::thread::spawn(move || {
        while let Some((inputs, reply)) = rx.blocking_recv() {
            let _ = reply.send(inputs);
        }
    });
    c.bench_function("floor/thread_round_trip", |bench| {
        bench.iter_custom(|iters| {
            // Like the batcher's callers, the caller is a task on the runtime.
            let tx = tx.clone();
            rt.block_on(async move {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let (reply, answer) = oneshot::channel();
                        tx.send((input(), reply)).await.unwrap();
                        answer.await.unwrap();
                    }
                    start.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
    drop(tx);
    thread.join().unwrap();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench_batcher, bench_floor
}
criterion_main!(benches);
