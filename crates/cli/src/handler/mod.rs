//! `ferroserve handler`: the handler author's loop, the same for every language. `new`
//! makes a project, `build` runs its toolchain (componentize-py, componentize-js or cargo),
//! `test` runs one request through preprocess, the real model and postprocess, `check`
//! loads any component against the contract.

mod build;
mod check;
mod new;
mod project;
pub mod sdk;
mod test;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use ferroserve_sandbox::{Limits, Sandbox, SandboxConfig};

use project::Lang;

#[derive(Subcommand)]
pub enum HandlerCommand {
    /// Load a handler component and check it against the ferroserve:handler world (0.2.0 or
    /// 0.1.0); with --body, also run `preprocess` on that file under the default limits.
    Check(check::CheckArgs),
    /// Make a ready handler project in NAME/: the handler, a sample input, the model
    /// config, a build script and a README.
    New {
        /// The project's (and component's) name; also the folder made.
        name: String,
        #[arg(long, value_enum)]
        lang: Lang,
        /// Make the folder here instead of ./NAME.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rust: a local copy of the SDK (handlers-sdk/) to depend on by path.
        #[arg(long)]
        rust_sdk: Option<PathBuf>,
    },
    /// Build the project in DIR (default: here) into build/NAME.wasm with its language's
    /// toolchain, installing componentize-py or componentize-js when missing.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Write the component here instead of build/NAME.wasm.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Run one request through preprocess, the model (libtorch, CPU) and postprocess,
    /// printing the tensors at each step. No server needed.
    Test {
        /// The project (default: here); its build/NAME.wasm is the handler unless --handler.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The TorchScript model (torch.jit.save).
        #[arg(long)]
        model: PathBuf,
        /// The request body.
        #[arg(long)]
        input: PathBuf,
        /// A built component to test instead of the project's.
        #[arg(long)]
        handler: Option<PathBuf>,
        /// The request's content type (default: from the input's extension).
        #[arg(long)]
        content_type: Option<String>,
        /// A directory standing in for the archive's extra files (default: DIR/files).
        #[arg(long)]
        files: Option<PathBuf>,
        /// A handler parameter, KEY=VALUE (repeatable), as the query string gives them.
        #[arg(long = "param", value_parser = parse_param)]
        params: Vec<(String, String)>,
        #[arg(long, default_value_t = 256)]
        memory_mib: usize,
        #[arg(long, default_value_t = 2000)]
        deadline_ms: u64,
    },
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?}: write parameters as KEY=VALUE"))
}

pub fn run(cmd: HandlerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        HandlerCommand::Check(args) => check::run(args),
        HandlerCommand::New {
            name,
            lang,
            dir,
            rust_sdk,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            new::create(&dir, &name, lang, rust_sdk.as_deref())?;
            println!(
                "ok   made {} ({lang:?} handler {name}); next: cd {} && ferroserve handler build",
                dir.display(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        HandlerCommand::Build { dir, out } => {
            let project = project::Project::read(&dir)?;
            let started = std::time::Instant::now();
            let (path, rebuilt) = build::build(&project, out.as_deref())?;
            let wasm =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let sandbox = sandbox(&project.generated())?;
            let handler = match sandbox.load("handler", &wasm, None, Limits::default()) {
                Ok(h) => h,
                Err(e) => {
                    println!("FAIL {}: {e} ({})", path.display(), e.kind());
                    return Ok(ExitCode::from(1));
                }
            };
            let how = if rebuilt {
                format!("built in {:.1?}", started.elapsed())
            } else {
                "up to date".into()
            };
            println!(
                "ok   {} ({how}; {} bytes, {} runtime, ferroserve:handler@{})",
                path.display(),
                wasm.len(),
                handler.runtime().name(),
                handler.world_version()
            );
            Ok(ExitCode::SUCCESS)
        }
        HandlerCommand::Test {
            dir,
            model,
            input,
            handler,
            content_type,
            files,
            params,
            memory_mib,
            deadline_ms,
        } => {
            let (component, cache) = match handler {
                Some(h) => (h, None),
                None => {
                    let p = project::Project::read(&dir)?;
                    (p.default_output(), Some(p.generated()))
                }
            };
            let files = files.or_else(|| Some(dir.join("files")).filter(|d| d.is_dir()));
            let args = test::TestArgs {
                component,
                model,
                input,
                content_type,
                files,
                params,
                limits: Limits {
                    memory_bytes: memory_mib << 20,
                    deadline: Duration::from_millis(deadline_ms),
                    ..Limits::default()
                },
            };
            // Without a project, compiled code is not cached: nowhere is known to be ours.
            let sandbox = match cache {
                Some(generated) => sandbox(&generated)?,
                None => Sandbox::new(SandboxConfig {
                    threads: 1,
                    ..SandboxConfig::default()
                })?,
            };
            test::run(args, &sandbox)
        }
    }
}

/// The sandbox a CLI command uses: one thread, compiled code cached under `generated`
/// (so `build`'s check and `test` compile a Python component once between them). It must
/// outlive the handlers it loads: its epoch ticker enforces their deadlines.
fn sandbox(generated: &Path) -> anyhow::Result<Sandbox> {
    Ok(Sandbox::new(SandboxConfig {
        threads: 1,
        cache_dir: Some(generated.join("compiled")),
        ..SandboxConfig::default()
    })?)
}
