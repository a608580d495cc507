//! KServe v2 (Open Inference Protocol) REST routes, merged into the inference listener,
//! with the extensions Triton's clients use:
//! - server metadata (`GET /v2`), health (`/v2/health/{live,ready}`), model metadata
//!   (inputs and outputs) and readiness, `/config` and `/stats` (`model_info.rs`), the
//!   model repository (`repository.rs`), and `POST /v2/models/{m}[/versions/{v}]/infer` in
//!   JSON or with the binary tensor data extension (`infer.rs`, `codec.rs`).
//! - v2 clients send tensors already, so the model's handler is skipped: the batch goes
//!   straight to the model through its batcher, split into samples that batch with other
//!   clients' requests (`ferroserve_core::tensors`). Each sample counts as one request in
//!   the model's metrics. BYTES inputs are refused with where to send them instead
//!   (`/predictions` and v1 run the handler).
//! - Inputs reach the model in the order the request lists them (TorchScript takes them
//!   positionally); `outputs`, when given, selects and orders the returned outputs.
//! - Readiness answers 503 with `"ready": false` when some model has fewer workers than its
//!   minimum, so probes can read the status alone.
//! - Errors on `/v2` paths are v2's `{"error": "..."}` (`errors.rs`), with the statuses of
//!   the rest of the server (`error.rs`).

use std::sync::Arc;

use crate::extract::Path;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferroserve_core::tenancy::Principal;
use ferroserve_core::{Model, Registry, tensors};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, Caller};

pub(crate) mod codec;
mod errors;
mod infer;
mod model_info;
pub mod repository;

pub(crate) use errors::v2_error_bodies;

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
        .route("/v2/models/stats", get(model_info::all_stats))
        .route("/v2/models/{model}/config", get(model_info::config))
        .route(
            "/v2/models/{model}/versions/{version}/config",
            get(model_info::config),
        )
        .route("/v2/models/{model}/stats", get(model_info::stats))
        .route(
            "/v2/models/{model}/versions/{version}/stats",
            get(model_info::stats),
        )
        .route("/v2/models/{model}/infer", post(infer::infer))
        .route(
            "/v2/models/{model}/versions/{version}/infer",
            post(infer::infer),
        )
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
        "extensions": ["binary_tensor_data", "model_configuration", "model_repository", "statistics"],
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
    let ready = registry.ready_for(tenant);
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
