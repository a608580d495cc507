//! [`Entry`]: one request on its way from `submit` through the queue to a worker.

use std::time::{Duration, Instant};

use ferroserve_tensor::Tensor;
use tokio::sync::oneshot;
use tracing::Span;

use crate::BatchError;

pub(crate) type Outcome = Result<Completed, BatchError>;

/// One request's outputs and where its time went, for latency metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    /// The request's outputs, without the batch dim.
    pub outputs: Vec<Tensor>,
    /// From `submit` until its batch started to run.
    pub queued: Duration,
    /// Stacking, the model's forward and splitting, shared by the whole batch.
    pub ran: Duration,
    /// How many requests shared the batch.
    pub batch_size: usize,
}

pub(crate) struct Entry {
    /// The request's tensors, without a batch dim.
    pub(crate) inputs: Vec<Tensor>,
    pub(crate) enqueued: Instant,
    /// Past this instant the request is answered with [`BatchError::Timeout`] instead of run.
    pub(crate) deadline: Instant,
    /// Where the answer goes. Closed when the caller dropped its `submit` future.
    pub(crate) reply: oneshot::Sender<Outcome>,
    /// The submitter's span (the HTTP layer's `request{request_id,..}`), so the worker thread
    /// can log about this request inside it. `Span::none()` when there was none.
    pub(crate) span: Span,
}

impl Entry {
    pub(crate) fn new(
        inputs: Vec<Tensor>,
        enqueued: Instant,
        deadline: Instant,
    ) -> (Entry, oneshot::Receiver<Outcome>) {
        let (reply, rx) = oneshot::channel();
        // Called from `submit`, still in the caller's task: its current span is the request's.
        let span = Span::current();
        (
            Entry {
                inputs,
                enqueued,
                deadline,
                reply,
                span,
            },
            rx,
        )
    }

    /// The caller went away; nobody will read the answer.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.reply.is_closed()
    }

    pub(crate) fn timeout(&self, now: Instant) -> BatchError {
        BatchError::Timeout {
            waited: now.saturating_duration_since(self.enqueued),
        }
    }

    /// Sends the answer; a caller that went away is no error.
    pub(crate) fn answer(self, outcome: Outcome) {
        let _ = self.reply.send(outcome);
    }
}
