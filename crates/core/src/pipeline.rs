//! One model's request path: preprocess, queue for a batch, postprocess. The pre/post
//! processing is a [`Processor`] (the wasm sandbox's `Handler` in production, a fake in
//! tests); the model sits behind the batcher. Each stage's time and the outcome go to one
//! [`Observer`] (the model's metrics today; tracing can listen at the same place).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferroserve_batcher::Batcher;
use ferroserve_sandbox::{Handler, HandlerRequest, HandlerResponse, Prepared, SandboxError};
use ferroserve_tensor::Tensor;

use crate::Error;
use crate::observe::{Observer, Outcome, Stage};
use crate::stats::{Stats, StatsSnapshot, Step};

/// The handler seam: one request to tensors, and a request's outputs to its response.
#[async_trait::async_trait]
pub trait Processor: Send + Sync {
    async fn preprocess(&self, request: HandlerRequest) -> Result<Prepared, SandboxError>;
    async fn postprocess(
        &self,
        outputs: Vec<Tensor>,
        context: Vec<u8>,
    ) -> Result<HandlerResponse, SandboxError>;
    /// Time this handler's calls spent throttled by CPU fair share, in total.
    fn throttled_total(&self) -> Duration {
        Duration::ZERO
    }
}

#[async_trait::async_trait]
impl Processor for Handler {
    async fn preprocess(&self, request: HandlerRequest) -> Result<Prepared, SandboxError> {
        Handler::preprocess(self, request).await
    }

    async fn postprocess(
        &self,
        outputs: Vec<Tensor>,
        context: Vec<u8>,
    ) -> Result<HandlerResponse, SandboxError> {
        Handler::postprocess(self, outputs, context).await
    }

    fn throttled_total(&self) -> Duration {
        Handler::throttled_total(self)
    }
}

/// A model ready to serve: its handler and its batcher (which owns the model itself).
#[derive(Clone)]
pub struct Pipeline {
    handler: Arc<dyn Processor>,
    batcher: Batcher,
    /// How long a request may wait for and spend in the model (TorchServe's
    /// `responseTimeout`); the handler's own deadlines are separate.
    response_timeout: Duration,
    observer: Option<Arc<dyn Observer>>,
    /// Counts for the tensor protocols' statistics, kept whether or not an observer is.
    stats: Arc<Stats>,
    /// The archive's `handlerParams`, given to the handler before the query's parameters.
    params: Vec<(String, String)>,
}

impl Pipeline {
    pub fn new(
        handler: Arc<dyn Processor>,
        batcher: Batcher,
        response_timeout: Duration,
    ) -> Pipeline {
        Pipeline {
            handler,
            batcher,
            response_timeout,
            observer: None,
            stats: Arc::default(),
            params: Vec::new(),
        }
    }

    /// Reports every request's stages and outcome to `observer`.
    pub fn observed_by(mut self, observer: Arc<dyn Observer>) -> Pipeline {
        self.observer = Some(observer);
        self
    }

    pub fn with_params(mut self, params: Vec<(String, String)>) -> Pipeline {
        self.params = params;
        self
    }

    pub fn handler(&self) -> &dyn Processor {
        &*self.handler
    }

    pub fn batcher(&self) -> &Batcher {
        &self.batcher
    }

    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// What this model version has served (KServe v2 / Triton statistics).
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Serve one request. Dropping the future withdraws the request from the queue.
    pub async fn infer(&self, request: HandlerRequest) -> Result<HandlerResponse, Error> {
        let started = Instant::now();
        let outcome = self.run(request).await;
        let seen = match &outcome {
            Ok(r) => Outcome::of_status(r.status),
            Err(e) => Outcome::of_error(e),
        };
        self.finish(started, seen);
        outcome
    }

    /// Tensors straight to the model and back, without the handler (KServe v2 clients send
    /// tensors already).
    pub async fn infer_tensors(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Error> {
        let started = Instant::now();
        let outcome = self.forward(inputs).await;
        let seen = outcome
            .as_ref()
            .map_or_else(Outcome::of_error, |_| Outcome::Ok);
        self.finish(started, seen);
        outcome
    }

    async fn run(&self, mut request: HandlerRequest) -> Result<HandlerResponse, Error> {
        if !self.params.is_empty() {
            let query = std::mem::take(&mut request.parameters);
            request.parameters = self.params.iter().cloned().chain(query).collect();
        }
        let t = Instant::now();
        let prepared = self.handler.preprocess(request).await;
        self.observe_handler(Step::Preprocess, t.elapsed());
        let prepared = prepared?;
        let outputs = self.forward(prepared.inputs).await?;
        let t = Instant::now();
        let response = self.handler.postprocess(outputs, prepared.context).await;
        self.observe_handler(Step::Postprocess, t.elapsed());
        Ok(response?)
    }

    fn observe_handler(&self, step: Step, took: Duration) {
        self.stats.handler(step, took);
        if let Some(o) = &self.observer {
            o.stage(Stage::Handler, took);
        }
    }

    async fn forward(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Error> {
        let deadline = Instant::now() + self.response_timeout;
        let done = self.batcher.submit_timed(inputs, deadline).await?;
        self.stats.forward(done.queued, done.ran, done.batch_size);
        if let Some(o) = &self.observer {
            o.stage(Stage::Queue, done.queued);
            o.stage(Stage::Inference, done.ran);
            o.batch(done.batch_size);
        }
        Ok(done.outputs)
    }

    fn finish(&self, started: Instant, outcome: Outcome) {
        let took = started.elapsed();
        self.stats.finished(took, outcome == Outcome::Ok);
        if let Some(o) = &self.observer {
            o.stage(Stage::Total, took);
            o.finished(outcome);
        }
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
