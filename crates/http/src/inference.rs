//! The inference API (TorchServe's port 8080): `/ping` and `/predictions/{model}[/{version}]`
//! with a raw body or a multipart form (the handler's body is TorchServe's `data` or `body`
//! field; every field reaches a 0.2.0 handler, `form.rs`). As in
//! TorchServe, any method runs a prediction except `OPTIONS`, which describes the model's
//! API; `/explanations` finds the model and answers 501 (handlers cannot explain). KServe
//! routes are in `kserve.rs` (v2) and `kserve_v1.rs`.

use crate::extract::Path;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, post};
use ferroserve_sandbox::{FormField, HandlerRequest};

use ferroserve_core::Registry;
use serde::Deserialize;

use crate::{ApiError, Caller, Edge};

pub fn router(registry: Registry) -> Router {
    let predictions =
        || -> MethodRouter<Registry> { post(predict).options(model_api).fallback(predict) };
    Router::new()
        .route("/ping", any(ping))
        .route("/predictions/{model}", predictions())
        .route("/predictions/{model}/{version}", predictions())
        .route("/explanations/{model}", any(explain))
        .route("/explanations/{model}/{version}", any(explain))
        .fallback(unknown_route)
        .with_state(registry)
}

/// `OPTIONS /predictions/{m}`: the model's API, in TorchServe's per-model shape.
async fn model_api(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
) -> Result<Response, ApiError> {
    let model = registry.get(&caller.qualify(&target.model), target.version.as_deref())?;
    Ok(axum::Json(crate::openapi::model_document(model.name())).into_response())
}

async fn explain(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
) -> Result<Response, ApiError> {
    let model = registry.get(&caller.qualify(&target.model), target.version.as_deref())?;
    Err(Edge::ExplainUnsupported(model.name().to_string()).into())
}

/// `{model}` and, on the versioned routes, `{version}`.
#[derive(Deserialize)]
pub(crate) struct Target {
    pub model: String,
    pub version: Option<String>,
}

/// Healthy when every model has at least its minimum of workers running (TorchServe
/// answers 500 otherwise, which load balancers read as not ready).
async fn ping(State(registry): State<Registry>, Caller(caller): Caller) -> Response {
    let health = ferroserve_core::describe::Health::seen_by(&registry, &caller);
    let status = if health.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, axum::Json(health)).into_response()
}

async fn predict(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let model = registry.get(&caller.qualify(&target.model), target.version.as_deref())?;
    // Held until the response is built: the tenant's in-flight quota.
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (body, content_type, fields) = match content_type {
        Some(ct) if ct.starts_with("multipart/form-data") => form_payload(&ct, body).await?,
        other => (body, other, Vec::new()),
    };
    let request = HandlerRequest {
        body,
        content_type,
        headers: handler_headers(&headers),
        parameters: query,
        fields,
    };
    let response = model.pipeline.infer(request).await?;
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    let mut reply = (
        status,
        [(header::CONTENT_TYPE, response.content_type)],
        response.body,
    )
        .into_response();
    crate::form::add_handler_headers(reply.headers_mut(), response.headers);
    Ok(reply)
}

/// The payload of a multipart form: the field named `data` or `body` (TorchServe's names),
/// else the only field, else none (an empty body: a 0.2.0 handler reads `fields`); its own
/// content type, if it has one, is what the handler sees. Every field comes along.
async fn form_payload(
    content_type: &str,
    body: Bytes,
) -> Result<(Bytes, Option<String>, Vec<FormField>), ApiError> {
    let bad = |message: String| ApiError::from(Edge::BadMultipart(message));
    let request = Request::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("a valid request");
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| bad(format!("{e}; send multipart/form-data with a boundary")))?;
    let mut fields = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("unreadable multipart form: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let data = field
            .bytes()
            .await
            .map_err(|e| bad(format!("unreadable form field {name:?}: {e}")))?;
        fields.push(FormField {
            name,
            filename,
            content_type,
            data,
        });
    }
    let (body, ct) = match crate::form::input_field(&fields) {
        Some(f) => (f.data.clone(), f.content_type.clone()),
        None => (Bytes::new(), None),
    };
    Ok((body, ct, fields))
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

pub(crate) async fn unknown_route() -> Edge {
    Edge::UnknownRoute
}
