//! What the pipeline reports about each request: the time each stage took and how it
//! ended. One [`Observer`] per model; the metrics implement it (`metrics.rs`), and a
//! tracing exporter can listen at the same seam.

use std::time::Duration;

use crate::Error;

/// Where a request's time went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Waiting in the model's queue for a batch to start.
    Queue,
    /// One sandboxed call, preprocess or postprocess (each observed on its own, failed
    /// calls included; the wait for a sandbox thread counts).
    Handler,
    /// The batch's forward (shared by the batch's requests).
    Inference,
    /// From the request reaching the model to its response.
    Total,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Queue, Stage::Handler, Stage::Inference, Stage::Total];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Queue => "queue",
            Stage::Handler => "handler",
            Stage::Inference => "inference",
            Stage::Total => "total",
        }
    }
}

/// How a request ended, in the three classes TorchServe's metrics count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The caller's fault: bad input, not found, over a quota, gone away.
    ClientError,
    ServerError,
    /// A handler answered with a status outside every class (1xx, 3xx): counted as a
    /// request, in no class.
    Other,
}

impl Outcome {
    pub fn of_error(e: &Error) -> Outcome {
        if e.class().is_client_fault() {
            Outcome::ClientError
        } else {
            Outcome::ServerError
        }
    }

    /// A handler's response carries the status it chose (the WIT contract's `status`).
    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
            400..=499 => Outcome::ClientError,
            500..=599 => Outcome::ServerError,
            _ => Outcome::Other,
        }
    }
}

/// Receives one model's per-request reports.
pub trait Observer: Send + Sync {
    fn stage(&self, stage: Stage, took: Duration);
    /// How many requests shared this request's batch.
    fn batch(&self, size: usize);
    fn finished(&self, outcome: Outcome);
}
