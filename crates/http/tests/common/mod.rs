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
    let limits = Limits {
        deadline,
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let handler = sandbox
        .load("m", &fx::bytes(fixture), None, limits)
        .unwrap();
    let config = BatcherConfig::new("m")
        .batch_size(4)
        .max_batch_delay(Duration::from_millis(5));
    let batcher = Batcher::spawn(config, Arc::new(Doubler)).unwrap();
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
