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
}

/// The model's own failure on a batch (for libtorch: its message, trimmed). Every request of
/// the batch receives it as [`crate::BatchError::Run`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    message: String,
}

impl RunError {
    pub fn new(message: impl Into<String>) -> RunError {
        RunError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}
