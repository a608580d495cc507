//! Every error a gRPC client can see, and the one place where gRPC status codes are
//! decided: the core's errors by their [`Class`] (the gRPC twin of `ferroserve-http`'s
//! `error.rs`), and this edge's own refusals ([`Refusal`]). The codes follow TorchServe's
//! `GRPCUtils.getGRPCStatusCode`, which maps the HTTP status TorchServe would have sent:
//! 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND,
//! 409 ABORTED, 413 and 429 RESOURCE_EXHAUSTED, 499 CANCELLED, 503 UNAVAILABLE,
//! 504 DEADLINE_EXCEEDED, other 5xx INTERNAL.
//!
//! The message is the core's (what went wrong and what to do); the stable kind
//! (`ModelNotFoundException`, …) travels in the `x-ferroserve-error-type` metadata, and
//! `retry-after` (seconds) where waiting helps, as REST's header does.

use std::time::Duration;

use ferroserve_batcher::BatchError;
use ferroserve_core::{Class, Error, RETRY_AFTER};
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// Metadata key carrying the error's stable kind.
pub const ERROR_TYPE: &str = "x-ferroserve-error-type";

/// The code for a class of failure.
pub fn code_of(class: Class) -> Code {
    match class {
        Class::BadRequest => Code::InvalidArgument,
        Class::Unauthenticated => Code::Unauthenticated,
        Class::Forbidden => Code::PermissionDenied,
        Class::NotFound => Code::NotFound,
        Class::Conflict => Code::Aborted,
        Class::TooLarge | Class::Quota => Code::ResourceExhausted,
        Class::Overload => Code::Unavailable,
        Class::Timeout => Code::DeadlineExceeded,
        Class::Cancelled => Code::Cancelled,
        // TorchServe sends any other 5xx (a 502 from a failed download included) as INTERNAL.
        Class::Upstream | Class::Internal => Code::Internal,
    }
}

/// A core error as a status.
pub fn status(e: &Error) -> Status {
    // A withdrawn request is CANCELLED whatever layer saw it first.
    let code = match e {
        Error::Batch(BatchError::Cancelled) => Code::Cancelled,
        _ => code_of(e.class()),
    };
    with_kind(Status::new(code, e.to_string()), &e.kind(), e.retry_after())
}

/// What this edge refuses itself, before or around the core.
#[derive(Debug)]
pub enum Refusal {
    /// A request that is not a valid one for the method (a missing name, a bad tensor).
    Invalid(String),
    /// A model's outputs that cannot be put into the reply.
    BadOutput(String),
    /// A method this server does not serve; says what to use instead.
    Unimplemented(String),
    /// Register or unregister while the model API is off.
    ModelApiDisabled,
    ListenerBusy {
        api: &'static str,
        max: usize,
    },
    /// A message over the decoding limit (`max_request_size`).
    TooLarge {
        max: usize,
    },
    TimedOut {
        limit: Duration,
    },
}

impl Refusal {
    pub fn status(self) -> Status {
        let (code, kind, message, retry) = match self {
            Refusal::Invalid(m) => (Code::InvalidArgument, "InvalidInferenceRequest", m, false),
            Refusal::BadOutput(m) => (Code::Internal, "ModelBadOutput", m, false),
            Refusal::Unimplemented(m) => (Code::Unimplemented, "Unimplemented", m, false),
            Refusal::ModelApiDisabled => (
                Code::PermissionDenied,
                "MethodNotAllowedException",
                "Registering and unregistering models through this API is turned off; the \
                 operator can start the server with --enable-model-api (enable_model_api=true, \
                 or model_api = true)"
                    .into(),
                false,
            ),
            Refusal::ListenerBusy { api, max } => (
                Code::Unavailable,
                "ServiceUnavailableException",
                format!(
                    "The gRPC {api} API already has its limit of {max} requests in flight; retry shortly"
                ),
                true,
            ),
            Refusal::TooLarge { max } => (
                Code::ResourceExhausted,
                "RequestEntityTooLarge",
                format!(
                    "The request message is larger than this server's limit of {max} bytes; \
                     send a smaller message or start the server with a larger --max-request-size"
                ),
                false,
            ),
            Refusal::TimedOut { limit } => (
                Code::DeadlineExceeded,
                "RequestTimeout",
                format!(
                    "The request took longer than this server's limit of {limit:?} and was \
                     abandoned; send less work per request or raise the server's request timeout"
                ),
                false,
            ),
        };
        with_kind(
            Status::new(code, message),
            kind,
            retry.then_some(RETRY_AFTER),
        )
    }
}

