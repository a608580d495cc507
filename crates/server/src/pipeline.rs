//! One model's request path: preprocess in a fresh sandboxed instance, queue for a batch,
//! postprocess in another fresh instance. Each stage's typed error becomes an [`ApiError`];
//! each stage's time goes to the model's metrics.

use std::time::{Duration, Instant};

use ferroserve_batcher::Batcher;
use ferroserve_sandbox::{Handler, HandlerRequest, HandlerResponse};
use ferroserve_tensor::Tensor;

use crate::ApiError;
use crate::metrics::{ModelMetrics, Stage};

/// A model ready to serve: its handler and its batcher (which owns the model itself).
#[derive(Clone)]
pub struct Pipeline {
    handler: Handler,
    batcher: Batcher,
    /// How long a request may wait for and spend in the model (TorchServe's
    /// `responseTimeout`); the handler's own deadlines are separate.
    response_timeout: Duration,
    metrics: Option<ModelMetrics>,
    /// The archive's `handlerParams`, given to the handler before the query's parameters.
    params: Vec<(String, String)>,
}

impl Pipeline {
    pub fn new(handler: Handler, batcher: Batcher, response_timeout: Duration) -> Pipeline {
        Pipeline {
            handler,
            batcher,
            response_timeout,
            metrics: None,
            params: Vec::new(),
        }
    }

    /// Records every request's stages and outcome in `metrics`.
    pub fn with_metrics(mut self, metrics: ModelMetrics) -> Pipeline {
        self.metrics = Some(metrics);
        self
    }

    pub fn with_params(mut self, params: Vec<(String, String)>) -> Pipeline {
        self.params = params;
        self
    }

    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    pub fn batcher(&self) -> &Batcher {
        &self.batcher
    }

    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// Serve one request. Dropping the future withdraws the request from the queue.
    pub async fn infer(&self, request: HandlerRequest) -> Result<HandlerResponse, ApiError> {
        let started = Instant::now();
        let outcome = self.run(request).await;
        self.finish(
            started,
            outcome.as_ref().map_or_else(|e| e.code, |r| r.status),
        );
        outcome
    }

    /// Tensors straight to the model and back, without the handler (KServe v2 clients send
    /// tensors already).
    pub async fn infer_tensors(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, ApiError> {
        let started = Instant::now();
        let outcome = self.forward(inputs).await;
        self.finish(started, outcome.as_ref().map_or_else(|e| e.code, |_| 200));
        outcome
    }

    async fn run(&self, mut request: HandlerRequest) -> Result<HandlerResponse, ApiError> {
        if !self.params.is_empty() {
            let query = std::mem::take(&mut request.parameters);
            request.parameters = self.params.iter().cloned().chain(query).collect();
        }
        let t = Instant::now();
        let prepared = self.handler.preprocess(request).await;
        self.observe(Stage::Handler, t.elapsed());
        let prepared = prepared?;
        let outputs = self.forward(prepared.inputs).await?;
        let t = Instant::now();
        let response = self.handler.postprocess(outputs, prepared.context).await;
        self.observe(Stage::Handler, t.elapsed());
        Ok(response?)
    }

    fn observe(&self, stage: Stage, took: Duration) {
        if let Some(m) = &self.metrics {
            m.observe(stage, took);
        }
    }

    async fn forward(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, ApiError> {
        let deadline = Instant::now() + self.response_timeout;
        let done = self.batcher.submit_timed(inputs, deadline).await?;
        if let Some(m) = &self.metrics {
            m.observe(Stage::Queue, done.queued);
            m.observe(Stage::Inference, done.ran);
            m.batch(done.batch_size);
        }
        Ok(done.outputs)
    }

    fn finish(&self, started: Instant, status: u16) {
        if let Some(m) = &self.metrics {
            m.observe(Stage::Total, started.elapsed());
            m.finished(status);
        }
    }
}
