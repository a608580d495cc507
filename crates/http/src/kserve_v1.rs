//! KServe v1 REST routes, merged into the inference listener as TorchServe serves them:
//! `GET /v1/models`, `GET /v1/models/{m}` (readiness), `POST /v1/models/{m}:predict`.
//!
//! `{"instances": [...]}` goes through the model's handler: each instance is one request
//! (its JSON as the body, `application/json`), all submitted at once so the batcher batches
//! them; each handler response becomes one entry of `{"predictions": [...]}` (parsed as JSON
//! when it is JSON, else kept as a string). One failed instance fails the request; at most
//! 1024 instances per request, as for v2's samples.
//! `:explain` answers 501: handlers have no explain entry point. Errors are TorchServe's
//! JSON, as TorchServe's own v1 routes give them.

use crate::extract::Path;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferroserve_core::Registry;
use ferroserve_sandbox::HandlerRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, Caller, Edge};

pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/v1/models", get(list))
        .route("/v1/models/{target}", get(ready).post(predict))
        .with_state(registry)
}

async fn list(State(registry): State<Registry>, Caller(caller): Caller) -> Json<Value> {
    let tenant = caller.tenant().map(|t| t.name.as_str());
    let names: Vec<String> = registry
        .defaults_of(tenant)
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    Json(json!({ "models": names }))
}

/// `GET /v1/models/{m}`: `{"name", "ready"}`, 503 when not ready (probes read the status).
async fn ready(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<String>,
) -> Result<Response, ApiError> {
    let model = registry.get(&caller.qualify(&target), None)?;
    let ready = model.is_healthy();
    Ok(crate::kserve::readiness(
        ready,
        json!({ "name": model.name(), "ready": ready }),
    ))
}

#[derive(Deserialize)]
struct PredictRequest {
    instances: Vec<Value>,
}

/// `POST /v1/models/{m}:predict` (and `:explain`).
async fn predict(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (name, verb) = match target.rsplit_once(':') {
        Some((name, verb @ ("predict" | "explain"))) => (name, verb),
        _ => return Err(Edge::UnknownRoute.into()),
    };
    let model = registry.get(&caller.qualify(name), None)?;
    if verb == "explain" {
        return Err(Edge::ExplainUnsupported(model.name().to_string()).into());
    }
    let request: PredictRequest = serde_json::from_slice(&body).map_err(|e| {
        Edge::BadJson(format!(
            "a KServe v1 request is {{\"instances\": [...]}} ({e})"
        ))
    })?;
    let max = ferroserve_core::tensors::MAX_SAMPLES;
    if request.instances.len() as u64 > max {
        return Err(Edge::InvalidInference(format!(
            "{} instances in one request; at most {max} (as for v2 samples), split it",
            request.instances.len()
        ))
        .into());
    }
    let pipeline = &model.pipeline;
    let calls = request.instances.into_iter().map(|instance| async move {
        let request = HandlerRequest {
            body: serde_json::to_vec(&instance).expect("a JSON value").into(),
            content_type: Some("application/json".into()),
            headers: Vec::new(),
            parameters: Vec::new(),
            fields: Vec::new(),
        };
        pipeline.infer(request).await
    });
    let responses = futures_util::future::try_join_all(calls).await?;
    let predictions: Vec<Value> = responses
        .into_iter()
        .map(|r| {
            serde_json::from_slice(&r.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into_owned()))
        })
        .collect();
    Ok(Json(json!({ "predictions": predictions })).into_response())
}
