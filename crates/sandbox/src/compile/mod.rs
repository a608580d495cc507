//! Turning a handler component into native code, bounded: a hostile component must not be
//! able to take the server's CPU or memory by being compiled (one 7 MB function took 30 s
//! and 3.3 GB in the server; 900,000 tiny ones 4.4 GB). Static checks first (`checks.rs`:
//! size, function count, largest function), cheap and before any compiler runs; then the
//! compile in a short-lived child process under CPU, memory and wall-clock limits
//! (`child.rs` starts and watches it; `entry.rs` is the child's side), or in this process
//! when no compiler command is configured (tools and unit tests). At most `concurrency`
//! compiles run at once, so a burst of uploads cannot fork a compiler each.

mod checks;
mod child;
mod entry;
mod limit;
mod slots;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::SandboxError;

pub use entry::compile_handler_main;
pub use limit::CompileLimit;

use crate::limits::{CompileLimits, CompilerCommand};

pub(crate) struct Compiler {
    limits: CompileLimits,
    command: Option<CompilerCommand>,
    slots: slots::Slots,
}

impl Compiler {
    pub(crate) fn new(limits: CompileLimits, command: Option<CompilerCommand>) -> Compiler {
        let n = match limits.concurrency {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Compiler {
            limits,
            command,
            slots: slots::Slots::new(n),
        }
    }

    /// The static checks alone: nothing is compiled.
    pub(crate) fn check(&self, wasm: &[u8]) -> Result<(), SandboxError> {
        checks::check(wasm, &self.limits)
    }

    /// Compiles `wasm` (already checked); with `keep_at`, the compiled form is also left
    /// in that file (write beside, then rename: a reader never sees half a file).
    pub(crate) fn compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        keep_at: Option<&Path>,
    ) -> Result<Component, SandboxError> {
        let _slot = self.slots.take();
        let Some(command) = &self.command else {
            let component = Component::new(engine, wasm)
                .map_err(|e| SandboxError::Compile(format!("{e:#}")))?;
            if let Some(path) = keep_at
                && let Err(e) = store(path, &component)
            {
                tracing::warn!(path = %path.display(), error = %e, "could not write the compile cache");
            }
            return Ok(component);
        };
        let tmp = temp_path(keep_at);
        let result = child::run(command, &self.limits, wasm, &tmp).and_then(|()| match keep_at {
            Some(path) => {
                std::fs::rename(&tmp, path).map_err(|e| {
                    SandboxError::Engine(format!(
                        "cannot move the compiled handler into the cache: {e}"
                    ))
                })?;
                load(engine, path)
            }
            None => load(engine, &tmp),
        });
        // Gone on every path: renamed, or loaded (the mapping outlives the name), or
        // left by a child that failed.
        let _ = std::fs::remove_file(&tmp);
        result
    }
}

/// A name beside `keep_at` (same file system, so the rename is atomic) or in the temp dir,
/// unique in this process.
fn temp_path(keep_at: Option<&Path>) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Relaxed);
    let pid = std::process::id();
    match keep_at {
        Some(p) => p.with_extension(format!("tmp{pid}-{n}")),
        None => std::env::temp_dir().join(format!("ferroserve-compile-{pid}-{n}.tmp")),
    }
}

/// Whether `path` is one of [`temp_path`]'s names beside a cache entry.
pub(crate) fn is_temp(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.starts_with("tmp"))
}

pub(crate) fn load(engine: &Engine, path: &Path) -> Result<Component, SandboxError> {
    // SAFETY: the file was written by this server's own compiler (in a child or here) into
    // a directory only this server writes; wasmtime checks the engine compatibility header.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|e| {
        SandboxError::Engine(format!("the compiled handler could not be loaded: {e:#}"))
    })
}

pub(crate) fn store(path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let tmp = temp_path(Some(path));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
