//! Model archives: TorchServe's `.mar` layout (a zip with `MAR-INF/MANIFEST.json`, the
//! TorchScript file, the handler `.wasm` component, extra files and an optional model
//! config YAML whose `ferroserve:` key holds ferroserve's own settings), or the same files
//! in a `.tar.gz` under one folder (`torch-model-archiver --archive-format tgz`). This
//! crate owns the format ([`Manifest`], [`ModelConfig`]; docs/archive-format.md), the
//! validating reader ([`read_archive`]: either container told apart by its magic bytes and
//! turned into one stream of entries that pass the same checks: caps checked while
//! inflating, path and entry-type rules, schema errors naming the field, a structural
//! TorchScript check, the handler checked through the [`HandlerCheck`] seam), extraction
//! into a fresh directory ([`extract_extra_files`]) and the writer ([`write_archive`]).
//!
//! The handler world check itself is the sandbox's (`ferroserve-sandbox`); the CLI
//! (`crates/cli/src/archive.rs`) plugs it in. Serving a model is `ferroserve-core`.

mod config;
mod entries;
mod error;
mod extract;
mod limits;
mod manifest;
mod names;
mod precheck;
mod reader;
mod source;
mod stream;
mod tgz;
mod torchscript;
mod writer;
mod zipfmt;

use std::path::Path;

pub use config::{
    FORMAT_VERSION, FerroserveSettings, HandlerLimits, InputSpec, ModelConfig, OutputSpec,
};
pub use error::ArchiveError;
pub use extract::{extract_extra_files, extract_model_file};
pub use limits::ReadLimits;
pub use manifest::{MANIFEST_PATH, Manifest, ModelSection, valid_model_name};
pub use reader::{inspect_from, read_archive_from};
pub use writer::{ArchiveFormat, WriteOptions, write_archive};

/// Why a handler check refused a component: a stable kind (e.g. `HandlerWorldMismatch`)
/// and a message for the uploader.
#[derive(Debug, Clone)]
pub struct HandlerRejection {
    pub kind: String,
    pub message: String,
}

/// The seam through which the reader asks whether a component implements the handler
/// world. The sandbox-backed implementation lives with the caller (the CLI, the server).
pub trait HandlerCheck {
    fn check(&self, wasm: &[u8]) -> Result<(), HandlerRejection>;
    /// A few words on what was checked, for `archive inspect`.
    fn describe(&self) -> String;
}

/// Checks only what this crate can: that the handler is a wasm component (the reader
/// always does that). For tools that do not link the sandbox.
#[derive(Debug, Default)]
pub struct PreambleOnly;

impl HandlerCheck for PreambleOnly {
    fn check(&self, _wasm: &[u8]) -> Result<(), HandlerRejection> {
        Ok(())
    }
    fn describe(&self) -> String {
        "component preamble only; world not checked".into()
    }
}

/// Which container an archive came in, told by its first bytes (not its file name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    /// A zip: TorchServe's `.mar`.
    Zip,
    /// A gzip-compressed tar (`torch-model-archiver --archive-format tgz`).
    TarGz {
        /// The folder every entry sat under (`<model>/`), stripped from the entry names;
        /// `None` when the manifest was at the tar's root.
        root: Option<String>,
    },
}

/// One entry of a validated archive.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryInfo {
    /// The name inside the archive (for a `.tar.gz`, without the model's folder).
    pub name: String,
    pub size: u64,
    /// For a `.tar.gz`, whose entries are compressed as one stream, the entry's size.
    pub compressed_size: u64,
    /// Hex sha256 of the inflated bytes (empty for directories).
    pub sha256: String,
    pub is_dir: bool,
}

/// A check that passed, with what it found.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub detail: String,
}

/// A validated archive.
#[derive(Debug, Clone)]
pub struct ArchiveInfo {
    pub container: Container,
    pub manifest: Manifest,
    pub config: Option<ModelConfig>,
    pub entries: Vec<EntryInfo>,
    pub checks: Vec<Check>,
    /// The entry the handler was read from (the manifest's name, or that name + `.py`
    /// for torch-model-archiver archives).
    pub handler_entry: String,
    pub handler_wasm: Vec<u8>,
    /// Entries that are neither manifest, model, handler nor config.
    pub extra_files: Vec<String>,
}

impl ArchiveInfo {
    pub fn entry(&self, name: &str) -> Option<&EntryInfo> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// Read and validate the archive at `path`.
pub fn read_archive(
    path: &Path,
    limits: &ReadLimits,
    handler_check: &dyn HandlerCheck,
) -> Result<ArchiveInfo, ArchiveError> {
    let file = std::fs::File::open(path)?;
    read_archive_from(
        std::io::BufReader::with_capacity(256 << 10, file),
        limits,
        handler_check,
    )
}
