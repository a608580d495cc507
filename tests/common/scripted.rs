//! Python and JavaScript handlers for the end-to-end tests, built by the real binary's
//! `handler build` (which skips a build whose inputs' hash is unchanged, so each component
//! is built once per content, under the target directory), and the environment that
//! command needs: PATH for python3/node/npm, and the toolchains folder `scripts/setup.sh`
//! fills (`FERROSERVE_HANDLER_TOOLS`, default `~/.cache/ferroserve/handler-tools`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The binary with only what `handler` needs from the environment.
pub fn command(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferroserve"));
    c.current_dir(cwd).env_clear();
    for key in ["PATH", "HOME", "FERROSERVE_HANDLER_TOOLS"] {
        if let Some(v) = std::env::var_os(key) {
            c.env(key, v);
        }
    }
    c
}

/// Runs the binary with `args` in `cwd`; panics with its output unless it exits 0.
pub fn run(cwd: &Path, args: &[&str]) -> String {
    let out = command(cwd).args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ferroserve {args:?} in {}:\n{text}",
        cwd.display()
    );
    text
}

/// `crates/test-fixtures/scripted/hostile.{py,js}` as a handler project under the target
/// directory, built; returns the component.
pub fn hostile(lang: &str) -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    static JS: OnceLock<PathBuf> = OnceLock::new();
    let cell = if lang == "python" { &PYTHON } else { &JS };
    cell.get_or_init(|| build_fixture("hostile", lang)).clone()
}

/// `crates/test-fixtures/scripted/files.js` (the JavaScript SDK's file helpers) as a
/// handler project under the target directory, built; returns the component.
pub fn js_files() -> PathBuf {
    static JS: OnceLock<PathBuf> = OnceLock::new();
    JS.get_or_init(|| build_fixture("files", "js")).clone()
}

fn build_fixture(name: &str, lang: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ext = if lang == "python" { "py" } else { "js" };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scripted-{name}-{lang}"));
    std::fs::create_dir_all(&dir).unwrap();
    let source = format!("{name}.{ext}");
    copy_if_changed(
        &root.join("crates/test-fixtures/scripted").join(&source),
        &dir.join(&source),
    );
    let project = format!("name = \"{name}-{lang}\"\nlang = \"{lang}\"\nsource = \"{source}\"\n");
    write_if_changed(&dir.join("ferroserve-handler.toml"), project.as_bytes());
    run(&dir, &["handler", "build"]);
    dir.join(format!("build/{name}-{lang}.wasm"))
}

fn copy_if_changed(from: &Path, to: &Path) {
    write_if_changed(to, &std::fs::read(from).unwrap());
}

/// Keeps the file (and so the build's input hash) untouched when the content is the same.
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).is_ok_and(|b| b == bytes) {
        return;
    }
    std::fs::write(path, bytes).unwrap();
}
