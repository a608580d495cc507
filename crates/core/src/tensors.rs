//! Inference for the protocols whose clients send tensors (KServe v2 over REST and gRPC),
//! and what those protocols report about a model, once for every edge:
//! - dim 0 of every input is the batch; the inputs are split along it into samples (all
//!   must agree on its size, at most [`MAX_SAMPLES`]), each sample goes through the model's
//!   batcher as its own request, all at once, so they batch with other clients' requests;
//!   the outputs are stacked back into `[n, ...]`. One failed sample fails the call and
//!   withdraws the rest. The handler is skipped: these clients have done its work.
//! - an input the archive declares must have its dtype and shape (past the batch
//!   dimension), or the call is the client's error, before the model sees it.
//! - [`metadata`]: the inputs and outputs with the batch dimension (-1) in front, in
//!   KServe's datatype spelling.
//!
//! The wire formats (JSON, binary extension, protobuf) are the edges'.

use std::sync::Arc;

use ferroserve_archive::InputSpec;
use ferroserve_tensor::{DType, Tensor};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::{Error, Model, Registry};

/// The most samples (dim 0) one request may carry.
pub const MAX_SAMPLES: u64 = 1024;

/// What the framework is, for metadata and model configs.
pub const PLATFORM: &str = "pytorch_torchscript";

/// Runs `inputs` (a batch along dim 0) through `model`; returns the outputs `wanted` names,
/// in its order, or all of them when it names none.
pub async fn infer_batch(
    model: &Arc<Model>,
    inputs: Vec<Tensor>,
    wanted: &[String],
) -> Result<Vec<Tensor>, Error> {
    let samples = split_batch(inputs, &model.info.inputs)?;
    let results = run_samples(model, samples).await?;
    let outputs = ferroserve_tensor::stack_samples(results)
        .map_err(|e| Error::BadModelOutput(e.to_string()))?;
    select(outputs, wanted)
}

fn invalid(message: String) -> Error {
    Error::InvalidTensors(message)
}

fn split_batch(inputs: Vec<Tensor>, declared: &[InputSpec]) -> Result<Vec<Vec<Tensor>>, Error> {
    let first = inputs
        .first()
        .ok_or_else(|| invalid("the request has no inputs; send at least one".into()))?;
    let n = first.shape().first().copied().unwrap_or(0);
    for t in &inputs {
        if t.shape().contains(&0) || t.shape().is_empty() {
            return Err(invalid(format!(
                "input `{}` has shape {:?}; dim 0 is the batch, and no dimension may be 0",
                t.name(),
                t.shape()
            )));
        }
        if t.shape()[0] != n {
            return Err(invalid(format!(
                "input `{}` has a batch (dim 0) of {} but input `{}` has {n}; every input \
                 must have the same dim 0",
                t.name(),
                t.shape()[0],
                first.name()
            )));
        }
    }
    let mut names: Vec<&str> = inputs.iter().map(Tensor::name).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(invalid(format!(
            "input `{}` is sent twice; send each input once",
            w[0]
        )));
    }
    if n > MAX_SAMPLES {
        return Err(invalid(format!(
            "the batch (dim 0) is {n}; at most {MAX_SAMPLES} samples per request, split it"
        )));
    }
    for t in &inputs {
        if let Some(spec) = declared.iter().find(|s| s.name == t.name()) {
            check_declared(t, spec)?;
        }
    }
    ferroserve_tensor::split_samples(inputs, n as usize).map_err(|e| invalid(e.to_string()))
}

/// An input the archive declares must have its dtype and, past the batch dimension, its
/// shape (-1: any size), so a wrong one is the client's error rather than the model's
/// failure. Inputs the archive does not name are left to the model.
fn check_declared(t: &Tensor, spec: &InputSpec) -> Result<(), Error> {
    let want = tensor_meta(spec);
    let dtype_ok = DType::from_archive_name(&spec.dtype).is_none_or(|d| d == t.dtype());
    let rest = &t.shape()[1..];
    let shape_ok = rest.len() == spec.shape.len()
        && rest
            .iter()
            .zip(&spec.shape)
            .all(|(&got, &w)| w < 0 || u64::try_from(w) == Ok(got));
    if dtype_ok && shape_ok {
        return Ok(());
    }
    Err(invalid(format!(
        "input `{}` is {} {:?} but the model takes {} {:?} (-1: any size); send that",
        t.name(),
        t.dtype().kserve_name(),
        t.shape(),
        want.datatype,
        want.shape
    )))
}

