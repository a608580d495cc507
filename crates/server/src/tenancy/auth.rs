//! Who is calling: the bearer token of every request, checked in one middleware per
//! listener, becomes a [`Principal`] in the request's extensions; handlers take it with the
//! [`Caller`] extractor. Modes: `none` (no tokens; the single-tenant default on loopback),
//! `tokens` (tenants' tokens and the admin token), and TorchServe's `key_file.json`
//! (its inference and management keys), which may be combined with tenants.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Principal, Tenants, store::hash};
use crate::ApiError;

/// The header an admin uses to act in a tenant's namespace.
pub const TENANT_HEADER: &str = "x-ferroserve-tenant";

/// Which listener a request arrived on: keys and the metrics exemption depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Inference,
    Management,
    Metrics,
}

/// TorchServe's `key_file.json`: `{"management": {"key": …}, "inference": {"key": …},
/// "API": {"key": …}}` (other fields, such as expiration times, are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct KeyFile {
    pub management: Key,
    pub inference: Key,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Key {
    pub key: String,
}

/// The authentication settings and stores, shared by the three listeners.
#[derive(Clone)]
pub struct Auth {
    pub tenants: Arc<Tenants>,
    /// sha256 of the admin token; `None` with `keys` also `None`: auth is off.
    pub admin_sha256: Option<String>,
    pub keys: Option<KeyFile>,
    /// Whether /metrics needs a token when auth is on.
    pub metrics_need_token: bool,
}

impl Auth {
    pub fn off() -> Auth {
        Auth {
            tenants: Arc::new(Tenants::open(None).expect("an in-memory store")),
            admin_sha256: None,
            keys: None,
            metrics_need_token: false,
        }
    }

    fn is_on(&self) -> bool {
        self.admin_sha256.is_some() || self.keys.is_some()
    }

    /// The principal for `token` on `api`, or why not.
    pub fn principal(
        &self,
        api: Api,
        token: Option<&str>,
        acting_for: Option<&str>,
    ) -> Result<Principal, ApiError> {
        if !self.is_on() {
            return Ok(Principal::Open);
        }
        let Some(token) = token else {
            if api == Api::Metrics && !self.metrics_need_token {
                return Ok(Principal::Open);
            }
            return Err(unauthorized(
                "this server requires a token: send `Authorization: Bearer <token>`",
            ));
        };
        let digest = hash(token);
        if self.admin_sha256.as_deref() == Some(digest.as_str()) {
            let acting_for = match acting_for {
                None => None,
                Some(name) => Some(self.tenants.get(name).ok_or_else(|| {
                    ApiError::new(
                        404,
                        "TenantNotFound",
                        format!("no tenant {name} (from {TENANT_HEADER}); GET /tenants lists them"),
                    )
                })?),
            };
            return Ok(Principal::Admin { acting_for });
        }
        if let Some(keys) = &self.keys {
            let key = match api {
                Api::Inference => &keys.inference.key,
                Api::Management | Api::Metrics => &keys.management.key,
            };
            if hash(key) == digest {
                return Ok(Principal::Admin { acting_for: None });
            }
        }
        match self.tenants.authenticate(token) {
            Some(tenant) => Ok(Principal::Tenant(tenant)),
            None => Err(unauthorized(
                "the token is not valid here (unknown, revoked, or for another API); ask the operator for a token",
            )),
        }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(401, "Unauthorized", message)
}

/// The middleware: resolves the principal or answers 401 with `WWW-Authenticate: Bearer`.
pub async fn authenticate(
    State((auth, api)): State<(Auth, Api)>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let acting_for = request
        .headers()
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match auth.principal(api, token.as_deref(), acting_for.as_deref()) {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => {
            let unauthorized = e.code == 401;
            let mut response = e.into_response();
            if unauthorized {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

/// The caller of a handler: the middleware's principal, or `Open` on routers built
/// without it (single-tenant tests).
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, Self::Rejection> {
        Ok(Caller(
            parts
                .extensions
                .get::<Principal>()
                .cloned()
                .unwrap_or(Principal::Open),
        ))
    }
}
