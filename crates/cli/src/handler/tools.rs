//! The toolchains `handler build` runs, found in (or installed into) one tools folder:
//! `$FERROSERVE_HANDLER_TOOLS`, else `~/.cache/ferroserve/handler-tools`. componentize-py
//! goes into a venv there (`python/`), componentize-js into a `node_modules` there
//! (`node/`); `scripts/setup.sh` fills the same folder. Rust needs only cargo and the
//! wasm32-wasip2 target.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
pub const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js@0.23.0";

pub fn tools_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("FERROSERVE_HANDLER_TOOLS") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .context("neither FERROSERVE_HANDLER_TOOLS nor HOME is set: set one, so handler build knows where its toolchains live")?;
    Ok(PathBuf::from(home).join(".cache/ferroserve/handler-tools"))
}

/// `componentize-py`, installed into `<tools>/python` (a venv) when missing.
pub fn componentize_py() -> anyhow::Result<PathBuf> {
    let venv = tools_dir()?.join("python");
    let exe = venv.join("bin/componentize-py");
    if exe.exists() {
        return Ok(exe);
    }
    eprintln!(
        "installing {COMPONENTIZE_PY} into {} (once)",
        venv.display()
    );
    if !venv.join("bin/pip").exists() {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv (install Python 3.9+ with its venv module, e.g. apt install python3-venv)",
        )?;
    }
    run(
        Command::new(venv.join("bin/pip")).args(["install", "--quiet", COMPONENTIZE_PY]),
        "pip install componentize-py (PyPI must be reachable)",
    )?;
    Ok(exe)
}

/// The folder holding `node_modules/@bytecodealliance/componentize-js`, installed with
/// npm when missing, and `node` to run the build script with.
pub fn componentize_js() -> anyhow::Result<PathBuf> {
    let dir = tools_dir()?.join("node");
    if dir
        .join("node_modules/@bytecodealliance/componentize-js/package.json")
        .exists()
    {
        return Ok(dir);
    }
    eprintln!(
        "installing {COMPONENTIZE_JS} into {} (once, ~400 MB)",
        dir.display()
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if !dir.join("package.json").exists() {
        std::fs::write(dir.join("package.json"), "{\"private\": true}\n")?;
    }
    run(
        Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&dir)
            .args([
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                COMPONENTIZE_JS,
            ]),
        "npm install componentize-js (install Node.js 18+ and npm; the npm registry must be reachable)",
    )?;
    Ok(dir)
}

/// Runs `cmd`, failing with `what` and the tool's output when it fails or is missing.
pub fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{program} was not found on PATH; needed for {what}")
        }
        Err(e) => bail!("could not run {program} ({what}): {e}"),
    };
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `path` made absolute against the current directory.
pub fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}
