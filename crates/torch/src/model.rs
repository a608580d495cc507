//! [`TorchModel`]: one loaded TorchScript module, its forward, and the batcher seam.

use std::path::{Path, PathBuf};

use ferroserve_batcher::{BatchRunner, RunError};
use ferroserve_tensor::Tensor;
use tch::{CModule, IValue};

use crate::error::tch_message;
use crate::{Device, InputSpec, ModelConfig, TorchError, convert, threads};

/// Forwards run at load when warm-up shapes are given: TorchScript's profiling executor
/// records shapes on the first run and optimises the graph on the second, so two runs
/// take both costs off the first requests.
const WARMUP_RUNS: usize = 2;

/// A TorchScript model loaded on its device, in eval mode, ready for concurrent forwards
/// (`CModule` is `Send + Sync`; libtorch guards its own graph caches).
#[derive(Debug)]
pub struct TorchModel {
    module: CModule,
    path: PathBuf,
    config: ModelConfig,
}

impl TorchModel {
    /// Loads `path` (a file written by `torch.jit.save` / `ScriptModule.save`) onto
    /// `config.device`, switches it to eval mode and runs the warm-up, if any.
    ///
    /// Fails with [`TorchError::CudaUnavailable`] or
    /// [`TorchError::CudaIndexOutOfRange`] before touching the file when the device is
    /// missing, [`TorchError::ModelMissing`] / [`TorchError::Load`] for the file, and
    /// [`TorchError::Warmup`] when the warm-up forward fails.
    pub fn load(path: impl AsRef<Path>, config: ModelConfig) -> Result<TorchModel, TorchError> {
        let path = path.as_ref().to_path_buf();
        config.device.check_available()?;
        if !path.is_file() {
            return Err(TorchError::ModelMissing { path });
        }
        // Captures libtorch's default before any model sets a count of its own.
        threads::default_intra_op_threads();
        let module = CModule::load_on_device(&path, config.device.to_tch());
        TorchModel::ready(module, path, config)
    }

    /// [`TorchModel::load`] from the file's bytes, for a process that may not open the
    /// file itself (a cell); `path` only names the model in errors.
    pub fn load_bytes(
        path: impl AsRef<Path>,
        mut bytes: &[u8],
        config: ModelConfig,
    ) -> Result<TorchModel, TorchError> {
        config.device.check_available()?;
        threads::default_intra_op_threads();
        let module = CModule::load_data_on_device(&mut bytes, config.device.to_tch());
        TorchModel::ready(module, path.as_ref().to_path_buf(), config)
    }

    /// Eval mode and the warm-up, for a freshly loaded module.
    fn ready(
        module: Result<CModule, tch::TchError>,
        path: PathBuf,
        config: ModelConfig,
    ) -> Result<TorchModel, TorchError> {
        let load_err = |e| TorchError::Load {
            path: path.clone(),
            message: tch_message(e),
        };
        let mut module = module.map_err(load_err)?;
        module.f_set_eval().map_err(load_err)?;
        let model = TorchModel {
            module,
            path,
            config,
        };
        model.warm_up()?;
        Ok(model)
    }

    fn warm_up(&self) -> Result<(), TorchError> {
        if self.config.warmup.is_empty() {
            return Ok(());
        }
        let warmup_err = |message| TorchError::Warmup {
            path: self.path.clone(),
            message,
        };
        let inputs = self
            .config
            .warmup
            .iter()
            .map(|spec| zeros(spec, self.config.device))
            .collect::<Result<Vec<_>, _>>()
            .map_err(warmup_err)?;
        for _ in 0..WARMUP_RUNS {
            let out = self
                .forward_tch(&inputs)
                .map_err(|e| warmup_err(e.to_string()))?;
            // Taking the outputs apart checks that the model returns what we can serve.
            convert::outputs(out, self.config.max_output_bytes)
                .map_err(|e| warmup_err(e.to_string()))?;
        }
        Ok(())
    }

    /// Runs `forward` with `inputs` as positional arguments, in the order given (names
    /// are not matched against the model's parameter names; they only label errors).
    /// Inputs are copied to the model's device; outputs come back on the CPU, contiguous,
    /// named as [the crate docs](crate#outputs) describe.
    ///
    /// libtorch's failures (wrong shape, wrong dtype, a `raise` in the model) come back as
    /// [`TorchError::Forward`] with libtorch's message trimmed; the model stays usable.
    pub fn forward(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, TorchError> {
        let device = self.config.device;
        let converted = inputs
            .iter()
            .map(|t| convert::to_tch(t, device).map(IValue::Tensor))
            .collect::<Result<Vec<_>, _>>()?;
        convert::outputs(self.forward_tch(&converted)?, self.config.max_output_bytes)
    }

    fn forward_tch(&self, inputs: &[IValue]) -> Result<IValue, TorchError> {
        threads::apply(self.config.intra_op_threads);
        // Grad mode is thread-local: the guard holds for this call on this thread.
        // (tch 0.26 exposes no InferenceMode; no_grad gives the same autograd savings.)
        let _no_grad = tch::no_grad_guard();
        self.module.forward_is(inputs).map_err(TorchError::forward)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn device(&self) -> Device {
        self.config.device
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }
}

fn zeros(spec: &InputSpec, device: Device) -> Result<IValue, String> {
    // A warm-up shape comes from a manifest: refuse an impossible size before libtorch
    // tries to allocate it.
    spec.dtype
        .byte_len(&spec.shape)
        .map_err(|e| format!("input `{}`: {e}", spec.name))?;
    let shape = spec
        .shape
        .iter()
        .map(|&d| i64::try_from(d))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| format!("input `{}`: shape {:?} is too large", spec.name, spec.shape))?;
    let kind = convert::kind_of(spec.dtype);
    tch::Tensor::f_zeros(&shape, (kind, device.to_tch()))
        .map(IValue::Tensor)
        .map_err(|e| format!("input `{}`: {}", spec.name, tch_message(e)))
}

/// The batcher's seam: a stacked batch in, the model's outputs (dim 0 = batch) out.
/// Errors become a [`RunError`] carrying [`TorchError`]'s message.
impl BatchRunner for TorchModel {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        self.forward(&inputs)
            .map_err(|e| RunError::new(e.to_string()))
    }
}