/// Every sample through the model's batcher at once; the outcomes in sample order.
async fn run_samples(
    model: &Arc<Model>,
    samples: Vec<Vec<Tensor>>,
) -> Result<Vec<Vec<Tensor>>, Error> {
    let mut results: Vec<Vec<Tensor>> = vec![Vec::new(); samples.len()];
    let mut tasks = JoinSet::new();
    for (i, sample) in samples.into_iter().enumerate() {
        let model = model.clone();
        let run = async move { (i, model.pipeline.infer_tensors(sample).await) };
        // The request's span follows the task, so its log lines keep the request id.
        tasks.spawn(run.in_current_span());
    }
    // Returning early drops the set, which aborts (and so withdraws) the other samples.
    while let Some(joined) = tasks.join_next().await {
        let (i, outcome) =
            joined.map_err(|e| Error::Internal(format!("inference task failed: {e}")))?;
        results[i] = outcome?;
    }
    Ok(results)
}

fn select(outputs: Vec<Tensor>, wanted: &[String]) -> Result<Vec<Tensor>, Error> {
    if wanted.is_empty() {
        return Ok(outputs);
    }
    wanted
        .iter()
        .map(|w| {
            outputs
                .iter()
                .find(|t| t.name() == w)
                .cloned()
                .ok_or_else(|| {
                    let names: Vec<&str> = outputs.iter().map(Tensor::name).collect();
                    invalid(format!(
                        "requested output `{w}` is not one the model returns: {names:?}"
                    ))
                })
        })
        .collect()
}

/// One input or output as the tensor protocols describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorMeta {
    pub name: String,
    /// KServe's spelling (`FP32`, `INT64`, …).
    pub datatype: String,
    /// With the batch dimension in front, variable (-1); -1 also for free dimensions.
    pub shape: Vec<i64>,
}

/// A model version as the tensor protocols describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    /// Every registered version of the model.
    pub versions: Vec<String>,
    pub platform: &'static str,
    /// The most samples one request may carry.
    pub max_batch_size: u64,
    pub inputs: Vec<TensorMeta>,
    /// Declared by the archive, or learned from the warm-up; empty when neither is known.
    pub outputs: Vec<TensorMeta>,
}

pub fn metadata(registry: &Registry, model: &Model) -> Result<Metadata, Error> {
    let versions = registry
        .versions(&model.key)?
        .into_iter()
        .map(|(m, _)| m.version.clone())
        .collect();
    let meta = |specs: &[InputSpec]| specs.iter().map(tensor_meta).collect();
    Ok(Metadata {
        name: model.name().to_owned(),
        version: model.version.clone(),
        versions,
        platform: PLATFORM,
        max_batch_size: MAX_SAMPLES,
        inputs: meta(&model.info.inputs),
        outputs: meta(&model.info.outputs),
    })
}

/// A v2 datatype (`FP32`) as Triton's model configuration spells it (`TYPE_FP32`).
pub fn config_data_type(datatype: &str) -> String {
    match datatype {
        "BYTES" => "TYPE_STRING".into(),
        other => format!("TYPE_{other}"),
    }
}

fn tensor_meta(spec: &InputSpec) -> TensorMeta {
    let datatype = match DType::from_archive_name(&spec.dtype) {
        Some(dtype) => dtype.kserve_name().to_owned(),
        None if spec.dtype == "int16" => "INT16".to_owned(),
        None => spec.dtype.to_uppercase(),
    };
    TensorMeta {
        name: spec.name.clone(),
        datatype,
        shape: std::iter::once(-1)
            .chain(spec.shape.iter().copied())
            .collect(),
    }
}

#[cfg(test)]
#[path = "tensors_tests.rs"]
mod tests;
