//! The test models, made on demand by `examples/models/make_test_models.py`, for the tests
//! and benches of this crate and of the crates above it (batcher + runtime, server).
//!
//! [`TestModels::get`] runs the script once into a cache directory and hands out paths and
//! Python's reference arrays. It is safe under parallel test binaries: the first takes an
//! exclusive file lock and generates, the others wait on the lock and find a stamp naming
//! the script's hash. A changed script regenerates everything (ResNet-18 included).
//!
//! Directory: `$FERROSERVE_TEST_MODELS_DIR`, else `$FERROSERVE_CACHE/models`, else
//! `~/.cache/ferroserve/models` (beside the venv `scripts/setup.sh` makes). Python:
//! `$FERROSERVE_PYTHON` (at run time, then at build time: `.cargo/config.toml` sets it),
//! else the setup script's venv.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ferroserve_tensor::Tensor;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/models/make_test_models.py"
);
/// Part of the stamp, so that editing the script (which rebuilds this crate) regenerates.
const SCRIPT_TEXT: &str = include_str!("../../../examples/models/make_test_models.py");
const STAMP: &str = ".complete";

/// The generated models and the reference arrays listed in their `fixtures.json`.
#[derive(Debug)]
pub struct TestModels {
    dir: PathBuf,
    manifest: serde_json::Value,
}

impl TestModels {
    /// Generates the models if needed (once per process) and returns them. Panics with
    /// the script's output when generation fails: this is a test helper.
    pub fn get() -> &'static TestModels {
        static MODELS: OnceLock<TestModels> = OnceLock::new();
        MODELS.get_or_init(|| ensure(&models_dir()).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a model by its short name (`mlp`, `resnet18`, `raises`, `tuple`, `list`,
    /// `dict`, `two_inputs`, `echo`; the script's docstring says what each does).
    pub fn model(&self, name: &str) -> PathBuf {
        let file = self.manifest["models"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no test model `{name}` in {}", self.dir.display()));
        self.dir.join(file)
    }

    /// A reference array (e.g. `mlp.input`, `resnet18.output_alone`) as shape and values.
    pub fn array(&self, name: &str) -> (Vec<u64>, Vec<f32>) {
        let entry = &self.manifest["arrays"][name];
        let file = entry["file"]
            .as_str()
            .unwrap_or_else(|| panic!("no test array `{name}` in {}", self.dir.display()));
        let shape: Vec<u64> = entry["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        let bytes = fs::read(self.dir.join(file)).unwrap();
        let values = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        (shape, values)
    }

    /// A reference array as an f32 `Tensor` named `tensor_name`.
    pub fn tensor(&self, array: &str, tensor_name: &str) -> Tensor {
        let (shape, values) = self.array(array);
        Tensor::from_f32(tensor_name, shape, &values).unwrap()
    }
}

fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERROSERVE_TEST_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    cache_dir().join("models")
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERROSERVE_CACHE") {
        return PathBuf::from(dir);
    }
    // `home_dir` reads $HOME, falling back to the password database (e.g. under `env -i`).
    std::env::home_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/ferroserve")
}

fn python() -> PathBuf {
    std::env::var_os("FERROSERVE_PYTHON")
        .map(PathBuf::from)
        .or_else(|| option_env!("FERROSERVE_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| cache_dir().join("venv/bin/python"))
}

/// FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
fn script_hash() -> String {
    let hash = SCRIPT_TEXT.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn is_current(dir: &Path) -> bool {
    fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s.trim() == script_hash())
}

fn ensure(dir: &Path) -> Result<TestModels, String> {
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    if !is_current(dir) {
        let lock_path = dir.join(".lock");
        let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
        lock.lock()
            .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
        // Another process may have generated while this one waited for the lock.
        if !is_current(dir) {
            generate(dir)?;
        }
        // The lock is released when `lock` drops.
    }
    let manifest_path = dir.join("fixtures.json");
    let text = fs::read_to_string(&manifest_path)
        .map_err(|e| format!("reading {}: {e}", manifest_path.display()))?;
    let manifest = serde_json::from_str(&text)
        .map_err(|e| format!("parsing {}: {e}", manifest_path.display()))?;
    Ok(TestModels {
        dir: dir.to_path_buf(),
        manifest,
    })
}

fn generate(dir: &Path) -> Result<(), String> {
    let python = python();
    let mut command = Command::new(&python);
    command.arg(SCRIPT).arg(dir);
    // A stamp from another version of the script: its ResNet-18 may differ too.
    if dir.join(STAMP).exists() {
        command.arg("--force");
    }
    let out = command.output().map_err(|e| {
        format!(
            "running {} (the test model script needs the venv from scripts/setup.sh): {e}",
            python.display()
        )
    })?;
    if !out.status.success() {
        return Err(format!(
            "{} {SCRIPT} {} failed ({}):\n{}{}",
            python.display(),
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tmp = dir.join(format!("{STAMP}.tmp.{}", std::process::id()));
    fs::write(&tmp, script_hash())
        .and_then(|()| fs::rename(&tmp, dir.join(STAMP)))
        .map_err(|e| format!("writing the stamp in {}: {e}", dir.display()))
}
