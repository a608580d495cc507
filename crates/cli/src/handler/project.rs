//! A handler project: the folder `handler new` makes, described by its
//! `ferroserve-handler.toml` (name, language, source), whichever the language.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

pub const PROJECT_FILE: &str = "ferroserve-handler.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The component is `build/<name>.wasm`.
    pub name: String,
    pub lang: Lang,
    /// Python: the module file (`handler.py`); JS: the module (`handler.js`); Rust: unused
    /// (the crate in `Cargo.toml` is built).
    pub source: String,
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Project {
    pub fn read(dir: &Path) -> anyhow::Result<Project> {
        let path = dir.join(PROJECT_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (is {} a handler project? `ferroserve handler new --lang python NAME` makes one)",
                path.display(),
                dir.display()
            )
        })?;
        let mut p: Project =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if p.name.is_empty()
            || !p
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!(
                "{}: name {:?} must be letters, digits, '-', '_' or '.'",
                path.display(),
                p.name
            );
        }
        p.dir = std::path::absolute(dir)?;
        Ok(p)
    }

    /// Where `handler build` writes the component unless told otherwise.
    pub fn default_output(&self) -> PathBuf {
        self.dir.join("build").join(format!("{}.wasm", self.name))
    }

    /// Generated files (the contract, the SDK): rewritten by every build.
    pub fn generated(&self) -> PathBuf {
        self.dir.join(".ferroserve")
    }
}
