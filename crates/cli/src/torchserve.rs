//! `ferroserve torchserve` (and the binary invoked as `torchserve`): TorchServe's launcher,
//! its flags and its pid file, so scripts and KServe's runtime arguments
//! (`torchserve --start --model-store=… --ts-config=…`) work unchanged. `--start` without
//! `--foreground` starts the server in the background and returns, as TorchServe does,
//! except as PID 1 (a container's entrypoint), where returning would end the container.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use crate::serve::ServeArgs;

#[derive(Args, Clone)]
pub struct TorchServeArgs {
    /// Start the server (the default unless --stop).
    #[arg(long, conflicts_with = "stop")]
    start: bool,
    /// Stop the server started with --start (SIGTERM; in-flight requests finish).
    #[arg(long)]
    stop: bool,
    /// Stay in the foreground (with --start) or wait for the exit (with --stop).
    #[arg(long)]
    foreground: bool,
    #[arg(long)]
    ts_config: Option<PathBuf>,
    #[arg(long)]
    model_store: Option<PathBuf>,
    /// `all`, or `[NAME=]FILE.mar` values.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    models: Vec<String>,
    #[arg(long, visible_alias = "ncs")]
    no_config_snapshots: bool,
    #[arg(long, visible_alias = "dt")]
    disable_token_auth: bool,
    #[arg(long)]
    enable_model_api: bool,
    /// TorchServe's; ignored here (no workflows, no log4j, no Java plugins).
    #[arg(long)]
    workflow_store: Option<PathBuf>,
    #[arg(long)]
    log_config: Option<PathBuf>,
    #[arg(long)]
    cpp_log_config: Option<PathBuf>,
    #[arg(long, visible_alias = "ppath")]
    plugins_path: Option<PathBuf>,
}

/// TorchServe's pid file: `$TMPDIR/.model_server.pid`.
fn pid_file() -> PathBuf {
    std::env::temp_dir().join(".model_server.pid")
}

pub fn run(args: TorchServeArgs) -> anyhow::Result<ExitCode> {
    if args.stop {
        return stop(args.foreground);
    }
    for (flag, set) in [
        ("--workflow-store", args.workflow_store.is_some()),
        ("--log-config", args.log_config.is_some()),
        ("--cpp-log-config", args.cpp_log_config.is_some()),
        ("--plugins-path", args.plugins_path.is_some()),
    ] {
        if set {
            eprintln!("ferroserve: {flag} configures TorchServe's Java frontend; ignored");
        }
    }
    // SAFETY: getpid has no preconditions.
    let pid1 = unsafe { libc::getpid() } == 1;
    if args.foreground || pid1 {
        return crate::serve::run(serve_args(&args)?);
    }
    start_in_background()
}

/// `serve`'s arguments: TorchServe's flags, and `FERROSERVE_*` variables for the rest.
fn serve_args(args: &TorchServeArgs) -> anyhow::Result<ServeArgs> {
    use clap::{Args as _, FromArgMatches as _};
    let matches = ServeArgs::augment_args(clap::Command::new("serve"))
        .try_get_matches_from(["serve"])
        .context("reading FERROSERVE_* variables")?;
    let mut serve = ServeArgs::from_arg_matches(&matches)?;
    if args.ts_config.is_some() {
        serve.ts_config = args.ts_config.clone();
    }
    if args.model_store.is_some() {
        serve.model_store = args.model_store.clone();
    }
    if !args.models.is_empty() {
        serve.models = args.models.clone();
    }
    serve.no_snapshot |= args.no_config_snapshots;
    serve.disable_token_auth |= args.disable_token_auth;
    serve.enable_model_api |= args.enable_model_api;
    serve.foreground = true;
    Ok(serve)
}

/// The pid in the pid file, if that process is alive and runs this very executable (a
/// stale file naming a recycled pid must not get another process signalled).
fn running() -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let ours = std::env::current_exe().ok()?;
    (exe == ours).then_some(pid)
}

/// Runs this binary again with `--foreground`, inheriting stdout and stderr (TorchServe's
/// launcher does the same), records its pid and returns.
fn start_in_background() -> anyhow::Result<ExitCode> {
    if running().is_some() {
        println!("TorchServe is already running, please use torchserve --stop to stop TorchServe.");
        return Ok(ExitCode::from(1));
    }
    if pid_file().exists() {
        println!("Removing orphan pid file.");
        let _ = std::fs::remove_file(pid_file());
    }
    let exe = std::env::current_exe().context("finding this executable")?;
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    // Invoked as `ferroserve torchserve …` or as `torchserve …`.
    if argv.first().map(String::as_str) == Some("torchserve") {
        argv.remove(0);
    }
    let child = Command::new(exe)
        .arg("torchserve")
        .args(argv.iter().filter(|a| *a != "--start"))
        .arg("--foreground")
        .stdin(Stdio::null())
        .spawn()
        .context("starting the server")?;
    std::fs::write(pid_file(), child.id().to_string())
        .with_context(|| format!("writing {}", pid_file().display()))?;
    Ok(ExitCode::SUCCESS)
}

fn stop(wait: bool) -> anyhow::Result<ExitCode> {
    let Some(pid) = running() else {
        println!("TorchServe is not currently running.");
        return Ok(ExitCode::from(1));
    };
    // SAFETY: kill(2) with a pid read from our own pid file, checked to be ferroserve.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    // TorchServe's keys die with the server.
    let _ = std::fs::remove_file("key_file.json");
    if wait {
        let until = Instant::now() + Duration::from_secs(60);
        // SAFETY: signal 0 only checks that the process exists.
        while unsafe { libc::kill(pid, 0) } == 0 {
            if Instant::now() > until {
                println!("Stopping TorchServe took too long.");
                return Ok(ExitCode::from(1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_file(pid_file());
    println!("TorchServe has stopped.");
    Ok(ExitCode::SUCCESS)
}
