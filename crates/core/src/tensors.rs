//! Inference for the protocols whose clients send tensors (KServe v2 over REST and gRPC),
//! and what those protocols report about a model, once for every edge:
//! - dim 0 of every input is the batch; the inputs are split along it into samples (all
//!   must agree on its size, at most [`MAX_SAMPLES`]), each sample goes through the model's
//!   batcher as its own request, all at once, so they batch with other clients' requests;
//!   the outputs are stacked back into `[n, ...]`. One failed sample fails the call and
//!   withdraws the rest. The handler is skipped: these clients have done its work.
//! - when the archive declares its inputs, the request's must be those (any order: they
//!   reach the model in the declared order), with their dtypes and per-sample shapes (-1
//!   matches any size), or the call is refused before any work;
//! - at most a window of samples is queued at once (twice the model's batch size, within
//!   half its queue), so one large request neither fills the queue nor starves others;
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
    check_names(&inputs)?;
    let inputs = match_declared(&model.info.inputs, inputs)?;
    let samples = split_batch(inputs)?;
    let results = run_samples(model, samples).await?;
    let outputs = ferroserve_tensor::stack_samples(results)
        .map_err(|e| Error::BadModelOutput(e.to_string()))?;
    select(outputs, wanted)
}

fn invalid(message: String) -> Error {
    Error::InvalidTensors(message)
}

/// At least one input, each sent once.
fn check_names(inputs: &[Tensor]) -> Result<(), Error> {
    if inputs.is_empty() {
        return Err(invalid(
            "the request has no inputs; send at least one".into(),
        ));
    }
    let mut names: Vec<&str> = inputs.iter().map(Tensor::name).collect();
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(invalid(format!(
            "input `{}` is sent twice; send each input once",
            w[0]
        ))),
        None => Ok(()),
    }
}

fn split_batch(inputs: Vec<Tensor>) -> Result<Vec<Vec<Tensor>>, Error> {
    let first = &inputs[0];
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
    if n > MAX_SAMPLES {
        return Err(invalid(format!(
            "the batch (dim 0) is {n}; at most {MAX_SAMPLES} samples per request, split it"
        )));
    }
    ferroserve_tensor::split_samples(inputs, n as usize).map_err(|e| invalid(e.to_string()))
}

/// The request's inputs in the declared order, each checked against its spec; as sent
/// when the archive declares none.
fn match_declared(declared: &[InputSpec], mut inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Error> {
    if declared.is_empty() {
        return Ok(inputs);
    }
    let names = || declared.iter().map(|s| s.name.as_str()).collect::<Vec<_>>();
    if let Some(extra) = inputs
        .iter()
        .find(|t| !declared.iter().any(|s| s.name == t.name()))
    {
        return Err(invalid(format!(
            "input `{}` is not one the model takes; its inputs are {:?} (GET its metadata)",
            extra.name(),
            names()
        )));
    }
    let mut ordered = Vec::with_capacity(declared.len());
    for spec in declared {
        let i = inputs
            .iter()
            .position(|t| t.name() == spec.name)
            .ok_or_else(|| {
                invalid(format!(
                    "input `{}` is missing; the model takes {:?}",
                    spec.name,
                    names()
                ))
            })?;
        let t = inputs.swap_remove(i);
        let want = tensor_meta(spec);
        if t.dtype().kserve_name() != want.datatype {
            return Err(invalid(format!(
                "input `{}` is {} but the model takes {}; convert it before sending",
                spec.name,
                t.dtype().kserve_name(),
                want.datatype
            )));
        }
        let fits = t.shape().len() == want.shape.len()
            && t.shape()[1..]
                .iter()
                .zip(&want.shape[1..])
                .all(|(&d, &w)| w == -1 || d as i64 == w);
        if !fits {
            return Err(invalid(format!(
                "input `{}` has shape {:?} but the model takes {:?} (-1: any size; dim 0 is the batch)",
                spec.name,
                t.shape(),
                want.shape
            )));
        }
        ordered.push(t);
    }
    Ok(ordered)
}

/// Every sample through the model's batcher, a window at a time; the outcomes in sample
/// order.
async fn run_samples(
    model: &Arc<Model>,
    samples: Vec<Vec<Tensor>>,
) -> Result<Vec<Vec<Tensor>>, Error> {
    let window = (2 * model.info.batch_size.max(1))
        .clamp(1, (model.pipeline.batcher().capacity() / 2).max(1));
    let mut results: Vec<Vec<Tensor>> = vec![Vec::new(); samples.len()];
    let mut tasks = JoinSet::new();
    let mut pending = samples.into_iter().enumerate();
    loop {
        while tasks.len() < window {
            let Some((i, sample)) = pending.next() else {
                break;
            };
            let model = model.clone();
            let run = async move { (i, model.pipeline.infer_tensors(sample).await) };
            // The request's span follows the task, so its log lines keep the request id.
            tasks.spawn(run.in_current_span());
        }
        // Returning early drops the set, which aborts (and so withdraws) the other samples.
        let Some(joined) = tasks.join_next().await else {
            return Ok(results);
        };
        let (i, outcome) =
            joined.map_err(|e| Error::Internal(format!("inference task failed: {e}")))?;
        results[i] = outcome?;
    }
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
