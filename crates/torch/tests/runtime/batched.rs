//! Runtime and batcher together: a real `Batcher` over a real `TorchModel`. Each request
//! carries one item without the batch dim; whatever batch it lands in (full, partial, or
//! beside requests of another shape), its answer must equal Python's output for that item
//! run alone (`*.output_alone`) within 1e-5.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferroserve_batcher::{Batcher, BatcherConfig};
use ferroserve_tensor::Tensor;
use ferroserve_torch::{Device, ModelConfig, TorchModel};

use crate::common::*;

const TOLERANCE: f32 = 1e-5;
/// Longer than any test: only a full batch runs before this delay is up.
const HOUR: Duration = Duration::from_secs(3600);
/// Long enough that a group of requests submitted together always shares one batch.
const GATHER: Duration = Duration::from_millis(300);

pub fn config(batch_size: usize, delay: Duration) -> BatcherConfig {
    BatcherConfig::new("test-model")
        .batch_size(batch_size)
        .max_batch_delay(delay)
        .capacity(64)
        .workers(1)
}

pub fn spawn(model: TorchModel, config: BatcherConfig) -> Arc<Batcher> {
    Arc::new(Batcher::spawn(config, Arc::new(model)).unwrap())
}

pub fn later() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

/// Item `i` of a reference array, without the batch dim.
fn item(array: &str, tensor_name: &str, i: usize) -> Tensor {
    let (name, dtype, shape, data) = rows(array, tensor_name, i..i + 1).into_parts();
    Tensor::new(name, dtype, shape[1..].to_vec(), data).unwrap()
}

/// Submits items `indices` of `model`'s input together; checks each answer against Python's
/// alone output for that item.
async fn submit_together(b: &Arc<Batcher>, model: &'static str, indices: &[usize]) {
    let input_name = if model == "mlp" { "x" } else { "image" };
    // Inputs first (reading the fixtures takes a while under load), then all submits at once.
    // On this current-thread runtime the spawned submits all reach the queue before its
    // actor runs, so they form one batch though the worker is idle (which would otherwise
    // take the first alone: the batcher never holds a request while a worker idles).
    let inputs: Vec<_> = indices
        .iter()
        .map(|&i| (i, item(&format!("{model}.input"), input_name, i)))
        .collect();
    let tasks: Vec<_> = inputs
        .into_iter()
        .map(|(i, input)| {
            let b = b.clone();
            tokio::spawn(async move { (i, b.submit(vec![input], later()).await) })
        })
        .collect();
    for task in tasks {
        let (i, outcome) = task.await.unwrap();
        let out = single(outcome.unwrap());
        assert_close(
            &out,
            &item(&format!("{model}.output_alone"), "output", i),
            TOLERANCE,
        );
    }
}

#[tokio::test]
async fn mlp_eight_requests_in_one_batch_each_equal_python_alone() {
    let b = spawn(load("mlp"), config(8, HOUR));
    submit_together(&b, "mlp", &[0, 1, 2, 3, 4, 5, 6, 7]).await;
    let stats = b.stats();
    assert_eq!((stats.batches, stats.requests_run), (1, 8), "{stats:?}");
}

#[tokio::test]
async fn resnet18_eight_requests_in_one_batch_each_equal_python_alone() {
    let b = spawn(load("resnet18"), config(8, HOUR));
    submit_together(&b, "resnet18", &[0, 1, 2, 3, 4, 5, 6, 7]).await;
    let stats = b.stats();
    assert_eq!((stats.batches, stats.requests_run), (1, 8), "{stats:?}");
}

#[tokio::test]
async fn mlp_partial_batches_of_three_one_and_four_each_equal_python_alone() {
    let b = spawn(load("mlp"), config(8, GATHER));
    for (group, expected_batches) in [(&[5, 0, 2][..], 1), (&[7], 2), (&[1, 6, 3, 4], 3)] {
        submit_together(&b, "mlp", group).await;
        assert_eq!(b.stats().batches, expected_batches, "{:?}", b.stats());
    }
    assert_eq!(b.stats().requests_run, 8);
}

