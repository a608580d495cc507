//! Every error a REST client can see, as TorchServe's JSON `{"code", "type", "message"}`,
//! and the one place where HTTP statuses are decided: the core's errors by their class
//! (with the few kinds whose status TorchServe's clients know better), and the edge's own
//! refusals ([`Edge`]: a bad query, an unknown route, the listener's limits). Success
//! statuses (201 for a new tenant, a handler's own status) and the health probes' answers
//! are the routes'.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferroserve_batcher::BatchError;
use ferroserve_core::{Class, Error, RETRY_AFTER};
use serde::Serialize;

/// An error as the client receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// The HTTP status, repeated in the body as TorchServe does.
    pub code: u16,
    /// A stable identifier of what went wrong.
    #[serde(rename = "type")]
    pub kind: String,
    /// What happened and what to do about it.
    pub message: String,
    /// For 429/503: how long the client should wait (`Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<Duration>,
    /// Credentials are missing or refused: answer with `WWW-Authenticate: Bearer`.
    #[serde(skip)]
    pub challenge: bool,
}

/// The status of a core error.
pub fn status_of(e: &Error) -> StatusCode {
    // A request the client withdrew: nginx's 499, as TorchServe's clients log it.
    if let Error::Batch(BatchError::Cancelled) = e {
        return StatusCode::from_u16(499).expect("in range");
    }
    match e.class() {
        Class::BadRequest => StatusCode::BAD_REQUEST,
        Class::Unauthenticated => StatusCode::UNAUTHORIZED,
        Class::Forbidden => StatusCode::FORBIDDEN,
        Class::NotFound => StatusCode::NOT_FOUND,
        Class::Conflict => StatusCode::CONFLICT,
        Class::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Class::Quota => StatusCode::TOO_MANY_REQUESTS,
        Class::Overload => StatusCode::SERVICE_UNAVAILABLE,
        Class::Timeout => StatusCode::GATEWAY_TIMEOUT,
        Class::Cancelled => StatusCode::from_u16(499).expect("in range"),
        Class::Upstream => StatusCode::BAD_GATEWAY,
        Class::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError {
            code: status_of(&e).as_u16(),
            kind: e.kind().into_owned(),
            message: e.to_string(),
            retry_after: e.retry_after(),
            challenge: e.class() == Class::Unauthenticated,
        }
    }
}

/// What the REST edge itself refuses, before or around the core.
#[derive(Debug)]
pub enum Edge {
    /// Query parameters that do not parse (`BadRequestException`).
    BadQuery(String),
    /// A JSON body that does not parse (`BadRequestException`).
    BadJson(String),
    /// A path segment that does not decode (`BadRequestException`).
    BadPath(String),
    BadMultipart(String),
    /// A KServe v2 request that is not one.
    InvalidInference(String),
    /// A model's outputs that cannot be put back together.
    BadOutput(String),
    UnknownRoute,
    MethodNotAllowed,
    /// Register or unregister while the model API is off (TorchServe's 405).
    ModelApiDisabled,
    /// `/explanations` (or `:explain`): handlers have no explain entry point.
    ExplainUnsupported(String),
    BodyTooLarge {
        max: usize,
    },
    ListenerBusy {
        api: &'static str,
        max: usize,
    },
    TimedOut {
        limit: Duration,
    },
    /// The request body stalled or trickled (`pace.rs`).
    BodyTooSlow {
        timeout: Duration,
        min_bytes_per_s: u64,
    },
    Panicked,
}

