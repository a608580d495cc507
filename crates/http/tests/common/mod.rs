//! Shared by the server's tests: real handlers in the real sandbox, and a fake model
//! behind the batcher's seam.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ferroserve_batcher::{BatchRunner, Batcher, BatcherConfig, RunError};
use ferroserve_core::{Model, ModelInfo, ModelKey, Pipeline};
use ferroserve_sandbox::{HandlerRequest, Limits, Sandbox, SandboxConfig};
use ferroserve_tensor::Tensor;
use ferroserve_test_fixtures as fx;

/// Doubles every input; fails when any value is negative, like a model that raises.
pub struct Doubler;

impl BatchRunner for Doubler {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        let x = &inputs[0];
        let values = x.to_f32().ok_or_else(|| RunError::new("expected f32"))?;
        if values.iter().any(|v| *v < 0.0) {
            return Err(RunError::new("ValueError: negative input"));
        }
        let doubled: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
        Ok(vec![
            Tensor::from_f32("output", x.shape().to_vec(), &doubled)
                .map_err(|e| RunError::new(e.to_string()))?,
        ])
    }
}

pub fn pipeline(sandbox: &Sandbox, fixture: &str, deadline: Duration) -> Pipeline {
    let config = BatcherConfig::new("m")
        .batch_size(4)
        .max_batch_delay(Duration::from_millis(5));
    pipeline_with(sandbox, fixture, deadline, Arc::new(Doubler), config)
}

/// [`Doubler`] behind a gate: each batch waits for [`Gated::open`], so a test can fill
/// the queue while the worker is busy instead of racing the handler threads.
#[derive(Default)]
pub struct Gated {
    /// Batches that have reached the gate.
    pub entered: std::sync::atomic::AtomicUsize,
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Gated {
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl BatchRunner for Gated {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        self.entered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        drop(
            self.opened
                .wait_while(self.open.lock().unwrap(), |open| !*open)
                .unwrap(),
        );
        Doubler.run(inputs)
    }
}

pub fn pipeline_with(
    sandbox: &Sandbox,
    fixture: &str,
    deadline: Duration,
    runner: Arc<dyn BatchRunner>,
    config: BatcherConfig,
) -> Pipeline {
    let limits = Limits {
        deadline,
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let handler = sandbox
        .load("m", &fx::bytes(fixture), None, limits)
        .unwrap();
    let batcher = Batcher::spawn(config, runner).unwrap();
    Pipeline::new(Arc::new(handler), batcher, Duration::from_secs(5))
}

pub fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig {
        threads: 2,
        max_memory_bytes: 64 << 20,
        ..SandboxConfig::default()
    })
    .unwrap()
}

pub fn json(text: &str) -> HandlerRequest {
    HandlerRequest {
        body: bytes::Bytes::from(text.to_owned()),
        content_type: Some("application/json".into()),
        ..Default::default()
    }
}

pub fn model(name: &str, version: &str, pipeline: Pipeline) -> Arc<Model> {
    Arc::new(Model::new(
        ModelKey::shared(name),
        version.into(),
        pipeline,
        ModelInfo::default(),
    ))
}
pub mod app;