#[tokio::test]
async fn resnet18_alone_and_in_partial_batches_each_equals_python_alone() {
    let b = spawn(load("resnet18"), config(8, GATHER));
    for (group, expected_batches) in [(&[3][..], 1), (&[0, 6, 1], 2), (&[7, 2, 5, 4], 3)] {
        submit_together(&b, "resnet18", group).await;
        assert_eq!(b.stats().batches, expected_batches, "{:?}", b.stats());
    }
}

/// The MLP maps the last dim, so a request may carry one row (`[4]`) or two (`[2, 4]`).
/// Interleaved, the two shapes form two batches of four; every answer is still the alone one.
#[tokio::test]
async fn mlp_requests_of_two_shapes_interleaved_form_separate_batches() {
    let b = spawn(load("mlp"), config(8, GATHER));
    let alone = |i: usize| {
        rows("mlp.output_alone", "output", i..i + 1)
            .to_f32()
            .unwrap()
    };
    let requests: Vec<(Vec<usize>, Tensor)> = (0..8)
        .map(|i: usize| {
            // Odd requests carry rows i and i - 1, in that order.
            let mut rows_of_request = vec![i];
            if i % 2 == 1 {
                rows_of_request.push(i - 1);
            }
            let values: Vec<f32> = rows_of_request
                .iter()
                .flat_map(|&r| rows("mlp.input", "x", r..r + 1).to_f32().unwrap())
                .collect();
            let shape = if i % 2 == 1 { vec![2, 4] } else { vec![4] };
            (
                rows_of_request,
                Tensor::from_f32("x", shape, &values).unwrap(),
            )
        })
        .collect();
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(rows_of_request, input)| {
            let b = b.clone();
            tokio::spawn(async move { (rows_of_request, b.submit(vec![input], later()).await) })
        })
        .collect();
    for task in tasks {
        let (rows_of_request, outcome) = task.await.unwrap();
        let out = single(outcome.unwrap());
        let expected: Vec<f32> = rows_of_request.iter().flat_map(|&r| alone(r)).collect();
        let shape: Vec<u64> = if rows_of_request.len() == 2 {
            vec![2, 3]
        } else {
            vec![3]
        };
        assert_eq!(out.shape(), shape.as_slice());
        let diff = max_abs_diff(&out.to_f32().unwrap(), &expected);
        assert!(
            diff <= TOLERANCE,
            "rows {rows_of_request:?}: max |difference| {diff}"
        );
    }
    let stats = b.stats();
    assert_eq!((stats.batches, stats.requests_run), (2, 8), "{stats:?}");
}

#[tokio::test]
async fn gpu_resnet18_eight_requests_through_the_batcher() {
    if !cuda_or_skip("gpu_resnet18_eight_requests_through_the_batcher") {
        return;
    }
    let model = TorchModel::load(path("resnet18"), ModelConfig::on(Device::Cuda(0))).unwrap();
    let b = spawn(model, config(8, HOUR));
    let inputs: Vec<_> = (0..8).map(|i| item("resnet18.input", "image", i)).collect();
    let tasks: Vec<_> = inputs
        .into_iter()
        .map(|input| {
            let b = b.clone();
            tokio::spawn(async move { b.submit(vec![input], later()).await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let out = single(task.await.unwrap().unwrap());
        let expected = item("resnet18.output_alone", "output", i);
        let diff = max_abs_diff(&out.to_f32().unwrap(), &expected.to_f32().unwrap());
        // cuDNN may use TF32 convolutions (PyTorch's default), ~1e-3 relative.
        assert!(diff < 5e-2, "image {i}: max |difference| {diff}");
    }
    assert_eq!(b.stats().batches, 1);
}
