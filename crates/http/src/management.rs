//! The management API (TorchServe's port 8081): register (from the model store, an allowed
//! URL, or the archive in the request body), scale, describe, list, unregister, set the
//! default version. Bodies and statuses follow TorchServe's so its clients keep working;
//! the operations themselves (and their audit) are the core's `Manager`.

use crate::extract::Path;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use bytes::Bytes;
use ferroserve_core::{ByteStream, Manager, Register};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;

use crate::inference::Target;
use ferroserve_core::describe::{describe, list_models, sentences};

use crate::{ApiError, Caller, Edge, query};

/// `model_api`: whether registering and unregistering are served (TorchServe's
/// `enable_model_api`); without it they answer 405, as TorchServe's do.
pub fn router(manager: Manager, model_api: bool) -> Router {
    let (register, unregister) = if model_api {
        (post(register), delete(unregister))
    } else {
        (post(model_api_off), delete(model_api_off))
    };
    let one = || get(describe_model).put(scale).merge(unregister.clone());
    Router::new()
        .route("/models", get(list).merge(register))
        .route("/models/{model}", one())
        .route("/models/{model}/{version}", one())
        .route("/models/{model}/{version}/set-default", put(set_default))
        .fallback(crate::inference::unknown_route)
        .with_state(manager)
}

async fn model_api_off() -> Edge {
    Edge::ModelApiDisabled
}

/// Query parameters that do not parse, as TorchServe's `BadRequestException`.
fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, Edge> {
    q.map(|Query(p)| p)
        .map_err(|e| Edge::BadQuery(e.body_text()))
}

/// TorchServe's registration parameters (in the query, or as a JSON body).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RegisterParams {
    url: Option<String>,
    model_name: Option<String>,
    #[serde(default, deserialize_with = "query::number")]
    batch_size: Option<usize>,
    #[serde(default, deserialize_with = "query::number")]
    max_batch_delay: Option<u64>,
    #[serde(default, deserialize_with = "query::number")]
    initial_workers: Option<usize>,
    /// TorchServe's default is true; false answers 202 (the registration has still
    /// completed here, so its errors reach the caller).
    #[serde(default, deserialize_with = "query::boolean")]
    synchronous: Option<bool>,
    #[serde(default, deserialize_with = "query::number")]
    response_timeout: Option<u64>,
    /// TorchServe's, accepted and ignored: handlers come from the archive, models load as
    /// fast as they load, objects are fetched as given.
    #[allow(dead_code)]
    handler: Option<String>,
    #[allow(dead_code)]
    runtime: Option<String>,
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "query::number")]
    startup_timeout: Option<u64>,
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "query::boolean")]
    s3_sse_kms: Option<bool>,
}

/// The request body as the core's byte stream (read only for uploads).
fn byte_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(|e| e.to_string()))
}

/// Registers from `url`, or from the archive in the body. With a JSON content type, a body
/// that is a JSON object carries the parameters instead, as TorchServe's
/// `RegisterModelRequest` reads them; any other body (an archive sent with the wrong
/// content type, or none) keeps the query's parameters and streams as an upload.
async fn register(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    params: Result<Query<RegisterParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !is_json {
        return register_with(manager, caller, query(params)?, byte_stream(body)).await;
    }
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    // Enough of the body to see its first non-blank byte.
    while head.iter().all(u8::is_ascii_whitespace) {
        match stream.next().await {
            Some(chunk) => head.extend_from_slice(
                &chunk.map_err(|e| Edge::BadJson(format!("unreadable registration body: {e}")))?,
            ),
            None => break,
        }
    }
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let rest: ByteStream = Box::pin(stream.map_err(|e| e.to_string()));
    if first != Some(b'{') {
        let again = futures_util::stream::once(async move { Ok(Bytes::from(head)) });
        let body: ByteStream = Box::pin(again.chain(rest));
        return register_with(manager, caller, query(params)?, body).await;
    }
    let mut json = head;
    let mut rest = rest;
    while let Some(chunk) = rest.next().await {
        json.extend_from_slice(
            &chunk.map_err(|e| Edge::BadJson(format!("unreadable registration body: {e}")))?,
        );
        if json.len() > 64 << 10 {
            return Err(Edge::BadJson("a JSON registration body is at most 64 KiB".into()).into());
        }
    }
    let p: RegisterParams = serde_json::from_slice(&json).map_err(|e| {
        Edge::BadJson(format!(
            "a JSON registration body holds the query's parameters ({e})"
        ))
    })?;
    register_with(manager, caller, p, ferroserve_core::no_bytes()).await
}

