//! The tenant admin API on the management listener (admin only): create a tenant (its
//! first token is in the answer, and only there), list, describe, remove (its models are
//! unregistered first), issue and revoke tokens. Every operation goes to the audit log.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::json;

use super::{Caller, Principal, Quotas, TenantRecord};
use crate::{ApiError, Manager};

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

fn admin_only(caller: &Principal) -> Result<(), ApiError> {
    match caller {
        Principal::Tenant(_)
        | Principal::Admin {
            acting_for: Some(_),
        } => Err(ApiError::new(
            403,
            "Forbidden",
            "managing tenants needs the admin token (without x-ferroserve-tenant)",
        )),
        Principal::Open | Principal::Admin { acting_for: None } => Ok(()),
    }
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
    admin_only(&caller)?;
    let Json(req) = body.map_err(|e| {
        ApiError::new(
            400,
            "BadRequestException",
            format!(
                "{}; send {{\"name\": \"acme\", \"quotas\": {{...}}}}",
                e.body_text()
            ),
        )
    })?;
    let outcome = m.tenants().create(&req.name, req.quotas);
    m.audit(
        &caller,
        "create-tenant",
        &req.name,
        outcome.as_ref().map(|_| ()),
    );
    let (record, token) = outcome?;
    let mut body = view(&record);
    body["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list(State(m): State<Manager>, Caller(caller): Caller) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let tenants: Vec<_> = m.tenants().list().iter().map(view).collect();
    Ok(Json(json!({ "tenants": tenants })).into_response())
}

async fn describe(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let record = m
        .tenants()
        .list()
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "TenantNotFound",
                format!("no tenant {name}; GET /tenants lists them"),
            )
        })?;
    Ok(Json(view(&record)).into_response())
}

async fn remove(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let outcome = remove_with_models(&m, &name).await;
    m.audit(
        &caller,
        "remove-tenant",
        &name,
        outcome.as_ref().map(|_| ()),
    );
    outcome?;
    Ok(
        Json(json!({ "status": format!("Tenant \"{name}\" removed with its models") }))
            .into_response(),
    )
}

async fn remove_with_models(m: &Manager, name: &str) -> Result<(), ApiError> {
    let record = m.tenants().remove(name)?;
    for (model, is_default) in m.registry().all() {
        if model.tenant.as_deref() == Some(record.name.as_str()) && !is_default {
            m.unregister(&model.key(), Some(&model.version)).await?;
        }
    }
    for model in m.registry().defaults_of(Some(&record.name)) {
        m.unregister(&model.key(), Some(&model.version)).await?;
    }
    Ok(())
}

async fn issue(
    State(m): State<Manager>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let outcome = m.tenants().issue_token(&name);
    m.audit(&caller, "issue-token", &name, outcome.as_ref().map(|_| ()));
    let (record, token) = outcome?;
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
    admin_only(&caller)?;
    let outcome = m.tenants().revoke(&name, &id);
    m.audit(
        &caller,
        "revoke-token",
        &format!("{name}/{id}"),
        outcome.as_ref().map(|_| ()),
    );
    outcome?;
    Ok(
        Json(json!({ "status": format!("Token {id} of tenant \"{name}\" revoked") }))
            .into_response(),
    )
}
