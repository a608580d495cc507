//! The `ferroserve` command line. Subcommands are thin: each parses its flags and calls
//! into a library crate (`ferroserve-sandbox` for `handler`, `ferroserve-archive` for
//! `archive`, `ferroserve-http` and `ferroserve-core` for `serve`).

mod archive;
mod handler;
mod logging;
mod runtime;
mod serve;
mod tenant;

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
}

fn main() -> std::process::ExitCode {
    // wasmtime errors would otherwise capture a host backtrace each when RUST_BACKTRACE is
    // set; a trapping handler is an expected event here, not a host bug.
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let cli = Cli::parse();
    let result = match cli.command {
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
