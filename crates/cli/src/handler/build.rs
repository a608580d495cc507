//! `ferroserve handler build`: the right toolchain for the project's language, the
//! contract and SDK from this binary, then the sandbox's own check of the result. Python
//! and JS builds are skipped when nothing they read changed (a sha256 of the inputs beside
//! the output), since componentize-py/-js take tens of seconds.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::project::{Lang, Project};
use super::{sdk, tools};

/// Builds `project` into `out` (or its default output); returns the component's path and
/// whether it was rebuilt.
pub fn build(project: &Project, out: Option<&Path>) -> anyhow::Result<(PathBuf, bool)> {
    let out = match out {
        Some(o) => tools::absolute(o)?,
        None => project.default_output(),
    };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let generated = project.generated();
    sdk::write_all(&generated.join("wit"), &[sdk::WIT])?;
    let wit = generated.join("wit").join(sdk::WIT.0);
    if project.lang == Lang::Rust {
        rust(project, &out)?;
        return Ok((out, true));
    }
    if project.lang == Lang::Js {
        // Handlers import the SDK as `./ferroserve-handler.js`, beside them.
        sdk::write_all(&project.dir, &[sdk::JS, sdk::JS_FILES])?;
    } else {
        sdk::write_all(&generated.join("python"), sdk::PYTHON)?;
    }
    let hash = inputs_hash(project)?;
    let stamp = out.with_extension("wasm.inputs");
    if out.exists() && std::fs::read_to_string(&stamp).is_ok_and(|h| h == hash) {
        return Ok((out, false));
    }
    let _ = std::fs::remove_file(&stamp);
    match project.lang {
        Lang::Python => python(project, &wit, &out)?,
        Lang::Js if reads_files(project)? => {
            // The contract plus the JS world and its WASI deps, in a folder of their own.
            let wit_js = generated.join("wit-js");
            sdk::write_all(&wit_js, &[sdk::WIT])?;
            sdk::write_all(&wit_js, sdk::JS_WIT)?;
            js(project, &wit_js, sdk::JS_WORLD, &out)?
        }
        Lang::Js => js(project, &wit, "handler-world", &out)?,
        Lang::Rust => unreachable!("built above"),
    }
    std::fs::write(&stamp, hash)?;
    Ok((out, true))
}

fn python(project: &Project, wit: &Path, out: &Path) -> anyhow::Result<()> {
    let module = project
        .source
        .strip_suffix(".py")
        .with_context(|| format!("source {:?} must be a .py file", project.source))?;
    let exe = tools::componentize_py()?;
    tools::run(
        Command::new(exe)
            .arg("-d")
            .arg(wit)
            .args(["-w", "handler-world", "componentize", "-p"])
            .arg(&project.dir)
            .arg("-p")
            .arg(project.generated().join("python"))
            .arg(module)
            .arg("-o")
            .arg(out)
            .current_dir(&project.dir),
        "componentize-py (the handler module must import cleanly and define `Handler = export(YourClass)`)",
    )
}

/// Whether a module of the project imports the SDK's file helpers (or wasi:filesystem
/// itself; [`imports_files`]): then it needs the world with wasi:filesystem. Other JS handlers build against
/// the plain handler world: componentize-js binds every import a world names, and the
/// filesystem's bindings make every call of a handler that never reads a file slower
/// (docs/benchmarks.md).
fn reads_files(project: &Project) -> anyhow::Result<bool> {
    let mut files = Vec::new();
    collect(&project.dir, &project.dir, &mut files)?;
    for rel in files {
        if rel == sdk::JS.0
            || rel == sdk::JS_FILES.0
            || !(rel.ends_with(".js") || rel.ends_with(".mjs"))
        {
            continue;
        }
        let text = std::fs::read_to_string(project.dir.join(&rel))
            .with_context(|| format!("reading {rel}"))?;
        if text.lines().any(imports_files) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A line that names `./ferroserve-files.js` or a wasi:filesystem interface as a module
/// specifier (in quotes), outside a line comment.
fn imports_files(line: &str) -> bool {
    let line = line.trim_start();
    if line.starts_with("//") || line.starts_with('*') || line.starts_with("/*") {
        return false;
    }
    ["'", "\"", "`"].iter().any(|q| {
        line.contains(&format!("{q}./{}{q}", sdk::JS_FILES.0))
            || line.contains(&format!("{q}wasi:filesystem/"))
    })
}

fn js(project: &Project, wit: &Path, world: &str, out: &Path) -> anyhow::Result<()> {
    let node_dir = tools::componentize_js()?;
    // The script imports componentize-js, so it must sit beside that node_modules.
    sdk::write_all(&node_dir, &[sdk::JS_BUILD])?;
    tools::run(
        Command::new("node")
            .arg(node_dir.join(sdk::JS_BUILD.0))
            .arg(project.dir.join(&project.source))
            .arg(wit)
            .arg(out)
            .arg(world)
            .current_dir(&project.dir),
        "componentize-js (the module must export `handler = exportHandler(YourClass)`)",
    )
}

fn rust(project: &Project, out: &Path) -> anyhow::Result<()> {
    let manifest = std::fs::read_to_string(project.dir.join("Cargo.toml"))
        .context("reading the project's Cargo.toml")?;
    let crate_name = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("name = \"")?.strip_suffix('"'))
        .context("Cargo.toml has no `name = \"...\"`")?
        .replace('-', "_");
    tools::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(&project.dir),
        "cargo build --target wasm32-wasip2 (`rustup target add wasm32-wasip2` adds the target)",
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| project.dir.join("target"), PathBuf::from);
    let built = target.join(format!("wasm32-wasip2/release/{crate_name}.wasm"));
    if !built.exists() {
        bail!(
            "cargo built no {} (is the crate type cdylib?)",
            built.display()
        );
    }
    std::fs::copy(&built, out).with_context(|| format!("copying {}", built.display()))?;
    Ok(())
}

/// sha256 over the project's sources (every file but build outputs and generated ones),
/// the SDK this binary carries, and the toolchain version.
fn inputs_hash(project: &Project) -> anyhow::Result<String> {
    let mut files = Vec::new();
    collect(&project.dir, &project.dir, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    h.update(sdk::fingerprint());
    h.update(tools::COMPONENTIZE_PY);
    h.update(tools::COMPONENTIZE_JS);
    for rel in files {
        h.update(rel.as_bytes());
        h.update(std::fs::read(project.dir.join(&rel))?);
    }
    Ok(hex::encode(h.finalize()))
}

const SKIP: &[&str] = &[
    "build",
    ".ferroserve",
    "node_modules",
    "target",
    "__pycache__",
    ".git",
];

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if !SKIP.contains(&name.as_str()) {
                collect(root, &path, out)?;
            }
        } else if name.ends_with(".py")
            || name.ends_with(".js")
            || name.ends_with(".mjs")
            || name.ends_with(".toml")
        {
            out.push(path.strip_prefix(root)?.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::imports_files;

    #[test]
    fn a_file_helpers_import_is_one_in_quotes_outside_comments() {
        for yes in [
            "import { readJson } from './ferroserve-files.js';",
            "import { readText } from \"./ferroserve-files.js\"",
            "  import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';",
            "const { readFile } = await import('./ferroserve-files.js');",
        ] {
            assert!(imports_files(yes), "{yes}");
        }
        for no in [
            "// import { readJson } from './ferroserve-files.js';",
            " * see ferroserve-files.js",
            "import { log } from './ferroserve-handler.js';",
            "const name = 'ferroserve-files.js';",
        ] {
            assert!(!imports_files(no), "{no}");
        }
    }
}
