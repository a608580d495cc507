//! Fake model files (zips shaped like `torch.jit.save`'s, so the archive checks accept
//! them, carrying a JSON spec) and archives around them.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferroserve_archive::{ArchiveFormat, WriteOptions, write_archive};
use serde::{Deserialize, Serialize};

const SPEC: &str = "fake/spec.json";

/// What a fake model does. The default doubles its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FakeModel {
    pub scale: f32,
    /// Sleep per batch.
    pub delay_ms: u64,
    /// Sleep while loading.
    pub load_delay_ms: u64,
    /// Refuse to load, with this message.
    pub fail_load: Option<String>,
    /// Panic when an input holds this value.
    pub panic_on: Option<f32>,
}

impl Default for FakeModel {
    fn default() -> Self {
        FakeModel {
            scale: 2.0,
            delay_ms: 0,
            load_delay_ms: 0,
            fail_load: None,
            panic_on: None,
        }
    }
}

impl FakeModel {
    pub(crate) fn read(path: &Path) -> Result<FakeModel, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a fake model: {e}"))?;
        let entry = zip
            .by_name(SPEC)
            .map_err(|e| format!("not a fake model ({SPEC}): {e}"))?;
        serde_json::from_reader(entry).map_err(|e| format!("bad fake model spec: {e}"))
    }
}

/// A model file the archive reader takes for TorchScript, holding `spec`.
pub fn fake_model_file(spec: &FakeModel) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let json = serde_json::to_vec(spec).expect("serializable");
    for (name, bytes) in [
        ("fake/data.pkl", &b"fake"[..]),
        ("fake/constants.pkl", b"fake"),
        ("fake/code/__torch__.py", b"# fake"),
        (SPEC, &json),
    ] {
        zip.start_file(name, stored).expect("in memory");
        zip.write_all(bytes).expect("in memory");
    }
    zip.finish().expect("in memory").into_inner()
}

/// `dir/<file>`: an archive of `name` at `version` with the handler component at
/// `handler` (a test fixture's path) in front of a fake model.
pub fn fake_archive(
    dir: &Path,
    file: &str,
    name: &str,
    version: &str,
    handler: &str,
    spec: &FakeModel,
) -> PathBuf {
    let build = dir.join(format!(".build-{file}"));
    std::fs::create_dir_all(&build).expect("a writable test directory");
    let model = build.join("model.pt");
    std::fs::write(&model, fake_model_file(spec)).expect("a writable test directory");
    let (path, _) = write_archive(&WriteOptions {
        model_name: name.into(),
        version: version.into(),
        serialized_file: model,
        handler: PathBuf::from(handler),
        extra_files: vec![],
        config_file: None,
        export_path: build.clone(),
        force: true,
        format: ArchiveFormat::Default,
    })
    .expect("writing a test archive");
    let out = dir.join(file);
    std::fs::rename(path, &out).expect("a writable test directory");
    std::fs::remove_dir_all(&build).expect("a writable test directory");
    out
}
