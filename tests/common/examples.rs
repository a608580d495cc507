//! The example archives (`digits.mar`, `resnet18.mar`, scikit-learn's held-out digits),
//! built once per test process by the script the demo uses, and the venv's python.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::server::Server;

pub fn examples() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("examples");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new("bash")
            .arg(root.join("scripts/build-examples.sh"))
            .arg(&dir)
            .env("FERROSERVE_BIN", env!("CARGO_BIN_EXE_ferroserve"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "build-examples.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// The venv's interpreter (with torch, tritonclient, kserve, grpcio-tools).
pub fn python() -> String {
    std::env::var("FERROSERVE_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/ferroserve/venv/bin/python",
            std::env::var("HOME").unwrap()
        )
    })
}

/// The real server over the examples' model store, loading `models`, plus `extra` flags.
pub fn serve(models: &str, extra: &[&str]) -> (tempfile::TempDir, Server) {
    let state = tempfile::tempdir().unwrap();
    let store = examples().to_str().unwrap().to_owned();
    let mut args = vec!["--model-store", &store, "--models", models];
    args.extend_from_slice(extra);
    let server = Server::start(state.path(), &args);
    (state, server)
}

/// Runs `tests/clients/SCRIPT` with the venv's python and `args`; panics with its output
/// unless it exits 0; returns its stdout's last line as JSON.
pub fn run_client(script: &str, args: &[&str]) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(python())
        .arg(root.join("tests/clients").join(script))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script}: {e}: {stdout}"))
}
