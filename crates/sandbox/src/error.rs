//! Every way loading or calling a handler can fail, each with a stable type string
//! ([`SandboxError::kind`]) that the server maps to an HTTP status in one place.

use std::time::Duration;

pub use crate::compile::CompileLimit;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    // ---- loading a handler ----
    #[error(
        "the handler is not a WebAssembly component ({0}); build it with `cargo build --target wasm32-wasip2` against the ferroserve-handler SDK"
    )]
    NotAComponent(String),
    #[error("the handler component failed to compile: {0}")]
    Compile(String),
    #[error(
        "the handler component does not implement the ferroserve:handler world (0.2.0 or 0.1.0): {0}; rebuild it with a ferroserve handler SDK (`ferroserve handler build`)"
    )]
    WorldMismatch(String),
    #[error("the handler's files directory {path} cannot be opened: {reason}")]
    FilesDir { path: String, reason: String },
    #[error("the sandbox could not start: {0}")]
    Engine(String),
    #[error(
        "the handler memory limit of {} MiB is above this server's maximum of {} MiB; ask for less",
        requested >> 20,
        ceiling >> 20
    )]
    LimitTooHigh { requested: usize, ceiling: usize },
    /// A compile refused by a limit, before it started (size, function count, largest
    /// function) or while it ran (CPU, memory, wall clock). `found` is what the component
    /// had, when it is known; both in the limit's own unit (`CompileLimit::unit`).
    #[error("{}", limit.message(*max, *found))]
    CompileLimit {
        limit: CompileLimit,
        max: u64,
        found: Option<u64>,
    },

    // ---- calling a handler ----
    #[error("{0}")]
    BadInput(String),
    #[error("the handler reported an internal error: {0}")]
    HandlerFailed(String),
    #[error("the handler exceeded its CPU deadline of {} ms and was stopped", deadline.as_millis())]
    DeadlineExceeded { deadline: Duration },
    #[error("the handler exceeded its memory limit of {} MiB and was stopped", limit >> 20)]
    MemoryLimit { limit: usize },
    #[error("the handler panicked: {message}")]
    Panic { message: String },
    #[error("the handler trapped: {message}")]
    Trap { message: String },
    #[error(
        "the handler held more than {limit} open files, streams or pollables at once and was stopped; close what it no longer reads"
    )]
    TooManyResources { limit: usize },
    #[error("the handler returned {actual} bytes, over its output limit of {limit} bytes")]
    OutputTooLarge { limit: usize, actual: usize },
    #[error("the handler returned a malformed tensor: {0}")]
    MalformedTensor(String),
    #[error("the handler returned an invalid response: {0}")]
    InvalidResponse(String),
    #[error("all {capacity} sandbox slots are busy; retry shortly")]
    PoolExhausted { capacity: usize },
}

impl SandboxError {
    /// A stable identifier for the outcome, used in error bodies, logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SandboxError::NotAComponent(_) => "HandlerNotAComponent",
            SandboxError::Compile(_) => "HandlerCompileError",
            SandboxError::WorldMismatch(_) => "HandlerWorldMismatch",
            SandboxError::FilesDir { .. } => "HandlerFilesUnavailable",
            SandboxError::Engine(_) => "SandboxUnavailable",
            SandboxError::LimitTooHigh { .. } => "HandlerLimitTooHigh",
            SandboxError::CompileLimit { .. } => "HandlerCompileLimitExceeded",
            SandboxError::BadInput(_) => "HandlerBadInput",
            SandboxError::HandlerFailed(_) => "HandlerInternalError",
            SandboxError::DeadlineExceeded { .. } => "HandlerDeadlineExceeded",
            SandboxError::MemoryLimit { .. } => "HandlerMemoryLimitExceeded",
            SandboxError::Panic { .. } => "HandlerPanicked",
            SandboxError::Trap { .. } => "HandlerTrapped",
            SandboxError::TooManyResources { .. } => "HandlerResourceLimitExceeded",
            SandboxError::OutputTooLarge { .. } => "HandlerOutputTooLarge",
            SandboxError::MalformedTensor(_) => "HandlerMalformedTensor",
            SandboxError::InvalidResponse(_) => "HandlerInvalidResponse",
            SandboxError::PoolExhausted { .. } => "SandboxPoolExhausted",
        }
    }

    /// True for failures the client caused (its input), as opposed to the handler or host.
    pub fn is_client_error(&self) -> bool {
        matches!(self, SandboxError::BadInput(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct() {
        let all = [
            SandboxError::NotAComponent(String::new()),
            SandboxError::Compile(String::new()),
            SandboxError::WorldMismatch(String::new()),
            SandboxError::FilesDir {
                path: String::new(),
                reason: String::new(),
            },
            SandboxError::Engine(String::new()),
            SandboxError::LimitTooHigh {
                requested: 0,
                ceiling: 0,
            },
            SandboxError::CompileLimit {
                limit: CompileLimit::Cpu,
                max: 10,
                found: None,
            },
            SandboxError::BadInput(String::new()),
            SandboxError::HandlerFailed(String::new()),
            SandboxError::DeadlineExceeded {
                deadline: Duration::ZERO,
            },
            SandboxError::MemoryLimit { limit: 0 },
            SandboxError::Panic {
                message: String::new(),
            },
            SandboxError::Trap {
                message: String::new(),
            },
            SandboxError::TooManyResources { limit: 0 },
            SandboxError::OutputTooLarge {
                limit: 0,
                actual: 0,
            },
            SandboxError::MalformedTensor(String::new()),
            SandboxError::InvalidResponse(String::new()),
            SandboxError::PoolExhausted { capacity: 0 },
        ];
        let kinds: std::collections::HashSet<_> = all.iter().map(SandboxError::kind).collect();
        assert_eq!(kinds.len(), all.len());
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = SandboxError::NotAComponent("core module".into());
        assert!(e.to_string().contains("wasm32-wasip2"));
        let e = SandboxError::MemoryLimit { limit: 64 << 20 };
        assert_eq!(
            e.to_string(),
            "the handler exceeded its memory limit of 64 MiB and was stopped"
        );
    }
}
