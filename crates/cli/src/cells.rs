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

/// The most tensor bytes a cell's reply may carry: what a forward may return.
const MAX_OUTPUT_BYTES: u64 = ferroserve_torch::DEFAULT_MAX_OUTPUT_BYTES;

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
    /// Be the zygote: fork a cell like this one for each the server asks for, on fd 3.
    #[arg(long)]
    zygote: bool,
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
        // Not dumpable: a cell runs as the server's user (in a user namespace of its own),
        // and a dumpable server could be ptraced by it.
        // SAFETY: a plain prctl on this process.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        let cells = Cells::new(
            CellCommand {
                program,
                args,
                env,
                zygote: config.cell_zygote,
            },
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
            threads: None,
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
    fn load(
        &self,
        spec: &LoadSpec,
        bytes: &[u8],
    ) -> Result<(Arc<dyn BatchRunner>, String), String> {
        let threads = match spec.threads {
            Some(cap) => self.0.threads().min(cap),
            None => self.0.intra_op_threads,
        };
        let (model, device) = self.0.load_torch(
            &spec.path,
            Some(bytes),
            spec.device.as_deref(),
            &spec.warmup,
            threads,
        )?;
        Ok((Arc::new(model), device))
    }
}

/// `ferroserve cell`: serve the server on fd 3 until it hangs up; with `--zygote`, fork
/// such cells on the server's demand instead.
pub fn run(args: CellArgs) -> anyhow::Result<std::process::ExitCode> {
    let device: Device = args
        .device
        .parse()
        .map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    if args.zygote {
        // Nothing here may start a thread: the zygote forks, and a fork keeps only the
        // calling thread. Each cell sets itself up after the fork, as an exec'd one would.
        // SAFETY: the server started this process with its control socket as fd 3.
        unsafe { ferroserve_cell::zygote_fd(3, || exit_code(cell(&args, device))) }
            .context("the cell zygote")?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    cell(&args, device)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn exit_code(served: anyhow::Result<()>) -> i32 {
    match served {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

fn cell(args: &CellArgs, device: Device) -> anyhow::Result<()> {
    // First, on the main thread, before any other starts: Landlock holds for the threads
    // started after it.
    let (read, rw) = gpu_files();
    let confined = ferroserve_cell::confine(&read, &rw)?;
    crate::logging::init(&args.log_format)?;
    tracing::debug!(files = confined.files, "cell confined");
    crate::allocator::tune();
    let engine = TorchEngine(TorchRuntime {
        default_device: device,
        intra_op_threads: args.torch_threads,
    });
    // SAFETY: the server started this process (or the zygote forked it) with its socket
    // as fd 3.
    unsafe { ferroserve_cell::serve_fd(3, Arc::new(engine)) }.context("serving the server")
}

/// What CUDA needs beyond the libraries already mapped: the driver's files and the
/// device nodes (read-write), on a machine that has them (an archive may ask for a GPU
/// whatever the cell's default device). Nothing elsewhere.
fn gpu_files() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let nodes: Vec<PathBuf> = std::fs::read_dir("/dev")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("nvidia"))
        })
        .collect();
    if nodes.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let read = [
        "/proc/driver/nvidia",
        "/sys/bus/pci",
        "/sys/devices",
        "/etc/nvidia",
    ]
    .map(PathBuf::from)
    .to_vec();
    (read, nodes)
}
