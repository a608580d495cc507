//! The tenant admin API on the management listener (admin only): create a tenant (its
//! first token is in the answer, and only there), list, describe, remove (its models are
//! unregistered first), issue and revoke tokens. The operations, their admin check and
//! their audit are the core's (`Manager::create_tenant` and the rest).

use crate::extract::Path;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use ferroserve_core::Manager;
use ferroserve_core::tenancy::{Quotas, TenantRecord};
use serde::Deserialize;
use serde_json::json;

use crate::{ApiError, Caller, Edge};

pub fn router(manager: Manager) -> Router {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{name}", get(describe).delete(remove))
        .route("/tenants/{name}/tokens", post(issue))
        .route("/tenants/{name}/tokens/{id}", delete(revoke))
        .with_state(manager)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenant {
    name: String,
    #[serde(default)]
    quotas: Quotas,
}

/// Quotas and token ids, never hashes.
fn view(record: &TenantRecord) -> serde_json::Value {
    let tokens: Vec<_> = record
        .tokens
        .iter()
        .map(|t| json!({ "id": t.id, "created": t.created }))
        .collect();
    json!({ "name": record.name, "quotas": record.quotas, "tokens": tokens })
}

async fn create(
    State(m): State<Manager>,
    Caller(caller): Caller,
    body: Result<Json<CreateTenant>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let Json(req) = body.map_err(|e| {
        Edge::BadJson(format!(
            "{}; send {{\"name\": \"acme\", \"quotas\": {{...}}}}",
            e.body_text()
        ))
    })?;
    let (record, token) = m.create_tenant(&caller, &req.name, req.quotas)?;
    let mut body = view(&record);
    body["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list(State(m): State<Manager>, Caller(caller): Caller) -> Result<Response, ApiError> {
    let tenants: Vec<_> = m.list_tenants(&caller)?.iter().map(view).collect();
    Ok(Json(json!({ "tenants": tenants })).into_response())
}

async fn describe(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(view(&m.describe_tenant(&caller, &name)?)).into_response())
}

async fn remove(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    m.remove_tenant(&caller, &name).await?;
    Ok(
        Json(json!({ "status": format!("Tenant \"{name}\" removed with its models") }))
            .into_response(),
    )
}

async fn issue(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let (record, token) = m.issue_token(&caller, &name)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": record.id, "token": token })),
    )
        .into_response())
}

async fn revoke(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    m.revoke_token(&caller, &name, &id)?;
    Ok(
        Json(json!({ "status": format!("Token {id} of tenant \"{name}\" revoked") }))
            .into_response(),
    )
}
