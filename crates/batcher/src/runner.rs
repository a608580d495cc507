//! The seam between the batcher and whatever runs a model: [`BatchRunner`].
//!
//! The batcher owns the trait (it is the consumer); `ferroserve-torch` implements it with
//! libtorch, and the batcher's own tests and benches implement it with fakes.

use ferroserve_tensor::Tensor;

/// Runs one batch. Called on one of the batcher's worker OS threads, never on a tokio
/// worker, so it may block for as long as the forward pass takes.
///
/// `inputs` holds one tensor per input name, each stacked along a new dim 0 of size `n`
/// (the number of requests in the batch), in the order the requests supplied them. Every
/// returned tensor must keep dim 0 = `n`; the batcher splits it back so each request gets
/// its slice with dim 0 removed. Several workers may call `run` at once.
///
/// A panic inside `run` is caught: only that batch's requests fail, and the worker goes on.
pub trait BatchRunner: Send + Sync + 'static {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError>;

    /// Why the model cannot serve at all right now (a model that keeps killing the process
    /// it runs in), for health checks; `None` while it can. In-process models never fail so.
    fn failed(&self) -> Option<String> {
        None
    }

    /// The model is going away ([`crate::Batcher::shutdown`]): forwards still running or
    /// still to run may be cut short, so the shutdown never waits out a runaway forward.
    fn stop(&self) {}
}

/// A batch's failure: the model's own (for libtorch: its message, trimmed), which every
/// request of the batch receives as [`crate::BatchError::Run`], or the process the model
/// runs in failing under it ([`Fault`]), received as [`crate::BatchError::Process`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    message: String,
    fault: Fault,
}

/// Who failed a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The model's code on this batch.
    Model,
    /// The process running the model died under the batch (signal, OOM kill, exit).
    Crashed,
    /// The forward ran past its time and its process was stopped.
    Stopped,
    /// The model cannot run now: its process is restarting, or the model is marked failed.
    Unavailable,
}

impl RunError {
    pub fn new(message: impl Into<String>) -> RunError {
        RunError::of(Fault::Model, message)
    }

    pub fn of(fault: Fault, message: impl Into<String>) -> RunError {
        RunError {
            message: message.into(),
            fault,
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn fault(&self) -> Fault {
        self.fault
    }
}
