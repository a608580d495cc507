//! One model's request path: preprocess in a fresh sandboxed instance, queue for a batch,
//! postprocess in another fresh instance. Each stage's typed error becomes an [`ApiError`].

use std::time::{Duration, Instant};

use ferroserve_batcher::Batcher;
use ferroserve_sandbox::{Handler, HandlerRequest, HandlerResponse};

use crate::ApiError;

/// A model ready to serve: its handler and its batcher (which owns the model itself).
#[derive(Clone)]
pub struct Pipeline {
    handler: Handler,
    batcher: Batcher,
    /// How long a request may wait for and spend in the model (TorchServe's
    /// `responseTimeout`); the handler's own deadlines are separate.
    response_timeout: Duration,
}

impl Pipeline {
    pub fn new(handler: Handler, batcher: Batcher, response_timeout: Duration) -> Pipeline {
        Pipeline {
            handler,
            batcher,
            response_timeout,
        }
    }

    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    pub fn batcher(&self) -> &Batcher {
        &self.batcher
    }

    /// Serve one request. Dropping the future withdraws the request from the queue.
    pub async fn infer(&self, request: HandlerRequest) -> Result<HandlerResponse, ApiError> {
        let prepared = self.handler.preprocess(request).await?;
        let deadline = Instant::now() + self.response_timeout;
        let outputs = self.batcher.submit(prepared.inputs, deadline).await?;
        Ok(self.handler.postprocess(outputs, prepared.context).await?)
    }
}
