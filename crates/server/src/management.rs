//! The management API (TorchServe's port 8081): register (from the model store, an allowed
//! URL, or the archive in the request body), scale, describe, list, unregister, set the
//! default version. Bodies and statuses follow TorchServe's so its clients keep working.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::json;

use crate::tenancy::{Caller, Principal};
use crate::{ApiError, LoadRequest, Manager};

pub fn router(manager: Manager) -> Router {
    Router::new()
        .route("/models", get(list).post(register))
        .route(
            "/models/{name}",
            get(describe_default)
                .put(scale_default)
                .delete(unregister_default),
        )
        .route(
            "/models/{name}/{version}",
            get(describe_version)
                .put(scale_version)
                .delete(unregister_version),
        )
        .route("/models/{name}/{version}/set-default", put(set_default))
        .fallback(crate::inference::unknown_route)
        .with_state(manager)
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

async fn register(
    State(manager): State<Manager>,
    Caller(caller): Caller,
    params: Result<Query<RegisterParams>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| bad_query(e.body_text()))?;
    let target = p.url.clone().unwrap_or_else(|| "upload".into());
    let outcome = register_as(&manager, &caller, p, body).await;
    manager.audit(&caller, "register", &target, outcome.as_ref().map(|_| ()));
    outcome
}

async fn register_as(
    manager: &Manager,
    caller: &Principal,
    p: RegisterParams,
    body: Body,
) -> Result<Response, ApiError> {
    let quota = caller.tenant().map(|t| t.quotas.max_archive_bytes);
    let (archive, url) = match &p.url {
        Some(url) => (manager.store().resolve(url).await?, url.clone()),
        None => {
            let (path, sha) = manager.store().keep_upload(body, quota).await?;
            (path, format!("upload:{sha}"))
        }
    };
    if let (Some(limit), Ok(meta)) = (quota, std::fs::metadata(&archive))
        && meta.len() > limit
    {
        let what = format!("the archive is {} bytes", meta.len());
        return Err(crate::tenancy::quota_exceeded(
            "max_archive_bytes",
            limit,
            &what,
        ));
    }
    let req = LoadRequest {
        archive,
        url,
        name: p.model_name,
        batch_size: p.batch_size,
        max_batch_delay_ms: p.max_batch_delay,
        min_workers: p.initial_workers,
        max_workers: None,
        response_timeout_s: p.response_timeout,
        loaded_at_startup: false,
        tenant: caller.tenant().map(|t| (t.name.clone(), t.quotas.clone())),
    };
    let model = manager.register(req).await?;
    let workers = model.pipeline.batcher().stats().workers;
    Ok(status(format!(
        "Model \"{}\" Version: {} registered with {workers} initial workers",
        model.name, model.version
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
    let Query(p) = params.map_err(|e| bad_query(e.body_text()))?;
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let start = p.next_page_token.unwrap_or(0);
    let all = manager
        .registry()
        .defaults_of(caller.tenant().map(|t| t.name.as_str()));
    let page: Vec<_> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| json!({ "modelName": m.name, "modelUrl": m.info.url }))
        .collect();
    let mut body = json!({ "models": page });
    if start + limit < all.len() {
        body["nextPageToken"] = json!((start + limit).to_string());
    }
    Ok(axum::Json(body).into_response())
}

async fn describe_default(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    describe(&m, &caller.qualify(&name), None)
}

async fn describe_version(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    describe(&m, &caller.qualify(&name), Some(&version))
}

/// TorchServe answers a list even for one version; `all` lists every version.
fn describe(manager: &Manager, key: &str, version: Option<&str>) -> Result<Response, ApiError> {
    let registry = manager.registry();
    let described: Vec<_> = if version == Some("all") {
        registry
            .versions(key)?
            .iter()
            .map(|(m, d)| m.describe(*d))
            .collect()
    } else {
        let model = registry.get(key, version)?;
        vec![model.describe(registry.is_default(&model))]
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

type ScaleQuery = Result<Query<ScaleParams>, axum::extract::rejection::QueryRejection>;

async fn scale_default(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    params: ScaleQuery,
) -> Result<Response, ApiError> {
    scale(&m, &caller, &name, None, params).await
}

async fn scale_version(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
    params: ScaleQuery,
) -> Result<Response, ApiError> {
    scale(&m, &caller, &name, Some(&version), params).await
}

/// TorchServe's defaults: `min_worker` 1, `max_worker` = `min_worker`.
async fn scale(
    manager: &Manager,
    caller: &Principal,
    name: &str,
    version: Option<&str>,
    params: ScaleQuery,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| bad_query(e.body_text()))?;
    let min = p.min_worker.unwrap_or(1);
    let max = p.max_worker.unwrap_or(min);
    let outcome = manager
        .scale(&caller.qualify(name), version, min, max)
        .await;
    manager.audit(
        caller,
        &format!("scale min={min} max={max}"),
        &target(name, version),
        outcome.as_ref().map(|_| ()),
    );
    let model = outcome?;
    Ok(status(format!(
        "Workers scaled to min {min}, max {max} for model: {}, version: {}",
        model.name, model.version
    )))
}

async fn unregister_default(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let outcome = m.unregister(&caller.qualify(&name), None).await;
    m.audit(&caller, "unregister", &name, outcome.as_ref().map(|_| ()));
    Ok(status(format!("Model \"{}\" unregistered", outcome?.name)))
}

async fn unregister_version(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let outcome = m.unregister(&caller.qualify(&name), Some(&version)).await;
    m.audit(
        &caller,
        "unregister",
        &target(&name, Some(&version)),
        outcome.as_ref().map(|_| ()),
    );
    let model = outcome?;
    Ok(status(format!(
        "Model \"{}\" version: {} unregistered",
        model.name, model.version
    )))
}

async fn set_default(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let outcome = m.set_default(&caller.qualify(&name), &version).await;
    m.audit(
        &caller,
        "set-default",
        &target(&name, Some(&version)),
        outcome.as_ref().map(|_| ()),
    );
    outcome?;
    Ok(status(format!(
        "Default version successfully updated for model \"{name}\" to \"{version}\""
    )))
}

fn target(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{name}/{v}"),
        None => name.to_owned(),
    }
}

fn status(message: String) -> Response {
    axum::Json(json!({ "status": message })).into_response()
}

fn bad_query(detail: String) -> ApiError {
    ApiError::new(
        400,
        "BadRequestException",
        format!("invalid query parameters: {detail}; see OPTIONS / for the accepted ones"),
    )
}
