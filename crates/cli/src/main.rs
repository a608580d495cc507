//! The `ferroserve` command line. Subcommands are thin: each parses its flags and calls
//! into a library crate (`ferroserve-sandbox` for `handler`, `ferroserve-archive` for
//! `archive`, `ferroserve-http` and `ferroserve-core` for `serve`).

mod allocator;
mod archive;
mod cells;
mod handler;
mod logging;
mod runtime;
mod serve;
mod tenant;
mod torchserve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ferroserve",
    version,
    about = "Serve PyTorch models with sandboxed WebAssembly handlers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with handler components (the untrusted pre/post-processing code).
    #[command(subcommand)]
    Handler(handler::HandlerCommand),
    /// Build a model archive (torch-model-archiver's flags), or `archive inspect FILE`.
    Archive(archive::ArchiveArgs),
    /// Serve models over HTTP: inference, management and metrics APIs.
    Serve(Box<serve::ServeArgs>),
    /// Manage tenants on a running server (admin token required).
    Tenant(tenant::TenantArgs),
    /// TorchServe's launcher: `--start`/`--stop`, its flags and pid file (also what runs when
    /// this binary is invoked as `torchserve`).
    Torchserve(Box<torchserve::TorchServeArgs>),
    /// A tenant cell: runs models for the server over the socket on fd 3 (started by
    /// `serve` itself; not for people).
    #[command(hide = true)]
    Cell(cells::CellArgs),
    /// Compiles one handler component, read from stdin, into `--output` under the limits
    /// its parent set (started by `serve` itself for each new handler; not for people).
    #[command(hide = true)]
    CompileHandler(CompileHandlerArgs),
}

#[derive(clap::Args)]
struct CompileHandlerArgs {
    /// The file to create with the compiled component.
    #[arg(long)]
    output: std::path::PathBuf,
    /// CPU seconds the compile may use (beyond what starting took).
    #[arg(long)]
    cpu_seconds: u64,
    /// Data memory the compile may use beyond what the process held at start, bytes.
    #[arg(long)]
    memory_bytes: u64,
}

/// The binary under the name `torchserve` (a symlink): TorchServe's command line as is.
#[derive(Parser)]
#[command(name = "torchserve", version)]
struct AsTorchServe {
    #[command(flatten)]
    args: torchserve::TorchServeArgs,
}

fn main() -> std::process::ExitCode {
    // wasmtime errors would otherwise capture a host backtrace each when RUST_BACKTRACE is
    // set; a trapping handler is an expected event here, not a host bug.
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let invoked_as = std::env::args_os()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_name().map(|n| n.to_owned()));
    let command = if invoked_as.as_deref() == Some(std::ffi::OsStr::new("torchserve")) {
        Command::Torchserve(Box::new(AsTorchServe::parse().args))
    } else {
        Cli::parse().command
    };
    let result = match command {
        Command::Handler(cmd) => {
            logging::init_default();
            handler::run(cmd)
        }
        Command::Archive(args) => {
            logging::init_default();
            archive::run(args)
        }
        Command::Serve(args) => serve::run(*args),
        Command::Tenant(args) => {
            logging::init_default();
            tenant::run(args)
        }
        Command::Torchserve(args) => torchserve::run(*args),
        Command::Cell(args) => cells::run(args),
        Command::CompileHandler(args) => Ok(std::process::ExitCode::from(
            u8::try_from(ferroserve_sandbox::compile_handler_main(
                &args.output,
                args.cpu_seconds,
                args.memory_bytes,
            ))
            .unwrap_or(1),
        )),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
