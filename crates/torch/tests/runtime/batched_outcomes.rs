//! Runtime and batcher together when things go wrong: a model that raises fails only its
//! batch, and under a storm of concurrent submits every one resolves with its typed outcome.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferroserve_batcher::{BatchError, BatcherConfig};
use ferroserve_tensor::Tensor;

use crate::batched::{config, later, spawn};
use crate::common::*;

const GUARD: Duration = Duration::from_secs(60);

fn xs(values: &[f32]) -> Vec<Tensor> {
    vec![Tensor::from_f32("x", vec![values.len() as u64], values).unwrap()]
}

/// `raises` doubles x and raises a ValueError when any element is negative. Requests of
/// shape [2] (one of them negative) and of shape [3] arrive together: the [2] batch fails,
/// each of its requests with libtorch's trimmed message; the [3] batch and the next [2]
/// batch succeed.
// Current-thread: the spawned submits all reach the queue before its actor runs, so they
// batch as the test says although the worker is idle.
#[tokio::test]
async fn a_raising_batch_fails_only_its_own_requests_and_the_next_batch_runs() {
    let b = spawn(load("raises"), config(4, Duration::from_secs(3600)));
    let submit = |values: Vec<f32>| {
        let b = b.clone();
        tokio::spawn(async move { (values.clone(), b.submit(xs(&values), later()).await) })
    };
    let mut tasks = Vec::new();
    for i in 0..4 {
        let first = if i == 2 { -1.0 } else { i as f32 };
        tasks.push(submit(vec![first, 0.5]));
        tasks.push(submit(vec![i as f32, 1.0, 2.0]));
    }
    for task in tasks {
        let (values, outcome) = task.await.unwrap();
        if values.len() == 3 {
            let doubled: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
            assert_eq!(single(outcome.unwrap()).to_f32().unwrap(), doubled);
            continue;
        }
        let Err(BatchError::Run(message)) = outcome else {
            panic!("{values:?}: expected BatchError::Run, got {outcome:?}")
        };
        let head = "forward failed: ValueError: negative input: this model accepts only x >= 0";
        assert!(message.starts_with(head), "{message}");
        for noise in ["Exception raised from", "frame #", "Traceback", "<--- HERE"] {
            assert!(!message.contains(noise), "`{noise}` left in: {message}");
        }
    }
    let next: Vec<_> = (0..4).map(|i| submit(vec![i as f32, 3.0])).collect();
    for task in next {
        let (values, outcome) = task.await.unwrap();
        assert_eq!(
            single(outcome.unwrap()).to_f32().unwrap(),
            vec![values[0] * 2.0, 6.0]
        );
    }
    let stats = b.stats();
    assert_eq!(
        (stats.batches, stats.failed, stats.requests_run),
        (3, 4, 12),
        "{stats:?}"
    );
}

/// A small image (ResNet-18 pools adaptively, so 32×32 works), different for each `k`.
fn small_image(k: usize) -> Tensor {
    let values: Vec<f32> = (0..3 * 32 * 32)
        .map(|j| ((j * 7 + k * 13) % 17) as f32 / 17.0 - 0.5)
        .collect();
    Tensor::from_f32("image", vec![3, 32, 32], &values).unwrap()
}

/// 200 submits to ResNet-18 on small images: a burst of 60 at once into a queue of 8, the
/// rest spread over 150 ms; 1 in 5 with a deadline of 1–5 ms, 1 in 8 cancelled after
/// 0–5 ms; the backlog grows the pool from 1 worker to 2. Each resolves as an answer equal to the image's alone output, or as
/// `Overloaded`, `Timeout` or `Cancelled`: nothing else, and nothing left hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_concurrency_every_submit_resolves_with_its_typed_outcome() {
    let model = load("resnet18");
    let alone: Vec<Vec<f32>> = (0..8)
        .map(|k| {
            let (name, dtype, shape, data) = small_image(k).into_parts();
            let batch = Tensor::new(name, dtype, [&[1], &shape[..]].concat(), data).unwrap();
            single(model.forward(&[batch]).unwrap()).to_f32().unwrap()
        })
        .collect();
    let config = BatcherConfig::new("resnet18-storm")
        .batch_size(4)
        .max_batch_delay(Duration::from_millis(2))
        .capacity(8)
        .min_workers(1)
        .max_workers(2);
    let b = spawn(model, config);
    let alone = std::sync::Arc::new(alone);
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let tasks: Vec<_> = (0..200usize)
        .map(|i| {
            let start_us = if i < 60 {
                0
            } else {
                rand(&mut seed, 150_000) as u64
            };
            let (deadline_ms, fate) = (1 + rand(&mut seed, 5) as u64, rand(&mut seed, 40));
            let cancel_after_us = rand(&mut seed, 5_000) as u64;
            let (b, alone) = (b.clone(), alone.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(start_us)).await;
                let k = i % 8;
                let deadline = if fate < 8 {
                    Instant::now() + Duration::from_millis(deadline_ms)
                } else {
                    later()
                };
                let outcome = if fate >= 35 {
                    let cancel = tokio::time::sleep(Duration::from_micros(cancel_after_us));
                    b.submit_with_cancel(vec![small_image(k)], deadline, cancel)
                        .await
                } else {
                    b.submit(vec![small_image(k)], deadline).await
                };
                match outcome {
                    Ok(out) => {
                        let diff = max_abs_diff(&single(out).to_f32().unwrap(), &alone[k]);
                        assert!(diff <= 1e-5, "request {i}: max |difference| {diff}");
                        "ok"
                    }
                    Err(BatchError::Overloaded { capacity: 8 }) => "overloaded",
                    Err(BatchError::Timeout { .. }) => "timeout",
                    Err(BatchError::Cancelled) => "cancelled",
                    Err(other) => panic!("request {i}: unexpected outcome {other:?}"),
                }
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for task in tasks {
        let outcome = tokio::time::timeout(GUARD, task)
            .await
            .expect("a submit never resolved")
            .unwrap();
        *counts.entry(outcome).or_insert(0) += 1;
    }
    eprintln!("outcomes: {counts:?}, stats: {:?}", b.stats());
    assert_eq!(counts.values().sum::<usize>(), 200);
    for outcome in ["ok", "overloaded", "timeout", "cancelled"] {
        assert!(counts.contains_key(outcome), "no `{outcome}` in {counts:?}");
    }
    let out = b.submit(vec![small_image(3)], later()).await.unwrap();
    assert!(max_abs_diff(&single(out).to_f32().unwrap(), &alone[3]) <= 1e-5);
    let stats = b.stats();
    assert_eq!(stats.queued, 0);
    assert_eq!(
        stats.workers_started, 2,
        "the backlog started the second worker"
    );
}

/// xorshift64: enough randomness for a test, no dependency.
fn rand(seed: &mut u64, below: usize) -> usize {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed % below as u64) as usize
}
