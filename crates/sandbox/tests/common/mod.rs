//! Shared set-up for the sandbox's integration tests: a sandbox, and a files directory
//! with a secret beside it and symlinks pointing out of it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferroserve_sandbox::{Handler, HandlerRequest, Limits, Sandbox, SandboxConfig};

pub const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ARCHIVE";
pub const LABELS: &str = "cat\ndog\n";

pub fn config(cache: Option<&Path>) -> SandboxConfig {
    SandboxConfig {
        cache_dir: cache.map(Path::to_path_buf),
        threads: 2,
        queue_depth: 8,
        epoch_tick: Duration::from_millis(10),
        max_memory_bytes: 256 << 20,
        pooling: true,
        keep_resident_bytes: 1 << 20,
        ..SandboxConfig::default()
    }
}

pub fn sandbox(cache: Option<&Path>) -> Sandbox {
    Sandbox::new(config(cache)).expect("sandbox")
}

pub fn limits() -> Limits {
    Limits {
        memory_bytes: 32 << 20,
        deadline: Duration::from_millis(200),
        max_output_bytes: 4 << 20,
        max_log_bytes: 4 << 10,
    }
}

/// `root/secret.txt`, `root/files/labels.txt`, and links `files/up -> ../secret.txt`,
/// `files/passwd -> /etc/passwd`.
pub struct Files {
    pub root: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("secret.txt"), SECRET).unwrap();
        let files = root.path().join("files");
        std::fs::create_dir(&files).unwrap();
        std::fs::write(files.join("labels.txt"), LABELS).unwrap();
        std::os::unix::fs::symlink("../secret.txt", files.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", files.join("passwd")).unwrap();
        Files { root }
    }

    pub fn dir(&self) -> PathBuf {
        self.root.path().join("files")
    }
}

pub fn load(sandbox: &Sandbox, fixture: &str, files: Option<&Path>, limits: Limits) -> Handler {
    load_in(sandbox, "", fixture, files, limits)
}

/// [`load`] into a named share group (a tenant, in the server).
pub fn load_in(
    sandbox: &Sandbox,
    group: &str,
    fixture: &str,
    files: Option<&Path>,
    limits: Limits,
) -> Handler {
    sandbox
        .load_in(
            group,
            fixture_name(fixture),
            &ferroserve_test_fixtures::bytes(fixture),
            files,
            limits,
        )
        .unwrap_or_else(|e| panic!("loading {fixture}: {e}"))
}

fn fixture_name(path: &str) -> &str {
    Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("fixture")
}

pub fn body(text: &str) -> HandlerRequest {
    HandlerRequest {
        body: text.as_bytes().to_vec().into(),
        content_type: Some("application/json".into()),
        ..HandlerRequest::default()
    }
}

/// The well-behaved handler must still work: the proof that a hostile call left nothing
/// broken behind.
pub fn assert_well_behaved_works(sandbox: &Sandbox) {
    let ok = load(sandbox, ferroserve_test_fixtures::OK, None, limits());
    let (prepared, _) = ok.preprocess_blocking(body("[1.0, 2.0]"));
    let prepared = prepared.expect("the well-behaved handler should succeed");
    assert_eq!(prepared.inputs[0].to_f32().unwrap(), vec![1.0, 2.0]);
}

/// Tests that assert on wall time, or that spin a core, take turns: on a 2-core machine a
/// spinning guest in one test would otherwise delay the epoch ticks another test measures.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
