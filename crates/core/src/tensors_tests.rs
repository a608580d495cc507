//! Batches of samples through a model over fakes on both seams: split, batched with each
//! other, stacked back in order, selected; refusals name the problem; statistics count.

use std::sync::Arc;
use std::time::Duration;

use ferroserve_batcher::{BatchRunner, Batcher, BatcherConfig, RunError};
use ferroserve_sandbox::{HandlerRequest, HandlerResponse, Prepared, SandboxError};
use ferroserve_tensor::{DType, Tensor};

use super::{MAX_SAMPLES, infer_batch, metadata};
use crate::{Class, Model, ModelInfo, ModelKey, Pipeline, Processor, Registry};

/// Never called: tensor requests skip the handler.
struct NoHandler;

#[async_trait::async_trait]
impl Processor for NoHandler {
    async fn preprocess(&self, _: HandlerRequest) -> Result<Prepared, SandboxError> {
        unreachable!("tensor requests skip the handler")
    }
    async fn postprocess(
        &self,
        _: Vec<Tensor>,
        _: Vec<u8>,
    ) -> Result<HandlerResponse, SandboxError> {
        unreachable!("tensor requests skip the handler")
    }
}

/// `y = 2x` and `n = the batch's size`, for every row; fails on a NaN.
struct Double;

impl BatchRunner for Double {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        let x = inputs[0].to_f32().unwrap();
        if x.iter().any(|v| v.is_nan()) {
            return Err(RunError::new("NaN in the input"));
        }
        let rows = inputs[0].shape()[0];
        let y: Vec<f32> = x.iter().map(|v| v * 2.0).collect();
        let n = vec![rows as f32; rows as usize];
        Ok(vec![
            Tensor::from_f32("y", inputs[0].shape().to_vec(), &y).unwrap(),
            Tensor::from_f32("n", vec![rows, 1], &n).unwrap(),
        ])
    }
}

fn model(batch_size: usize) -> Arc<Model> {
    declaring(batch_size, true)
}

/// With `declared`, the archive's specs: `x` `[2]` in; `y` `[2]` and `n` `[1]` out.
fn declaring(batch_size: usize, declared: bool) -> Arc<Model> {
    let config = BatcherConfig::new("double")
        .batch_size(batch_size)
        .max_batch_delay(Duration::from_millis(200));
    let batcher = Batcher::spawn(config, Arc::new(Double)).unwrap();
    let pipeline = Pipeline::new(Arc::new(NoHandler), batcher, Duration::from_secs(5));
    let info = ModelInfo {
        inputs: declared
            .then(|| spec("x", "float32", &[2]))
            .into_iter()
            .collect(),
        outputs: vec![spec("y", "float32", &[2]), spec("n", "float32", &[1])],
        batch_size,
        ..ModelInfo::default()
    };
    Arc::new(Model::new(
        ModelKey::shared("double"),
        "1.0".into(),
        pipeline,
        info,
    ))
}

fn spec(name: &str, dtype: &str, shape: &[i64]) -> ferroserve_archive::InputSpec {
    ferroserve_archive::InputSpec {
        name: name.into(),
        dtype: dtype.into(),
        shape: shape.to_vec(),
    }
}

/// Asserts `inputs` are refused as a bad request that `says` why.
async fn refused(m: &Arc<Model>, inputs: Vec<Tensor>, says: &str) {
    let e = infer_batch(m, inputs, &[]).await.unwrap_err();
    assert_eq!(e.class(), Class::BadRequest, "{e}");
    assert!(e.to_string().contains(says), "{e} should say {says}");
}

fn x(rows: u64, values: &[f32]) -> Tensor {
    Tensor::from_f32("x", vec![rows, values.len() as u64 / rows], values).unwrap()
}

#[tokio::test]
async fn samples_batch_together_and_come_back_stacked_in_order() {
    let m = model(4);
    let out = infer_batch(&m, vec![x(4, &[1., 2., 3., 4., 5., 6., 7., 8.])], &[])
        .await
        .unwrap();
    assert_eq!(out[0].shape(), &[4, 2]);
    assert_eq!(
        out[0].to_f32().unwrap(),
        vec![2., 4., 6., 8., 10., 12., 14., 16.]
    );
    // The four samples met in one batch of four.
    assert_eq!(out[1].to_f32().unwrap(), vec![4.; 4]);
    let stats = m.pipeline.stats();
    assert_eq!((stats.inference_count, stats.execution_count), (4, 1));
    assert_eq!((stats.success.count, stats.fail.count), (4, 0));
    assert_eq!(stats.compute_input.count, 0, "no handler ran");
}

#[tokio::test]
async fn wanted_outputs_are_selected_in_the_order_asked() {
    let m = model(1);
    let wanted = ["n".to_string(), "y".to_string()];
    let out = infer_batch(&m, vec![x(1, &[1., 2.])], &wanted)
        .await
        .unwrap();
    let names: Vec<&str> = out.iter().map(Tensor::name).collect();
    assert_eq!(names, ["n", "y"]);
    let e = infer_batch(&m, vec![x(1, &[1., 2.])], &["z".to_string()])
        .await
        .unwrap_err();
    assert_eq!(
        (e.class(), &*e.kind()),
        (Class::BadRequest, "InvalidInferenceRequest")
    );
    assert!(
        e.to_string().contains("`z` is not one the model returns"),
        "{e}"
    );
}

