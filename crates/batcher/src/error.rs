//! The crate's one error type. Every variant a user can cause says what to do about it.

use std::time::Duration;

/// Why a request submitted to the batcher got no outputs.
///
/// The server maps each variant to an HTTP status; the messages are written for the person
/// who sent the request (or operates the model), not for the batcher's author.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The model's queue already holds `capacity` requests.
    #[error(
        "the model's queue is full ({capacity} requests waiting); retry after a short pause, \
         or raise the model's queue capacity or worker count"
    )]
    Overloaded { capacity: usize },

    /// The request's deadline passed before a worker ran it; no compute was spent on it.
    #[error(
        "the request passed its deadline after waiting {waited:?} for the model, before it ran; \
         retry later, allow a longer timeout, or add workers to the model"
    )]
    Timeout { waited: Duration },

    /// The caller withdrew the request (see [`crate::Batcher::submit_with_cancel`]).
    #[error("the request was cancelled before the model answered it")]
    Cancelled,

    /// The model ran this request's batch and reported an error (libtorch's message).
    #[error("the model failed on this request's batch: {0}")]
    Run(String),

    /// The process the model runs in failed under this request's batch (crashed, stopped
    /// past its time, or unavailable); the message names what happened.
    #[error("{1}")]
    Process(crate::Fault, String),

    /// The model code panicked while running this request's batch. The worker keeps serving.
    #[error(
        "worker panicked: {0}; only this batch failed, retry the request and report the panic if it repeats"
    )]
    WorkerPanicked(String),

    /// The model's outputs cannot be split back into one slice per request.
    #[error(
        "the model's outputs cannot be split per request: {0}; the model must keep dim 0 as the batch dimension"
    )]
    BadOutput(String),

    /// The request itself cannot be batched.
    #[error("the request cannot be queued: {0}")]
    BadInput(String),

    /// The batcher is shutting down (model unloading, server stopping) and takes no new work.
    #[error(
        "the model is shutting down and takes no new requests; retry, it may be reloaded or served by another replica"
    )]
    ShuttingDown,

    /// Worker bounds given to [`crate::Batcher::scale`] are unusable; nothing changed.
    #[error("invalid worker settings: {0}")]
    BadSettings(String),

    /// The batcher's settings are unusable, or its threads could not start.
    #[error("cannot start the model's batcher: {0}")]
    Start(String),
}