async fn register_with(
    manager: Manager,
    caller: ferroserve_core::tenancy::Principal,
    p: RegisterParams,
    body: ByteStream,
) -> Result<Response, ApiError> {
    let synchronous = p.synchronous.unwrap_or(true);
    let r = Register {
        url: p.url,
        model_name: p.model_name,
        batch_size: p.batch_size,
        max_batch_delay_ms: p.max_batch_delay,
        initial_workers: p.initial_workers,
        response_timeout_s: p.response_timeout,
    };
    let model = manager.register(&caller, r, body).await?;
    let workers = model.pipeline.batcher().stats().workers;
    Ok(if workers != 0 && !synchronous {
        accepted()
    } else {
        status(sentences::registered(&model, workers))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    #[serde(default, deserialize_with = "query::number")]
    limit: Option<i64>,
    #[serde(default, deserialize_with = "query::number")]
    next_page_token: Option<u64>,
}

/// `{"models": [{"modelName", "modelUrl"}], "nextPageToken"?}`: TorchServe's paging, 100 per
/// page by default and at most (a limit out of 0..=100 means 100; 0 an empty page).
async fn list(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let tenant = caller.tenant().map(|t| t.name.as_str());
    let page = list_models(
        manager.registry(),
        tenant,
        p.limit,
        p.next_page_token.unwrap_or(0),
    );
    Ok(axum::Json(page).into_response())
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
    #[serde(default, deserialize_with = "query::number")]
    min_worker: Option<usize>,
    #[serde(default, deserialize_with = "query::number")]
    max_worker: Option<usize>,
    #[serde(default, deserialize_with = "query::boolean")]
    synchronous: Option<bool>,
    /// TorchServe's, accepted and ignored (its REST handler ignores them too).
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "query::number")]
    number_gpu: Option<i64>,
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "query::number")]
    timeout: Option<i64>,
}

/// TorchServe's defaults: `min_worker` 1, `max_worker` = `min_worker`, asynchronous (202).
/// The workers have been started (or refused) before either answer here. `min_worker=0`
/// keeps one worker allowed, started on demand (TorchServe would leave the model with none
/// and answer 503 until the next scale).
async fn scale(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
    params: Result<Query<ScaleParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let min = p.min_worker.unwrap_or(1);
    let max = p.max_worker.unwrap_or(min.max(1));
    let key = caller.qualify(&target.model);
    let model = manager
        .scale(&caller, &key, target.version.as_deref(), min, max)
        .await?;
    if !p.synchronous.unwrap_or(false) {
        return Ok(accepted());
    }
    Ok(status(sentences::scaled(
        &model,
        min,
        target.version.as_deref(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnregisterParams {
    /// TorchServe's, accepted and ignored: unregistering always completes before the answer.
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "query::boolean")]
    synchronous: Option<bool>,
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "query::number")]
    timeout: Option<i64>,
}

async fn unregister(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
    params: Result<Query<UnregisterParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    query(params)?;
    let key = caller.qualify(&target.model);
    let version = target.version.as_deref();
    let model = manager.unregister(&caller, &key, version).await?;
    Ok(status(sentences::unregistered(&model, version)))
}

async fn set_default(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    manager
        .set_default(&caller, &caller.qualify(&name), &version)
        .await?;
    Ok(status(sentences::default_set(&name, &version)))
}

fn status(message: String) -> Response {
    axum::Json(json!({ "status": message })).into_response()
}

/// TorchServe's answer to an asynchronous request.
fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "status": sentences::PROCESSING })),
    )
        .into_response()
}
