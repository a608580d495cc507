//! The management API (TorchServe's port 8081): register (from the model store, an allowed
//! URL, or the archive in the request body), scale, describe, list, unregister, set the
//! default version. Bodies and statuses follow TorchServe's so its clients keep working;
//! the operations themselves (and their audit) are the core's `Manager`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use ferroserve_core::{ByteStream, Manager, Register};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::inference::Target;
use crate::{ApiError, Caller, Edge, describe::describe};

pub fn router(manager: Manager) -> Router {
    Router::new()
        .route("/models", get(list).post(register))
        .route(
            "/models/{model}",
            get(describe_model).put(scale).delete(unregister),
        )
        .route(
            "/models/{model}/{version}",
            get(describe_model).put(scale).delete(unregister),
        )
        .route("/models/{model}/{version}/set-default", put(set_default))
        .fallback(crate::inference::unknown_route)
        .with_state(manager)
}

/// Query parameters that do not parse, as TorchServe's `BadRequestException`.
fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, Edge> {
    q.map(|Query(p)| p)
        .map_err(|e| Edge::BadQuery(e.body_text()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterParams {
    url: Option<String>,
    model_name: Option<String>,
    batch_size: Option<usize>,
    max_batch_delay: Option<u64>,
    initial_workers: Option<usize>,
    /// Accepted for TorchServe compatibility; registration always completes before the
    /// answer here, so errors reach the caller.
    #[allow(dead_code)]
    synchronous: Option<bool>,
    response_timeout: Option<u64>,
    /// TorchServe's, accepted and ignored: handlers come from the archive.
    #[allow(dead_code)]
    handler: Option<String>,
    #[allow(dead_code)]
    runtime: Option<String>,
}

/// The request body as the core's byte stream (read only for uploads).
fn byte_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(|e| e.to_string()))
}

async fn register(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    params: Result<Query<RegisterParams>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let r = Register {
        url: p.url,
        model_name: p.model_name,
        batch_size: p.batch_size,
        max_batch_delay_ms: p.max_batch_delay,
        initial_workers: p.initial_workers,
        response_timeout_s: p.response_timeout,
    };
    let model = manager.register(&caller, r, byte_stream(body)).await?;
    let workers = model.pipeline.batcher().stats().workers;
    Ok(status(format!(
        "Model \"{}\" Version: {} registered with {workers} initial workers",
        model.name(),
        model.version
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<usize>,
    next_page_token: Option<usize>,
}

/// `{"models": [{"modelName", "modelUrl"}], "nextPageToken"?}`, 100 per page by default.
async fn list(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let start = p.next_page_token.unwrap_or(0);
    let all = manager
        .registry()
        .defaults_of(caller.tenant().map(|t| t.name.as_str()));
    let page: Vec<_> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| json!({ "modelName": m.name(), "modelUrl": m.info.url }))
        .collect();
    let mut body = json!({ "models": page });
    if start.saturating_add(limit) < all.len() {
        body["nextPageToken"] = json!((start + limit).to_string());
    }
    Ok(axum::Json(body).into_response())
}

/// TorchServe answers a list even for one version; `all` lists every version.
async fn describe_model(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
) -> Result<Response, ApiError> {
    let registry = manager.registry();
    let key = caller.qualify(&target.model);
    let described: Vec<_> = if target.version.as_deref() == Some("all") {
        registry
            .versions(&key)?
            .iter()
            .map(|(m, d)| describe(m, *d))
            .collect()
    } else {
        let model = registry.get(&key, target.version.as_deref())?;
        vec![describe(&model, registry.is_default(&model))]
    };
    Ok(axum::Json(described).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleParams {
    min_worker: Option<usize>,
    max_worker: Option<usize>,
    #[allow(dead_code)]
    synchronous: Option<bool>,
    #[allow(dead_code)]
    timeout: Option<i64>,
}

/// TorchServe's defaults: `min_worker` 1, `max_worker` = `min_worker`.
async fn scale(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
    params: Result<Query<ScaleParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let min = p.min_worker.unwrap_or(1);
    let max = p.max_worker.unwrap_or(min);
    let key = caller.qualify(&target.model);
    let model = manager
        .scale(&caller, &key, target.version.as_deref(), min, max)
        .await?;
    Ok(status(format!(
        "Workers scaled to min {min}, max {max} for model: {}, version: {}",
        model.name(),
        model.version
    )))
}

async fn unregister(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
) -> Result<Response, ApiError> {
    let key = caller.qualify(&target.model);
    let version = target.version.as_deref();
    let model = manager.unregister(&caller, &key, version).await?;
    Ok(status(match version {
        None => format!("Model \"{}\" unregistered", model.name()),
        Some(_) => format!(
            "Model \"{}\" version: {} unregistered",
            model.name(),
            model.version
        ),
    }))
}

async fn set_default(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    manager
        .set_default(&caller, &caller.qualify(&name), &version)
        .await?;
    Ok(status(format!(
        "Default version successfully updated for model \"{name}\" to \"{version}\""
    )))
}

fn status(message: String) -> Response {
    axum::Json(json!({ "status": message })).into_response()
}
