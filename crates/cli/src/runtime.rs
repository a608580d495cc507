//! The libtorch side of the server's `ModelRuntime` seam: TorchScript files loaded with
//! `ferroserve-torch` on the archive's device (or the server's), warmed up with the
//! archive's declared inputs at batch size 1.

use std::path::Path;
use std::sync::Arc;

use ferroserve_archive::InputSpec;
use ferroserve_batcher::BatchRunner;
use ferroserve_core::{ModelRuntime, RuntimeLoad};
use ferroserve_tensor::DType;
use ferroserve_torch::{Device, ModelConfig, TorchModel};

pub struct TorchRuntime {
    pub default_device: Device,
    pub intra_op_threads: usize,
}

impl ModelRuntime for TorchRuntime {
    fn load(&self, req: &RuntimeLoad<'_>) -> Result<(Arc<dyn BatchRunner>, String), String> {
        self.load_torch(
            req.path,
            None,
            req.device,
            req.warmup,
            self.intra_op_threads,
        )
        .map(|(m, d)| (Arc::new(m) as Arc<dyn BatchRunner>, d))
    }
}

impl TorchRuntime {
    /// The intra-op threads a forward gets by this runtime's setting (0: libtorch's default).
    pub fn threads(&self) -> usize {
        match self.intra_op_threads {
            0 => ferroserve_torch::default_intra_op_threads(),
            n => n,
        }
    }

    /// The TorchScript file at `path` (or its `bytes`, read by someone else), on `device`
    /// (else the default), warmed up, its forwards on `threads` intra-op threads (0:
    /// libtorch's default).
    pub fn load_torch(
        &self,
        path: &Path,
        bytes: Option<&[u8]>,
        device: Option<&str>,
        warmup: &[InputSpec],
        threads: usize,
    ) -> Result<(TorchModel, String), String> {
        let device = match device {
            Some(d) => d.parse::<Device>().map_err(|e| e.to_string())?,
            None => self.default_device,
        };
        device.check_available().map_err(|e| e.to_string())?;
        // A free dimension (-1) has no size to warm up with: such a model starts cold.
        let fixed = warmup.iter().all(|s| s.shape.iter().all(|&d| d >= 0));
        let warmup = if fixed {
            warmup
                .iter()
                .map(spec)
                .collect::<Result<Vec<_>, String>>()?
        } else {
            Vec::new()
        };
        let config = ModelConfig::on(device)
            .with_intra_op_threads(threads)
            .with_warmup(warmup);
        let model = match bytes {
            Some(b) => TorchModel::load_bytes(path, b, config),
            None => TorchModel::load(path, config),
        };
        let model = model.map_err(|e| e.to_string())?;
        Ok((model, device.to_string()))
    }
}

/// The archive's per-request input spec as a batch-of-one warm-up input.
fn spec(s: &InputSpec) -> Result<ferroserve_torch::InputSpec, String> {
    let dtype = DType::from_archive_name(&s.dtype).ok_or_else(|| {
        format!(
            "input {:?}: dtype {} is not supported by the runtime",
            s.name, s.dtype
        )
    })?;
    let mut shape = vec![1u64];
    for &d in &s.shape {
        let d = u64::try_from(d).map_err(|_| {
            format!(
                "input {:?}: warm-up needs a fixed shape, got {:?}",
                s.name, s.shape
            )
        })?;
        shape.push(d);
    }
    Ok(ferroserve_torch::InputSpec::new(&s.name, dtype, shape))
}
