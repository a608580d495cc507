//! `ferroserve handler check`: does a component implement the handler world, and does it
//! answer a sample request? For any component, however it was built.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ferroserve_sandbox::{HandlerRequest, Limits, Sandbox, SandboxConfig};

#[derive(Args)]
pub struct CheckArgs {
    /// The handler component (`.wasm`, built for wasm32-wasip2).
    component: PathBuf,
    /// A file to send as the request body to `preprocess`.
    #[arg(long)]
    body: Option<PathBuf>,
    /// The request's content type.
    #[arg(long, default_value = "application/octet-stream")]
    content_type: String,
    /// A directory standing in for the archive's extra files (read-only at `/`).
    #[arg(long)]
    files: Option<PathBuf>,
    /// CPU deadline for the call, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    deadline_ms: u64,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let CheckArgs {
        component,
        body,
        content_type,
        files,
        deadline_ms,
    } = args;
    let wasm =
        std::fs::read(&component).with_context(|| format!("reading {}", component.display()))?;
    let sandbox = Sandbox::new(SandboxConfig {
        threads: 1,
        ..SandboxConfig::default()
    })?;
    let limits = Limits {
        deadline: Duration::from_millis(deadline_ms),
        ..Limits::default()
    };
    let name = component
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("handler");
    let handler = match sandbox.load(name, &wasm, files.as_deref(), limits) {
        Ok(h) => h,
        Err(e) => {
            println!("FAIL {}: {} ({})", component.display(), e, e.kind());
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "ok   {}: implements ferroserve:handler@{} ({} runtime)",
        component.display(),
        handler.world_version(),
        handler.runtime().name()
    );
    let Some(body) = body else {
        return Ok(ExitCode::SUCCESS);
    };
    let bytes = std::fs::read(&body).with_context(|| format!("reading {}", body.display()))?;
    let request = HandlerRequest {
        body: bytes.into(),
        content_type: Some(content_type),
        ..HandlerRequest::default()
    };
    let (result, report) = handler.preprocess_blocking(request);
    match result {
        Ok(prepared) => {
            println!("ok   preprocess in {:?}", report.elapsed);
            for t in &prepared.inputs {
                println!("     tensor {:?}: {} {:?}", t.name(), t.dtype(), t.shape());
            }
            println!("     context: {} bytes", prepared.context.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAIL preprocess: {} ({})", e, e.kind());
            Ok(ExitCode::from(1))
        }
    }
}