#[tokio::test]
async fn malformed_batches_are_refused_by_name_before_any_work() {
    // Nothing declared: every check is the batch's own.
    let m = declaring(1, false);
    let refuse = |inputs, says| refused(&m, inputs, says);
    refuse(vec![], "no inputs").await;
    let scalar = Tensor::from_f32("x", vec![], &[1.]).unwrap();
    refuse(vec![scalar], "dim 0 is the batch").await;
    let empty = Tensor::new("x", DType::F32, vec![0, 2], vec![]).unwrap();
    refuse(vec![empty], "no dimension may be 0").await;
    let two = Tensor::from_f32("w", vec![2, 1], &[1., 2.]).unwrap();
    refuse(
        vec![x(1, &[1., 2.]), two],
        "every input must have the same dim 0",
    )
    .await;
    refuse(vec![x(1, &[1., 2.]), x(1, &[3., 4.])], "`x` is sent twice").await;
    let n = MAX_SAMPLES + 1;
    let huge = Tensor::new("x", DType::U8, vec![n, 1], vec![0; n as usize]).unwrap();
    refuse(vec![huge], "at most 1024 samples").await;
    assert_eq!(
        m.pipeline.stats().inference_count,
        0,
        "nothing reached the model"
    );
}

#[tokio::test]
async fn declared_inputs_are_enforced_and_put_in_their_order() {
    let m = model(1);
    let refuse = |inputs, says| refused(&m, inputs, says);
    let wide = Tensor::from_f32("x", vec![1, 3], &[1., 2., 3.]).unwrap();
    refuse(vec![wide], "has shape [1, 3] but the model takes [-1, 2]").await;
    let ints = Tensor::new("x", DType::I64, vec![1, 2], vec![0; 16]).unwrap();
    refuse(vec![ints], "is INT64 but the model takes FP32").await;
    let other = Tensor::from_f32("z", vec![1, 2], &[1., 2.]).unwrap();
    refuse(
        vec![x(1, &[1., 2.]), other],
        "`z` is not one the model takes",
    )
    .await;
    let flat = Tensor::from_f32("x", vec![2], &[1., 2.]).unwrap();
    refuse(vec![flat], "has shape [2]").await;
    assert_eq!(
        m.pipeline.stats().inference_count,
        0,
        "nothing reached the model"
    );
}

/// Returns its first input: shows the order inputs reach the model in.
struct First;

impl BatchRunner for First {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        Ok(vec![inputs[0].clone()])
    }
}

#[tokio::test]
async fn inputs_reach_the_model_in_the_declared_order_whatever_the_request_says() {
    let batcher = Batcher::spawn(BatcherConfig::new("first"), Arc::new(First)).unwrap();
    let pipeline = Pipeline::new(Arc::new(NoHandler), batcher, Duration::from_secs(5));
    let info = ModelInfo {
        inputs: vec![spec("a", "float32", &[1]), spec("b", "float32", &[-1])],
        ..ModelInfo::default()
    };
    let m = Arc::new(Model::new(
        ModelKey::shared("f"),
        "1".into(),
        pipeline,
        info,
    ));
    let a = Tensor::from_f32("a", vec![1, 1], &[1.]).unwrap();
    let b = Tensor::from_f32("b", vec![1, 3], &[2., 3., 4.]).unwrap();
    let out = infer_batch(&m, vec![b.clone(), a.clone()], &[])
        .await
        .unwrap();
    assert_eq!(out[0].to_f32().unwrap(), vec![1.], "`a` went first");
    refused(&m, vec![b], "input `a` is missing").await;
}

#[tokio::test]
async fn a_batch_larger_than_the_queue_runs_a_window_at_a_time() {
    // A queue of 8: 300 samples at once would be refused as overload.
    let config = BatcherConfig::new("double").batch_size(2).capacity(8);
    let batcher = Batcher::spawn(config, Arc::new(Double)).unwrap();
    let pipeline = Pipeline::new(Arc::new(NoHandler), batcher, Duration::from_secs(5));
    let info = ModelInfo {
        batch_size: 2,
        ..ModelInfo::default()
    };
    let m = Arc::new(Model::new(
        ModelKey::shared("d"),
        "1".into(),
        pipeline,
        info,
    ));
    let values: Vec<f32> = (0..300).map(|v| v as f32).collect();
    let x = Tensor::from_f32("x", vec![300, 1], &values).unwrap();
    let out = infer_batch(&m, vec![x], &[]).await.unwrap();
    let doubled: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
    assert_eq!(out[0].to_f32().unwrap(), doubled);
}

#[tokio::test]
async fn one_failed_sample_fails_the_call_and_counts_as_failed() {
    let m = model(1);
    let e = infer_batch(&m, vec![x(2, &[1., 2., f32::NAN, 0.])], &[])
        .await
        .unwrap_err();
    assert_eq!(e.class(), Class::Internal, "{e}");
    assert!(e.to_string().contains("NaN"), "{e}");
    assert!(m.pipeline.stats().fail.count >= 1);
}

#[tokio::test]
async fn metadata_puts_the_batch_dimension_in_front_in_kserve_spelling() {
    let m = model(1);
    let registry = Registry::default();
    registry.insert(m.clone()).unwrap();
    let meta = metadata(&registry, &m).unwrap();
    assert_eq!(
        (meta.name.as_str(), meta.versions.as_slice()),
        ("double", &["1.0".to_string()][..])
    );
    assert_eq!(meta.inputs[0].shape, vec![-1, 2]);
    assert_eq!(meta.inputs[0].datatype, "FP32");
    let outputs: Vec<(&str, &[i64])> = meta
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), &o.shape[..]))
        .collect();
    assert_eq!(outputs, [("y", &[-1, 2][..]), ("n", &[-1, 1][..])]);
}
