//! Shared by the end-to-end tests of the real `ferroserve` binary.

#![allow(dead_code)]

pub mod archives;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The example archives (digits.mar, resnet18.mar, digits_test.json), built once per test
/// process by the same script the demo uses.
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

/// The project's venv Python (`FERROSERVE_PYTHON` overrides it).
pub fn python() -> String {
    std::env::var("FERROSERVE_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/ferroserve/venv/bin/python",
            std::env::var("HOME").unwrap()
        )
    })
}

/// Run the binary with no environment at all (it must find libtorch and everything else
/// by itself) and return its exit code and combined output.
pub fn ferroserve(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroserve"))
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}
