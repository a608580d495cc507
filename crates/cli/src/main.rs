//! The `ferroserve` command line. Subcommands are thin: each parses its flags and calls
//! into a library crate (`ferroserve-sandbox` for `handler`, `ferroserve-archive` for
//! `archive`).

mod archive;
mod handler;

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
}

fn main() -> std::process::ExitCode {
    // wasmtime errors would otherwise capture a host backtrace each when RUST_BACKTRACE is
    // set; a trapping handler is an expected event here, not a host bug.
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Handler(cmd) => handler::run(cmd),
        Command::Archive(args) => archive::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
