//! Every error a client can see, as TorchServe's JSON `{"code", "type", "message"}`.
//! Statuses are decided here and nowhere else.

use std::time::Duration;

use ferroserve_archive::ArchiveError;
use ferroserve_batcher::BatchError;
use ferroserve_sandbox::SandboxError;
use serde::Serialize;

/// An error as the client receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code} {kind}: {message}")]
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
}

/// How long an overloaded server asks clients to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

impl ApiError {
    pub fn new(code: u16, kind: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            kind: kind.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    fn retry(mut self) -> ApiError {
        self.retry_after = Some(RETRY_AFTER);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serializing an ApiError")
    }
}

impl From<SandboxError> for ApiError {
    fn from(e: SandboxError) -> ApiError {
        use SandboxError as S;
        let code = match &e {
            // The client's input, or an archive the client uploaded.
            S::BadInput(_) => 400,
            S::NotAComponent(_) | S::Compile(_) | S::WorldMismatch(_) | S::LimitTooHigh { .. } => {
                400
            }
            S::FilesDir { .. } | S::Engine(_) => 500,
            S::DeadlineExceeded { .. } => 504,
            S::HandlerFailed(_)
            | S::MemoryLimit { .. }
            | S::Panic { .. }
            | S::Trap { .. }
            | S::OutputTooLarge { .. }
            | S::MalformedTensor(_)
            | S::InvalidResponse(_) => 500,
            S::PoolExhausted { .. } => 503,
        };
        let api = ApiError::new(code, e.kind(), e.to_string());
        if code == 503 { api.retry() } else { api }
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> ApiError {
        use BatchError as B;
        let (code, kind) = match &e {
            B::Overloaded { .. } => (503, "ModelQueueFull"),
            B::ShuttingDown => (503, "ModelShuttingDown"),
            B::Timeout { .. } => (504, "ModelRequestTimeout"),
            B::Cancelled => (499, "RequestCancelled"),
            B::Run(_) => (500, "ModelForwardError"),
            B::WorkerPanicked(_) => (500, "ModelWorkerPanicked"),
            B::BadOutput(_) => (500, "ModelBadOutput"),
            B::BadInput(_) => (400, "ModelBadInput"),
            B::BadSettings(_) => (400, "InvalidWorkerSettings"),
            B::Start(_) => (500, "ModelStartFailed"),
        };
        let api = ApiError::new(code, kind, e.to_string());
        if code == 503 { api.retry() } else { api }
    }
}

impl From<ArchiveError> for ApiError {
    fn from(e: ArchiveError) -> ApiError {
        use ArchiveError as A;
        let code = match &e {
            A::ArchiveTooLarge { .. } => 413,
            A::Io(_) | A::Output { .. } => 500,
            _ => 400,
        };
        ApiError::new(code, e.kind(), e.to_string())
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{HeaderValue, StatusCode, header};
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs().max(1).to_string();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&secs).expect("digits"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_torchserves_shape() {
        let e = ApiError::new(404, "ModelNotFoundException", "Model not found: resnet");
        let json: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": 404, "type": "ModelNotFoundException", "message": "Model not found: resnet"})
        );
    }

    #[test]
    fn handler_outcomes_map_to_statuses() {
        let bad = ApiError::from(SandboxError::BadInput("send a PNG".into()));
        assert_eq!(
            (bad.code, bad.kind.as_str(), bad.message.as_str()),
            (400, "HandlerBadInput", "send a PNG")
        );
        let slow = ApiError::from(SandboxError::DeadlineExceeded {
            deadline: Duration::from_millis(50),
        });
        assert_eq!(
            (slow.code, slow.kind.as_str()),
            (504, "HandlerDeadlineExceeded")
        );
        let oom = ApiError::from(SandboxError::MemoryLimit { limit: 1 << 20 });
        assert_eq!(oom.code, 500);
        let busy = ApiError::from(SandboxError::PoolExhausted { capacity: 4 });
        assert_eq!((busy.code, busy.retry_after), (503, Some(RETRY_AFTER)));
    }

    #[test]
    fn batcher_outcomes_map_to_statuses() {
        let full = ApiError::from(BatchError::Overloaded { capacity: 8 });
        assert_eq!(
            (full.code, full.kind.as_str(), full.retry_after),
            (503, "ModelQueueFull", Some(RETRY_AFTER))
        );
        let late = ApiError::from(BatchError::Timeout {
            waited: Duration::from_secs(1),
        });
        assert_eq!((late.code, late.retry_after), (504, None));
        let failed = ApiError::from(BatchError::Run("RuntimeError: mat1 and mat2".into()));
        assert_eq!(failed.code, 500);
        assert!(failed.message.contains("mat1 and mat2"));
    }
}
