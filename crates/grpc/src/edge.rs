//! The stack every gRPC call passes, the twin of the REST edge's `layers.rs` and `auth.rs`,
//! wrapped around a listener's [`Routes`](crate::Routes). In order:
//!
//! 1. request id: a client's `x-request-id` metadata is kept when it is 1–128 characters
//!    of `[A-Za-z0-9._:-]` (it goes into logs), else a UUID v4 is made; the id is returned
//!    in the response metadata, errors included.
//! 2. span and access log: `request{api,request_id,method,path}` (method `POST`, path
//!    `/package.Service/Method`) wraps the call, so its log lines carry the id; one INFO
//!    event at target `ferroserve::access` when the response head is ready.
//! 3. admission: at most `max_concurrent` calls in flight on this listener; the next is
//!    refused at once with UNAVAILABLE and `retry-after`, never queued.
//! 4. the bearer token (`authorization: Bearer …`, and an admin's `x-ferroserve-tenant`)
//!    becomes the core's `Principal`, put in the request's extensions for the services;
//!    refused: UNAUTHENTICATED. On the inference API the tenant's in-flight quota is taken
//!    here, before the message is read, and on the management API its
//!    `max_concurrent_management` (RESOURCE_EXHAUSTED when it is spent).
//! 5. time limit: past `request_timeout` the call's future is dropped (which withdraws
//!    its work from the model's queue) and the client gets DEADLINE_EXCEEDED.
//!
//! Message size limits are the services' (tonic's decoder), set in `server.rs`; this
//! stack only rewords tonic's refusal (OUT_OF_RANGE) as RESOURCE_EXHAUSTED naming the
//! limit and the flag that raises it. The cap
//! and the limit cover a call until its response head; a streamed reply is not counted.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ferroserve_core::observe::Outcome;
use ferroserve_core::tenancy::{Api, Auth, Principal};
use ferroserve_core::{Metrics, ServerConfig};
use tokio::sync::Semaphore;
use tonic::Code;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tracing::Instrument;

use crate::Routes;
use crate::status::{self, Refusal};

/// The metadata key carrying the request id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The header an admin uses to act in a tenant's namespace (as on REST).
const TENANT: &str = "x-ferroserve-tenant";

/// What one gRPC listener accepts; the same keys as the REST listeners'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Largest message decoded (TorchServe's `max_request_size`).
    pub max_message_bytes: usize,
    pub request_timeout: Duration,
    pub max_concurrent: usize,
}

impl EdgeLimits {
    pub fn of(config: &ServerConfig) -> EdgeLimits {
        EdgeLimits {
            max_message_bytes: config.max_request_size,
            request_timeout: Duration::from_secs(config.request_timeout_s),
            max_concurrent: config.max_concurrent_requests,
        }
    }
}

/// A listener's routes behind the stack.
#[derive(Clone)]
pub struct Edge {
    routes: Routes,
    shared: Arc<Shared>,
}

struct Shared {
    api: &'static str,
    listener_api: Api,
    auth: Auth,
    limits: EdgeLimits,
    permits: Arc<Semaphore>,
    /// TorchServe's host-level response counters, when that series is on.
    counted: Option<Metrics>,
}

impl Edge {
    pub fn new(
        routes: Routes,
        api: &'static str,
        listener_api: Api,
        auth: Auth,
        limits: EdgeLimits,
        counted: Option<Metrics>,
    ) -> Edge {
        let permits = Arc::new(Semaphore::new(
            limits.max_concurrent.min(Semaphore::MAX_PERMITS),
        ));
        Edge {
            routes,
            shared: Arc::new(Shared {
                api,
                listener_api,
                auth,
                limits,
                permits,
                counted,
            }),
        }
    }
}

