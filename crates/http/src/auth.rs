//! The REST edge of authentication: one middleware per listener takes the bearer token
//! (and an admin's `x-ferroserve-tenant`) from the headers, asks the core's [`Auth`] who
//! that is, and puts the [`Principal`] in the request's extensions, or answers 401 with
//! `WWW-Authenticate: Bearer`. Route handlers take it with the [`Caller`] extractor.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferroserve_core::tenancy::{Api, Auth, Principal};

use crate::ApiError;
use crate::layers::ListenerSlot;

/// The header an admin uses to act in a tenant's namespace.
pub const TENANT_HEADER: &str = "x-ferroserve-tenant";

/// The middleware. The API descriptions (`OPTIONS /`, `/api-description`) need no token,
/// as in TorchServe: they describe routes, not models.
pub async fn authenticate(
    State((auth, api)): State<(Auth, Api)>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == "/api-description"
        || (path == "/" && request.method() == axum::http::Method::OPTIONS)
    {
        request.extensions_mut().insert(Principal::Open);
        return next.run(request).await;
    }
    let (token, acting_for) = credentials(request.headers());
    match auth.principal(api, token.as_deref(), acting_for.as_deref()) {
        Ok(principal) => {
            // A tenant's in-flight quota (its management one on the management API) is taken
            // here, before any route reads the body, so a slow or stalled body costs one of
            // its own slots, never one another needs; a refusal gives back its listener
            // slot before waiting out its hold.
            let _permit = match principal.try_admit_on(api) {
                Ok(permit) => permit,
                Err(refused) => {
                    if let Some(slot) = request.extensions().get::<ListenerSlot>() {
                        slot.give_back();
                    }
                    return ApiError::from(refused.answer().await).into_response();
                }
            };
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The bearer token and the admin's `x-ferroserve-tenant`, when sent.
pub(crate) fn credentials(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let acting_for = headers
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (token, acting_for)
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