impl From<Edge> for ApiError {
    fn from(e: Edge) -> ApiError {
        use Edge as E;
        let (code, kind, message, retry) = match e {
            E::BadQuery(detail) => (
                400,
                "BadRequestException",
                format!("invalid query parameters: {detail}; see OPTIONS / for the accepted ones"),
                false,
            ),
            E::BadJson(message) => (400, "BadRequestException", message, false),
            E::BadPath(detail) => (
                400,
                "BadRequestException",
                format!("invalid path: {detail}; percent-encode names as UTF-8"),
                false,
            ),
            E::BadMultipart(message) => (400, "BadMultipartForm", message, false),
            E::InvalidInference(message) => (400, "InvalidInferenceRequest", message, false),
            E::BadOutput(message) => (500, "ModelBadOutput", message, false),
            E::UnknownRoute => (
                404,
                "ResourceNotFoundException",
                "Requested resource is not found; see OPTIONS / for the API".into(),
                false,
            ),
            E::MethodNotAllowed => (
                405,
                "MethodNotAllowedException",
                "Requested method is not allowed for this path; see OPTIONS / for the API".into(),
                false,
            ),
            E::ModelApiDisabled => (
                405,
                "MethodNotAllowedException",
                "Registering and unregistering models through this API is turned off; the \
                 operator can start the server with --enable-model-api (enable_model_api=true, \
                 or model_api = true)"
                    .into(),
                false,
            ),
            E::ExplainUnsupported(model) => (
                501,
                "ExplanationsNotSupported",
                format!(
                    "Model {model:?} cannot explain: handlers (ferroserve:handler@0.1.0) have no \
                     explain entry point; use /predictions/{model}"
                ),
                false,
            ),
            E::BodyTooLarge { max } => (
                413,
                "RequestEntityTooLarge",
                format!(
                    "The request body is larger than this server's limit of {max} bytes; send a \
                     smaller body or start the server with a larger --max-request-size"
                ),
                false,
            ),
            E::ListenerBusy { api, max } => (
                503,
                "ServiceUnavailableException",
                format!(
                    "The {api} API already has its limit of {max} requests in flight; retry shortly"
                ),
                true,
            ),
            E::TimedOut { limit } => (
                504,
                "RequestTimeout",
                format!(
                    "The request took longer than this server's limit of {limit:?} and was \
                     abandoned; send less work per request or raise the server's request timeout"
                ),
                false,
            ),
            E::BodyTooSlow {
                timeout,
                min_bytes_per_s,
            } => (
                408,
                "RequestTimeout",
                format!(
                    "The request body stopped arriving: this server waits at most {timeout:?} \
                     between parts of a body and needs at least {min_bytes_per_s} bytes/s on \
                     average after that; send the body at once"
                ),
                false,
            ),
            E::Panicked => (
                500,
                "InternalServerException",
                "The server failed while handling this request; its log has the details under \
                 this response's x-request-id"
                    .into(),
                false,
            ),
        };
        ApiError {
            code,
            kind: kind.into(),
            message,
            retry_after: retry.then_some(RETRY_AFTER),
            challenge: false,
        }
    }
}

impl ApiError {
    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serializing an ApiError")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response();
        // For protocols with their own error shape on some paths (KServe v2's `{"error"}`).
        response.extensions_mut().insert(self.clone());
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs().max(1).to_string();
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&secs).expect("digits"),
            );
        }
        if self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Route handlers return the core's errors with `?`; the edge's own with `Edge`.
impl IntoResponse for Edge {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroserve_sandbox::SandboxError;

