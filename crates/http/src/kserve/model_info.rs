//! What Triton's clients ask about a model beyond its metadata: its configuration
//! (`GET /v2/models/{m}[/versions/{v}]/config`, Triton's `ModelConfig` as JSON) and its
//! statistics (`GET /v2/models[/{m}[/versions/{v}]]/stats`, from the pipeline's counts).

use std::sync::Arc;

use crate::extract::Path;
use axum::Json;
use axum::extract::State;
use ferroserve_core::{Model, Registry, Tally, tensors};
use serde_json::{Value, json};

use super::Target;
use crate::{ApiError, Caller};

pub(super) async fn config(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
) -> Result<Json<Value>, ApiError> {
    let model = target.find(&registry, &caller)?;
    let meta = tensors::metadata(&registry, &model)?;
    // Triton's dims leave out the batch dimension when max_batch_size > 0.
    let specs = |list: &[tensors::TensorMeta]| -> Vec<Value> {
        list.iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "data_type": tensors::config_data_type(&t.datatype),
                    "dims": t.shape.get(1..).unwrap_or_default(),
                })
            })
            .collect()
    };
    Ok(Json(json!({
        "name": meta.name,
        "platform": meta.platform,
        "backend": "pytorch",
        "version_policy": { "latest": { "num_versions": 1 } },
        "max_batch_size": meta.max_batch_size,
        "input": specs(&meta.inputs),
        "output": specs(&meta.outputs),
        "dynamic_batching": {
            "preferred_batch_size": [model.info.batch_size],
            "max_queue_delay_microseconds": model.info.max_batch_delay_ms.saturating_mul(1000),
        },
    })))
}

/// `GET /v2/models/stats`: every version in the caller's namespace.
pub(super) async fn all_stats(
    State(registry): State<Registry>,
    Caller(caller): Caller,
) -> Json<Value> {
    let tenant = caller.tenant().map(|t| t.name.as_str());
    let models: Vec<Value> = registry.versions_of(tenant).iter().map(stats_of).collect();
    Json(json!({ "model_stats": models }))
}

/// One model: every version without `/versions/{v}`, as Triton answers.
pub(super) async fn stats(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
) -> Result<Json<Value>, ApiError> {
    let models: Vec<Value> = match &target.version {
        Some(_) => vec![stats_of(&target.find(&registry, &caller)?)],
        None => registry
            .versions(&caller.qualify(&target.model))?
            .iter()
            .map(|(m, _)| stats_of(m))
            .collect(),
    };
    Ok(Json(json!({ "model_stats": models })))
}

fn stats_of(model: &Arc<Model>) -> Value {
    let s = model.pipeline.stats();
    let d = |t: Tally| json!({ "count": t.count, "ns": t.ns });
    json!({
        "name": model.name(),
        "version": model.version,
        "last_inference": s.last_inference_ms,
        "inference_count": s.inference_count,
        "execution_count": s.execution_count,
        "inference_stats": {
            "success": d(s.success),
            "fail": d(s.fail),
            "queue": d(s.queue),
            "compute_input": d(s.compute_input),
            "compute_infer": d(s.compute_infer),
            "compute_output": d(s.compute_output),
            "cache_hit": d(Tally::default()),
            "cache_miss": d(Tally::default()),
        },
        "batch_stats": [],
    })
}
