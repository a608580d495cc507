//! Models in cells (`model_isolation = "process"`): the server's [`CellRuntime`] sends each
//! model to its owner's cell (`ferroserve-cell`), and `ferroserve cell` is that cell: the
//! same binary, serving the socket on fd 3 with libtorch ([`TorchRuntime`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use ferroserve_batcher::BatchRunner;
use ferroserve_cell::{CellCommand, CellLimits, Cells, Engine, LoadSpec};
use ferroserve_core::{ModelRuntime, RuntimeLoad, ServerConfig};
use ferroserve_torch::Device;

use crate::runtime::TorchRuntime;

/// The most tensor bytes a cell's reply may carry.
const MAX_OUTPUT_BYTES: u64 = 1 << 30;

#[derive(clap::Args)]
pub struct CellArgs {
    /// Device for models whose archive names none.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// libtorch intra-op threads per forward (0: libtorch's default).
    #[arg(long, default_value_t = 0)]
    torch_threads: usize,
    /// Log format: json or text.
    #[arg(long, default_value = "json")]
    log_format: String,
}

pub struct CellRuntime {
    cells: Cells,
}

impl CellRuntime {
    pub fn start(config: &ServerConfig, device: Device) -> anyhow::Result<CellRuntime> {
        let program = std::env::current_exe().context("finding the server's own binary")?;
        let args: Vec<OsString> = [
            "cell".to_owned(),
            format!("--device={device}"),
            format!("--torch-threads={}", config.torch_threads),
            format!("--log-format={}", config.log_format),
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        // Only what the cell needs: no tokens or secrets of the server's environment.
        let env = ["RUST_LOG", "PATH", "LANG"]
            .into_iter()
            .filter_map(|k| Some((OsString::from(k), std::env::var_os(k)?)))
            .chain([("RUST_LIB_BACKTRACE".into(), "0".into())])
            .collect();
        let root =
            (!config.cell_cgroup_root.is_empty()).then(|| PathBuf::from(&config.cell_cgroup_root));
        let cells = Cells::new(
            CellCommand { program, args, env },
            root.as_deref(),
            MAX_OUTPUT_BYTES,
        )
        .context("starting the cell spawner")?;
        tracing::info!(limits = %cells.enforcement(), "models run in cells (model_isolation = \"process\")");
        Ok(CellRuntime { cells })
    }
}

impl ModelRuntime for CellRuntime {
    fn load(&self, req: &RuntimeLoad<'_>) -> Result<(Arc<dyn BatchRunner>, String), String> {
        let spec = LoadSpec {
            path: req.path.to_owned(),
            device: req.device.map(str::to_owned),
            warmup: req.warmup.to_vec(),
        };
        let limits = CellLimits {
            memory_bytes: req.limits.memory_bytes,
            threads: req.limits.threads,
            cpu_percent: req.limits.cpu_percent,
        };
        let (model, device) = self
            .cells
            .load(req.owner, limits, spec, req.label, req.response_timeout)
            .map_err(|e| e.to_string())?;
        Ok((Arc::new(model), device))
    }
}

struct TorchEngine(TorchRuntime);

impl Engine for TorchEngine {
    fn load(&self, spec: &LoadSpec) -> Result<(Arc<dyn BatchRunner>, String), String> {
        let (model, device) =
            self.0
                .load_torch(&spec.path, spec.device.as_deref(), &spec.warmup)?;
        Ok((Arc::new(model), device))
    }
}

/// `ferroserve cell`: serve the server on fd 3 until it hangs up.
pub fn run(args: CellArgs) -> anyhow::Result<std::process::ExitCode> {
    crate::logging::init(&args.log_format)?;
    crate::allocator::tune();
    let device = args
        .device
        .parse()
        .map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let engine = TorchEngine(TorchRuntime {
        default_device: device,
        intra_op_threads: args.torch_threads,
    });
    // SAFETY: the server started this process with its socket as fd 3.
    unsafe { ferroserve_cell::serve_fd(3, Arc::new(engine)) }.context("serving the server")?;
    Ok(std::process::ExitCode::SUCCESS)
}
