//! KServe v2 (Open Inference Protocol) REST routes, merged into the inference listener:
//! server metadata (`GET /v2`), health (`/v2/health/{live,ready}`), model metadata and
//! readiness, and `POST /v2/models/{m}[/versions/{v}]/infer`.
//!
//! Inference semantics:
//! - v2 clients send tensors already, so the model's handler is skipped: tensors go straight
//!   to the model through its batcher ([`Pipeline::infer_tensors`](crate::Pipeline)).
//! - Dim 0 of every input is the batch. Each input is split along it into per-sample
//!   tensors (all inputs must agree on its size); each sample is submitted as its own
//!   request, all concurrently, so the batcher may batch them with other clients' requests;
//!   each output is stacked back into `[n, ...]`. One failed sample fails the request and
//!   withdraws the rest. Each sample counts as one request in the model's metrics.
//! - Inputs reach the model in the order the request lists them (TorchScript takes them
//!   positionally). `data` may be flat or nested (row-major) and must hold exactly
//!   product(`shape`) elements. `parameters` are accepted and ignored.
//! - Datatypes: those the tensor type has (FP32, FP64, FP16, BF16, INT64, INT32, INT8, UINT8,
//!   BOOL); BYTES and the other integer widths are refused with 400.
//! - `outputs`, when given, selects and orders the returned outputs by name.
//! - Readiness answers 503 with `"ready": false` when some model has fewer workers than its
//!   minimum, so probes can read the status alone.
//!
//! Errors use TorchServe's `{"code","type","message"}` ([`ApiError`](crate::ApiError)) rather than KServe's
//! `{"error": "..."}`: one error shape per server, so clients and logs need one parser.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferroserve_core::tenancy::Principal;
use ferroserve_core::{Model, Registry, tensors};
use ferroserve_tensor::Tensor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{ApiError, Caller};

pub(crate) mod codec;

pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(server_ready))
        .route("/v2/models/{model}", get(metadata))
        .route("/v2/models/{model}/versions/{version}", get(metadata))
        .route("/v2/models/{model}/ready", get(model_ready))
        .route(
            "/v2/models/{model}/versions/{version}/ready",
            get(model_ready),
        )
        .route("/v2/models/{model}/infer", post(infer))
        .route("/v2/models/{model}/versions/{version}/infer", post(infer))
        .with_state(registry)
}

/// `{model}` and, on the `/versions/{version}` routes, `{version}`.
#[derive(Deserialize)]
struct Target {
    model: String,
    version: Option<String>,
}

impl Target {
    fn find(&self, registry: &Registry, caller: &Principal) -> Result<Arc<Model>, ApiError> {
        Ok(registry.get(&caller.qualify(&self.model), self.version.as_deref())?)
    }
}

async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "ferroserve",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": [],
    }))
}

async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

/// 200, or 503 when not ready, so probes can read the status alone.
pub(crate) fn readiness(ready: bool, body: Value) -> Response {
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn server_ready(State(registry): State<Registry>, Caller(caller): Caller) -> Response {
    // A tenant's readiness is its own models'.
    let tenant = caller.tenant().map(|t| t.name.as_str());
    let ready = registry
        .all()
        .iter()
        .filter(|(m, _)| tenant.is_none() || m.tenant() == tenant)
        .all(|(m, _)| m.is_healthy());
    readiness(ready, json!({ "ready": ready }))
}

async fn model_ready(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
) -> Result<Response, ApiError> {
    let model = target.find(&registry, &caller)?;
    let ready = model.is_healthy();
    Ok(readiness(
        ready,
        json!({ "name": model.name(), "ready": ready }),
    ))
}

async fn metadata(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
) -> Result<Json<Value>, ApiError> {
    let model = target.find(&registry, &caller)?;
    let meta = tensors::metadata(&registry, &model)?;
    let specs = |list: &[tensors::TensorMeta]| -> Vec<Value> {
        list.iter()
            .map(|t| json!({ "name": t.name, "datatype": t.datatype, "shape": t.shape }))
            .collect()
    };
    Ok(Json(json!({
        "name": meta.name,
        "versions": meta.versions,
        "platform": meta.platform,
        "inputs": specs(&meta.inputs),
        "outputs": specs(&meta.outputs),
    })))
}

#[derive(Deserialize)]
struct InferRequest {
    id: Option<String>,
    // `parameters`, like any field not named here, is accepted and ignored.
    inputs: Vec<codec::WireTensor>,
    outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Deserialize)]
struct RequestedOutput {
    name: String,
}

#[derive(Serialize)]
struct InferResponse<'a> {
    model_name: &'a str,
    model_version: &'a str,
    /// Echoed only when the request had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    outputs: Vec<codec::WireOutput>,
}

async fn infer(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let model = target.find(&registry, &caller)?;
    let _permit = caller.admit().await?;
    let request: InferRequest = serde_json::from_slice(&body).map_err(|e| {
        codec::bad_request(format!(
            "the body is not a KServe v2 inference request: {e}"
        ))
    })?;
    let inputs = request
        .inputs
        .iter()
        .map(codec::decode)
        .collect::<Result<Vec<Tensor>, ApiError>>()?;
    let wanted: Vec<String> = request
        .outputs
        .into_iter()
        .flatten()
        .map(|o| o.name)
        .collect();
    let outputs = tensors::infer_batch(&model, inputs, &wanted).await?;
    Ok(Json(InferResponse {
        model_name: model.name(),
        model_version: &model.version,
        id: request.id,
        outputs: outputs.iter().map(codec::encode).collect(),
    })
    .into_response())
}
