//! The inference API (TorchServe's port 8080): `GET /ping` and
//! `POST /predictions/{model}[/{version}]` with a raw body.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferroserve_sandbox::HandlerRequest;

use crate::{ApiError, Registry};

pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/predictions/{model}", post(predict_default))
        .route("/predictions/{model}/{version}", post(predict_version))
        .fallback(unknown_route)
        .with_state(registry)
}

async fn ping() -> Response {
    axum::Json(serde_json::json!({ "status": "Healthy" })).into_response()
}

async fn predict_default(
    State(registry): State<Registry>,
    Path(model): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    predict(&registry, &model, None, query, &headers, body).await
}

async fn predict_version(
    State(registry): State<Registry>,
    Path((model, version)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    predict(&registry, &model, Some(&version), query, &headers, body).await
}

async fn predict(
    registry: &Registry,
    model: &str,
    version: Option<&str>,
    query: Vec<(String, String)>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pipeline = registry.get(model, version)?;
    let request = HandlerRequest {
        body,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        headers: handler_headers(headers),
        parameters: query,
    };
    let response = pipeline.infer(request).await?;
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    Ok((
        status,
        [(header::CONTENT_TYPE, response.content_type)],
        response.body,
    )
        .into_response())
}

/// Headers a handler may see: lower-cased names, never credentials.
fn handler_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| *name != header::AUTHORIZATION && *name != header::COOKIE)
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

async fn unknown_route() -> ApiError {
    ApiError::new(
        404,
        "ResourceNotFoundException",
        "Requested resource is not found; see OPTIONS / for the API",
    )
}