    #[test]
    fn serializes_in_torchserves_shape() {
        let e = ApiError::from(Error::ModelNotFound("resnet".into()));
        let json: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": 404, "type": "ModelNotFoundException", "message": "Model not found: resnet; GET /models lists the registered models"})
        );
    }

    #[test]
    fn handler_outcomes_map_to_statuses() {
        let bad = ApiError::from(Error::from(SandboxError::BadInput("send a PNG".into())));
        assert_eq!(
            (bad.code, bad.kind.as_str(), bad.message.as_str()),
            (400, "HandlerBadInput", "send a PNG")
        );
        let slow = ApiError::from(Error::from(SandboxError::DeadlineExceeded {
            deadline: Duration::from_millis(50),
        }));
        assert_eq!(
            (slow.code, slow.kind.as_str()),
            (504, "HandlerDeadlineExceeded")
        );
        let oom = ApiError::from(Error::from(SandboxError::MemoryLimit { limit: 1 << 20 }));
        assert_eq!(oom.code, 500);
        let busy = ApiError::from(Error::from(SandboxError::PoolExhausted { capacity: 4 }));
        assert_eq!((busy.code, busy.retry_after), (503, Some(RETRY_AFTER)));
        let refused = ApiError::from(Error::from(SandboxError::CompileLimit {
            limit: ferroserve_sandbox::CompileLimit::Functions,
            max: 100,
            found: Some(900_000),
        }));
        assert_eq!(
            (refused.code, refused.kind.as_str()),
            (400, "HandlerCompileLimitExceeded")
        );
        assert!(refused.message.contains("compile_max_functions"));
    }

    #[test]
    fn batcher_outcomes_map_to_statuses() {
        let full = ApiError::from(Error::from(BatchError::Overloaded { capacity: 8 }));
        assert_eq!(
            (full.code, full.kind.as_str(), full.retry_after),
            (503, "ModelQueueFull", Some(RETRY_AFTER))
        );
        let late = ApiError::from(Error::from(BatchError::Timeout {
            waited: Duration::from_secs(1),
        }));
        assert_eq!((late.code, late.retry_after), (504, None));
        let gone = ApiError::from(Error::from(BatchError::Cancelled));
        assert_eq!((gone.code, gone.kind.as_str()), (499, "RequestCancelled"));
        let failed = ApiError::from(Error::from(BatchError::Run("mat1 and mat2".into())));
        assert_eq!(failed.code, 500);
        assert!(failed.message.contains("mat1 and mat2"));
    }

    #[test]
    fn quotas_are_429_and_only_in_flight_ones_ask_to_retry() {
        let busy = ApiError::from(Error::quota("max_concurrent_requests", 4, "busy"));
        assert_eq!((busy.code, busy.retry_after), (429, Some(RETRY_AFTER)));
        let full = ApiError::from(Error::quota("max_models", 2, "full"));
        assert_eq!((full.code, full.retry_after), (429, None));
    }

    #[test]
    fn fetch_failures_map_by_what_went_wrong() {
        use ferroserve_core::FetchError as F;
        let fetch = |problem| {
            ApiError::from(Error::Fetch {
                url: "https://m.test/a.mar".into(),
                problem,
            })
        };
        let untrusted = fetch(F::CertificateUntrusted("UnknownIssuer".into()));
        assert_eq!(
            (untrusted.code, untrusted.kind.as_str()),
            (502, "DownloadCertificateUntrusted")
        );
        let stalled = fetch(F::Stalled(Duration::from_secs(30)));
        assert_eq!(
            (stalled.code, stalled.kind.as_str()),
            (504, "DownloadTimeout")
        );
        let status = fetch(F::Status {
            status: "404 Not Found".into(),
        });
        assert_eq!(
            (status.code, status.kind.as_str()),
            (502, "DownloadArchiveException")
        );
        let redirect = ApiError::from(Error::RedirectNotAllowed {
            url: "https://m.test/a.mar".into(),
            to: "https://evil.test/a.mar".into(),
        });
        assert_eq!(
            (redirect.code, redirect.kind.as_str()),
            (403, "UrlNotAllowed")
        );
        let none = ApiError::from(Error::FetchUnavailable("https://m.test/a.mar".into()));
        assert_eq!(
            (none.code, none.kind.as_str()),
            (400, "UrlFetchUnavailable")
        );
    }

    #[test]
    fn every_class_has_a_distinct_status_but_cancelled() {
        use std::collections::HashSet;
        let samples = [
            Error::MissingArchive,
            Error::Unauthorized("no"),
            Error::Forbidden("no"),
            Error::ModelNotFound("m".into()),
            Error::TenantExists("t".into()),
            Error::UploadTooLarge(1),
            Error::quota("max_models", 1, "x"),
            Error::from(BatchError::ShuttingDown),
            Error::from(BatchError::Timeout {
                waited: Duration::ZERO,
            }),
            Error::Fetch {
                url: "u".into(),
                problem: ferroserve_core::FetchError::Broken("r".into()),
            },
            Error::Internal("x".into()),
        ];
        let statuses: HashSet<u16> = samples.iter().map(|e| status_of(e).as_u16()).collect();
        assert_eq!(statuses.len(), samples.len());
    }
}
