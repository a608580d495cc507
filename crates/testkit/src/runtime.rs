//! The fake runtime and its models.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use ferroserve_batcher::{BatchRunner, RunError};
use ferroserve_core::{ModelRuntime, RuntimeLoad};
use ferroserve_tensor::Tensor;

use crate::FakeModel;

/// Loads the [`FakeModel`] spec kept in a fake model file. Counts loads, so tests can see
/// that a refused registration never reached the runtime.
#[derive(Default)]
pub struct FakeRuntime {
    loads: AtomicUsize,
}

impl FakeRuntime {
    pub fn new() -> Arc<FakeRuntime> {
        Arc::new(FakeRuntime::default())
    }

    pub fn loads(&self) -> usize {
        self.loads.load(Relaxed)
    }
}

impl ModelRuntime for FakeRuntime {
    fn load(&self, req: &RuntimeLoad<'_>) -> Result<(Arc<dyn BatchRunner>, String), String> {
        self.loads.fetch_add(1, Relaxed);
        let spec = FakeModel::read(req.path)?;
        if let Some(message) = &spec.fail_load {
            return Err(message.clone());
        }
        std::thread::sleep(Duration::from_millis(spec.load_delay_ms));
        Ok((Arc::new(spec), req.device.unwrap_or("cpu").to_owned()))
    }
}

/// `output = scale × input`; fails like a model that raises on a negative input, panics
/// on `panic_on`, and sleeps `delay_ms` per batch.
impl BatchRunner for FakeModel {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        std::thread::sleep(Duration::from_millis(self.delay_ms));
        let x = inputs
            .first()
            .ok_or_else(|| RunError::new("the fake model takes one input"))?;
        let values = x
            .to_f32()
            .ok_or_else(|| RunError::new("the fake model takes f32"))?;
        if self.panic_on.is_some_and(|p| values.contains(&p)) {
            panic!("the fake model was told to panic");
        }
        if values.iter().any(|v| *v < 0.0) {
            return Err(RunError::new("ValueError: negative input"));
        }
        let out: Vec<f32> = values.iter().map(|v| v * self.scale).collect();
        let output = Tensor::from_f32("output", x.shape().to_vec(), &out)
            .map_err(|e| RunError::new(e.to_string()))?;
        Ok(vec![output])
    }
}
