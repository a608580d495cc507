//! `ferroserve handler new --lang rust|python|js NAME`: a ready project in `NAME/` (the
//! handler, a sample input, the model config, a build script, a README) that builds and
//! runs against a model taking `[N, 4]` floats before any edit.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::project::{Lang, PROJECT_FILE};
use super::sdk;

const PY: &str = include_str!("templates/handler.py");
const JS: &str = include_str!("templates/handler.js");
const RS: &str = include_str!("templates/lib.rs");
const CARGO: &str = include_str!("templates/Cargo.toml");
const README: &str = include_str!("templates/README.md");
const CONFIG: &str = include_str!("templates/model-config.yaml");

/// Makes `dir` (which must not exist, or be empty) as a `lang` project called `name`.
/// `rust_sdk` is a local copy of the Rust SDK (`handlers-sdk/`) to depend on by path.
pub fn create(
    dir: &Path,
    name: &str,
    lang: Lang,
    rust_sdk: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        bail!("the handler name {name:?} must be letters, digits, '-' or '_'");
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} already exists and is not empty; pick another name or remove it",
            dir.display()
        );
    }
    let (lang_name, source, memory) = match lang {
        Lang::Python => ("python", "handler.py", "128"),
        Lang::Js => ("js", "handler.js", "128"),
        Lang::Rust => ("rust", "src/lib.rs", "64"),
    };
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{lang}}", lang_name)
            .replace("{{memory_mib}}", memory)
    };
    let project = format!(
        "# A ferroserve handler project; `ferroserve handler build` reads this.\nname = {name:?}\nlang = {lang_name:?}\nsource = {source:?}\n"
    );
    let mut files: Vec<(String, String)> = vec![
        (PROJECT_FILE.into(), project),
        ("README.md".into(), fill(README)),
        ("model-config.yaml".into(), fill(CONFIG)),
        ("sample.json".into(), "[0.5, -1.0, 2.0, 0.25]\n".into()),
        ("build.sh".into(), "#!/bin/sh\n# Builds build/<name>.wasm with the toolchain for this project's language.\nexec ferroserve handler build \"$@\"\n".into()),
        (".gitignore".into(), "build/\n.ferroserve/\ntarget/\nferroserve-handler.js\nferroserve-files.js\n__pycache__/\n".into()),
    ];
    match lang {
        Lang::Python => files.push(("handler.py".into(), fill(PY))),
        Lang::Js => {
            files.push(("handler.js".into(), fill(JS)));
            files.push((sdk::JS.0.into(), sdk::JS.1.into()));
            files.push((sdk::JS_FILES.0.into(), sdk::JS_FILES.1.into()));
        }
        Lang::Rust => {
            let dep = match rust_sdk {
                Some(p) => format!(
                    "ferroserve-handler = {{ path = {:?} }}",
                    std::path::absolute(p)?.display().to_string()
                ),
                None => "# Until ferroserve-handler is on crates.io: `handler new --rust-sdk PATH` (a copy of\n# handlers-sdk/, or the unpacked `cargo package` of it) writes a path dependency here.\nferroserve-handler = \"0.2\"".into(),
            };
            files.push((
                "Cargo.toml".into(),
                fill(CARGO).replace("{{rust_sdk}}", &dep),
            ));
            files.push(("src/lib.rs".into(), fill(RS)));
        }
    }
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("build.sh"), std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(dir.to_path_buf())
}