impl Service<http::Request<Body>> for Edge {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        let routes = self.routes.clone();
        Box::pin(async move {
            let started = Instant::now();
            let id = request_id(request.headers());
            let path = request.uri().path().to_owned();
            let span = tracing::info_span!("request", api = shared.api, request_id = %id, method = "POST", path = %path);
            let mut response = handle(&shared, routes, request)
                .instrument(span.clone())
                .await;
            if let Ok(v) = http::HeaderValue::from_str(&id) {
                response.headers_mut().insert(REQUEST_ID, v);
            }
            // A unary error is "trailers-only": its grpc-status is in the head.
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok()?.parse::<i32>().ok())
                .map_or(Code::Ok, Code::from_i32);
            if let Some(metrics) = &shared.counted {
                metrics.count_response(match code {
                    Code::Ok => Outcome::Ok,
                    c if status::is_client_fault(c) => Outcome::ClientError,
                    _ => Outcome::ServerError,
                });
            }
            let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            tracing::info!(
                target: "ferroserve::access",
                parent: &span,
                api = shared.api,
                method = "POST",
                path = %path,
                grpc_status = code as i32,
                latency_us,
                request_id = %id,
                "request served"
            );
            Ok(response)
        })
    }
}

async fn handle(
    shared: &Shared,
    mut routes: Routes,
    mut request: http::Request<Body>,
) -> http::Response<Body> {
    // try_acquire: a waiting call would hold its stream and memory with no bound.
    let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
        let busy = Refusal::ListenerBusy {
            api: shared.api,
            max: shared.limits.max_concurrent,
        };
        return busy.status().into_http();
    };
    let api = api_of(request.uri().path(), shared.listener_api);
    let who = match principal(&shared.auth, api, request.headers()) {
        Ok(p) => p,
        Err(e) => return status::status(&e).into_http(),
    };
    // A tenant's in-flight quota is taken before the message is decoded (as on REST), so a
    // stalled or slow message costs one of its own slots, never one another tenant needs;
    // a refusal gives back its listener slot before waiting out its hold.
    let _quota = match who.try_admit_on(api) {
        Ok(permit) => permit,
        Err(refused) => {
            drop(permit);
            return status::status(&refused.answer().await).into_http();
        }
    };
    request.extensions_mut().insert(who);
    let limit = shared.limits.request_timeout;
    let response = match tokio::time::timeout(limit, routes.call(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => return Refusal::TimedOut { limit }.status().into_http(),
    };
    // tonic refuses an oversized message with OUT_OF_RANGE and its own words; say it
    // as REST's 413 does, with the standard code for a size limit.
    let too_large = tonic::Status::from_header_map(response.headers()).is_some_and(|s| {
        s.code() == Code::OutOfRange && s.message().contains("message length too large")
    });
    if too_large {
        let max = shared.limits.max_message_bytes;
        return Refusal::TooLarge { max }.status().into_http();
    }
    response
}

/// The repository methods change what is served: they need management rights even on
/// the inference listener (with TorchServe's key file, its management key).
fn api_of(path: &str, listener: Api) -> Api {
    match path.rsplit('/').next() {
        Some("RepositoryModelLoad" | "RepositoryModelUnload") => Api::Management,
        _ => listener,
    }
}

fn principal(
    auth: &Auth,
    api: Api,
    headers: &http::HeaderMap,
) -> Result<Principal, ferroserve_core::Error> {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let acting_for = headers.get(TENANT).and_then(|v| v.to_str().ok());
    auth.principal(api, token, acting_for)
}

/// The client's id when it is safe to log, else a fresh UUID v4.
fn request_id(headers: &http::HeaderMap) -> String {
    let usable = |v: &[u8]| {
        (1..=128).contains(&v.len())
            && v.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(c))
    };
    match headers.get(REQUEST_ID) {
        Some(v) if usable(v.as_bytes()) => v.to_str().expect("ascii").to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// The caller the edge authenticated, or `Open` for services driven without it.
pub(crate) fn caller<T>(request: &tonic::Request<T>) -> Principal {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or(Principal::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usable_client_id_is_kept_and_others_replaced() {
        let mut h = http::HeaderMap::new();
        h.insert(REQUEST_ID, "abc-1.2:3".parse().unwrap());
        assert_eq!(request_id(&h), "abc-1.2:3");
        h.insert(REQUEST_ID, "has space".parse().unwrap());
        let made = request_id(&h);
        assert_eq!(made.len(), 36, "{made}");
        assert_eq!(request_id(&http::HeaderMap::new()).len(), 36);
    }

    #[test]
    fn repository_changes_need_management_rights() {
        let p = "/inference.GRPCInferenceService/RepositoryModelLoad";
        assert_eq!(api_of(p, Api::Inference), Api::Management);
        let p = "/inference.GRPCInferenceService/ModelInfer";
        assert_eq!(api_of(p, Api::Inference), Api::Inference);
    }
}
