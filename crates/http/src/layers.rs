//! The tower stack every listener (inference, management, metrics) gets from [`apply`]:
//! request ids, the request's tracing span and JSON access log, the in-flight cap, the
//! request timeout, panic catching and the body-size limit. Every refusal made here is an
//! [`Edge`] error (statuses in `error.rs`), so clients see TorchServe's `{"code","type","message"}` whichever layer
//! answered.
//!
//! Order, outermost first; each layer sees what the layers below it answer:
//!
//! 1. request id: a client's `x-request-id` is kept when it is 1–128 characters of
//!    `[A-Za-z0-9._:-]` (it goes into logs), else a random UUID v4 replaces it; the id is
//!    copied onto every response, errors included.
//! 2. span and access log: `request{api,request_id,method,path}` wraps everything below, so
//!    every event logged while handling the request carries its id; when the response
//!    head is ready, one INFO event at target [`ACCESS_TARGET`] records api, method, path,
//!    status, latency_us, request_id and bytes_in (the Content-Length, when sent).
//! 3. 413 as JSON: tower-http's limit and axum's body extractors answer an oversized body
//!    with a plain-text 413; it becomes `RequestEntityTooLarge` naming the limit.
//! 4. admission: at most `max_concurrent` requests in flight on this listener; the next one
//!    is refused at once with 503 and `Retry-After: 1`, never queued.
//! 5. body pace: a body that pauses past `body_read_timeout_s` or trickles under
//!    `min_body_bytes_per_s` ends the request with 408 and closes the connection
//!    (`pace.rs`).
//! 6. timeout: past `request_timeout` the handler's future is dropped (which withdraws its
//!    work from the model's queue) and the client gets 504.
//! 7. panics: a panicking handler answers 500 `InternalServerException`; the panic message
//!    goes to the log only.
//! 8. body limit: a Content-Length over the limit is refused before the body is read; a
//!    body without one (chunked) is counted as it streams and refused when it crosses it.
//!
//! A wrong method on a known path answers a JSON 405 too; call [`apply`] after merging every
//! route, since that fallback reaches only routes already registered. The in-flight cap and
//! the timeout cover a request until its response head is ready (reading the request body
//! included); a streamed response body is not counted.
//!
//! 504 rather than 408 for the timeout: 408 says the client was too slow to send its
//! request, while this limit is on the server's own work, like the model's 504s.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument;

use ferroserve_core::ServerConfig;

use crate::Edge;

/// The header carrying the request id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The tracing target of the one-per-request access log event.
pub const ACCESS_TARGET: &str = "ferroserve::access";

/// What one listener accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request body; TorchServe's `max_request_size`.
    pub max_body_bytes: usize,
    /// Longest a request may take, from its head arriving to the response head leaving.
    pub request_timeout: Duration,
    /// Requests in flight at once on this listener; 0 refuses every request.
    pub max_concurrent: usize,
    /// How slowly a request body may arrive.
    pub pace: crate::pace::Pace,
}

impl HttpLimits {
    /// The inference and metrics listeners' limits.
    pub fn of(config: &ServerConfig) -> HttpLimits {
        HttpLimits {
            max_body_bytes: config.max_request_size,
            request_timeout: Duration::from_secs(config.request_timeout_s),
            max_concurrent: config.max_concurrent_requests,
            pace: crate::pace::Pace {
                read_timeout: Duration::from_secs(config.body_read_timeout_s),
                min_bytes_per_s: config.min_body_bytes_per_s,
            },
        }
    }

    /// The management listener's: archives are uploaded in its bodies.
    pub fn for_uploads(config: &ServerConfig) -> HttpLimits {
        HttpLimits {
            max_body_bytes: usize::try_from(config.max_upload_size).unwrap_or(usize::MAX),
            ..HttpLimits::of(config)
        }
    }
}

/// The server's defaults (`ServerConfig::default`), the one source of them.
impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits::of(&ServerConfig::default())
    }
}

/// Wraps `router` (all of one listener's routes, merged) in the stack described above.
/// `api` ("inference", "management" or "metrics") names the listener in logs and messages.
pub fn apply(router: Router, api: &'static str, limits: &HttpLimits) -> Router {
    let max_body = limits.max_body_bytes;
    let gate = Gate {
        api,
        max: limits.max_concurrent,
        permits: Arc::new(Semaphore::new(
            limits.max_concurrent.min(Semaphore::MAX_PERMITS),
        )),
    };
    // `Router::layer` wraps each route separately, so shared state (the semaphore) is
    // created here, once, and cloned into every route's copy of the stack.
    let stack = ServiceBuilder::new()
        .layer(middleware::map_request(drop_unusable_id))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(middleware::from_fn_with_state(api, access_log))
        .layer(middleware::from_fn_with_state(max_body, too_large_as_json))
        .layer(middleware::from_fn_with_state(gate, admit))
        .layer(middleware::from_fn_with_state(
            limits.pace,
            crate::pace::paced,
        ))
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            time_limit,
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(RequestBodyLimitLayer::new(max_body))
        // axum's extractors would otherwise add their own 2 MB cap under ours.
        .layer(DefaultBodyLimit::disable());
    router
        .method_not_allowed_fallback(method_not_allowed)
        .layer(stack)
}

/// A client id that could garble a log line or bloat it is dropped, so one is generated.
async fn drop_unusable_id(mut request: Request) -> Request {
    let usable = |v: &[u8]| {
        (1..=128).contains(&v.len())
            && v.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(c))
    };
    if let Some(id) = request.headers().get(REQUEST_ID)
        && !usable(id.as_bytes())
    {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

async fn access_log(State(api): State<&'static str>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes_in = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let span = tracing::info_span!("request", api, request_id = %request_id, method = %method, path = %path);
    let response = next.run(request).instrument(span.clone()).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        target: ACCESS_TARGET,
        parent: &span,
        api,
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        latency_us,
        request_id = %request_id,
        bytes_in,
        "request served"
    );
    response
}

/// Handlers that return a JSON 413 themselves (an archive over its cap) are left alone.
async fn too_large_as_json(State(max): State<usize>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE || is_json {
        return response;
    }
    Edge::BodyTooLarge { max }.into_response()
}

#[derive(Clone)]
struct Gate {
    api: &'static str,
    max: usize,
    permits: Arc<Semaphore>,
}

async fn admit(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    // try_acquire, not acquire: a waiting request would hold its connection and memory
    // with no bound on how many wait.
    let Ok(permit) = gate.permits.clone().try_acquire_owned() else {
        let busy = Edge::ListenerBusy {
            api: gate.api,
            max: gate.max,
        };
        return busy.into_response();
    };
    let slot = ListenerSlot(Arc::new(std::sync::Mutex::new(Some(permit))));
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    slot.give_back();
    response
}

/// A request's in-flight slot on its listener, in the request's extensions so that an
/// edge can give it back before the response is ready: a tenant's refusal waiting out its
/// hold (`auth.rs`) then holds no slot another tenant needs.
#[derive(Clone)]
pub(crate) struct ListenerSlot(Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>);

impl ListenerSlot {
    pub(crate) fn give_back(&self) {
        self.0.lock().unwrap().take();
    }
}

async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Edge::TimedOut { limit }.into_response(),
    }
}

fn panicked(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    // Logged inside the request's span, so the line carries the request id.
    tracing::error!(panic = message, "request handler panicked");
    Edge::Panicked.into_response()
}

async fn method_not_allowed() -> Edge {
    Edge::MethodNotAllowed
}