impl From<Refusal> for Status {
    fn from(r: Refusal) -> Status {
        r.status()
    }
}

fn with_kind(mut status: Status, kind: &str, retry_after: Option<Duration>) -> Status {
    let meta = status.metadata_mut();
    if let Ok(v) = MetadataValue::try_from(kind) {
        meta.insert(ERROR_TYPE, v);
    }
    if let Some(wait) = retry_after {
        let secs = wait.as_secs().max(1).to_string();
        meta.insert(
            "retry-after",
            MetadataValue::try_from(secs).expect("digits"),
        );
    }
    status
}

/// Whether a code is the caller's doing (TorchServe's 4XX host counter) or the server's.
pub fn is_client_fault(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::Unauthenticated
            | Code::PermissionDenied
            | Code::NotFound
            | Code::Aborted
            | Code::AlreadyExists
            | Code::ResourceExhausted
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Cancelled
            | Code::Unimplemented
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroserve_sandbox::SandboxError;

    fn kind(s: &Status) -> &str {
        s.metadata().get(ERROR_TYPE).unwrap().to_str().unwrap()
    }

    #[test]
    fn not_found_keeps_the_core_message_and_kind() {
        let s = status(&Error::ModelNotFound("resnet".into()));
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(kind(&s), "ModelNotFoundException");
        assert!(s.message().starts_with("Model not found: resnet"), "{s:?}");
    }

    #[test]
    fn classes_follow_torchserves_table() {
        let cases = [
            (Error::MissingArchive, Code::InvalidArgument),
            (Error::Unauthorized("no"), Code::Unauthenticated),
            (Error::Forbidden("no"), Code::PermissionDenied),
            (Error::TenantExists("t".into()), Code::Aborted),
            (Error::UploadTooLarge(1), Code::ResourceExhausted),
            (Error::quota("max_models", 1, "x"), Code::ResourceExhausted),
            (
                Error::from(BatchError::Overloaded { capacity: 1 }),
                Code::Unavailable,
            ),
            (
                Error::from(BatchError::Timeout {
                    waited: Duration::ZERO,
                }),
                Code::DeadlineExceeded,
            ),
            (Error::from(BatchError::Cancelled), Code::Cancelled),
            (Error::Internal("x".into()), Code::Internal),
            (
                Error::from(SandboxError::BadInput("send a PNG".into())),
                Code::InvalidArgument,
            ),
            (
                Error::from(SandboxError::CompileLimit {
                    limit: ferroserve_sandbox::CompileLimit::Cpu,
                    max: 10,
                    found: None,
                }),
                Code::InvalidArgument,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(status(&e).code(), code, "{e}");
        }
    }

    #[test]
    fn overload_and_in_flight_quota_ask_to_retry() {
        let s = status(&Error::from(BatchError::Overloaded { capacity: 8 }));
        assert_eq!(s.metadata().get("retry-after").unwrap(), "1");
        let s = status(&Error::quota("max_models", 2, "full"));
        assert!(s.metadata().get("retry-after").is_none());
        let s = Refusal::ListenerBusy {
            api: "inference",
            max: 1,
        }
        .status();
        assert_eq!(
            (s.code(), kind(&s)),
            (Code::Unavailable, "ServiceUnavailableException")
        );
    }

    #[test]
    fn client_faults_are_told_from_server_faults() {
        assert!(is_client_fault(Code::NotFound));
        assert!(!is_client_fault(Code::Internal));
        assert!(!is_client_fault(Code::Unavailable));
    }
}
