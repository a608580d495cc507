//! KServe v2's model-repository extension as Triton serves it, on the inference listener:
//! `POST /v2/repository/index` (the caller's models; `{"ready": true}` for the ready ones),
//! `POST /v2/repository/models/{m}/load` and `/unload`. Loading and unloading are
//! management: the caller's token must be valid for the management API (an inference key
//! is not), and they are off when the model API is (`model_api = false`). The operations
//! themselves are the core's (`ferroserve_core::repository`).

use crate::extract::Path;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use ferroserve_core::Manager;
use ferroserve_core::tenancy::{Api, Auth, Principal};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, Caller, Edge};

#[derive(Clone)]
struct Repo {
    manager: Manager,
    auth: Auth,
    model_api: bool,
}

pub fn router(manager: Manager, auth: Auth, model_api: bool) -> Router {
    Router::new()
        .route("/v2/repository/index", post(index))
        .route("/v2/repository/models/{model}/load", post(load))
        .route("/v2/repository/models/{model}/unload", post(unload))
        .with_state(Repo {
            manager,
            auth,
            model_api,
        })
}

#[derive(Deserialize, Default)]
struct IndexRequest {
    #[serde(default)]
    ready: bool,
}

async fn index(
    State(repo): State<Repo>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: IndexRequest = if body.iter().all(u8::is_ascii_whitespace) {
        IndexRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Edge::BadJson(format!(
                "the body is not a repository index request ({{\"ready\": bool}}): {e}"
            ))
        })?
    };
    let entries: Vec<Value> = repo
        .manager
        .repository_index(&caller, request.ready)
        .into_iter()
        .map(|e| json!({ "name": e.name, "version": e.version, "state": e.state, "reason": e.reason }))
        .collect();
    Ok(Json(Value::Array(entries)))
}

/// The caller as the management API sees it.
fn manager_of(repo: &Repo, headers: &HeaderMap) -> Result<Principal, ApiError> {
    if !repo.model_api {
        return Err(Edge::ModelApiDisabled.into());
    }
    let (token, acting_for) = crate::auth::credentials(headers);
    Ok(repo
        .auth
        .principal(Api::Management, token.as_deref(), acting_for.as_deref())?)
}

async fn load(
    State(repo): State<Repo>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = manager_of(&repo, &headers)?;
    repo.manager.repository_load(&who, &model).await?;
    Ok(Json(json!({})))
}

async fn unload(
    State(repo): State<Repo>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = manager_of(&repo, &headers)?;
    repo.manager.repository_unload(&who, &model).await?;
    Ok(Json(json!({})))
}
