//! Python and JavaScript handlers: compile time at registration (cold, then from the warm
//! compile cache), component size, and fresh instance + trivial call, beside the Rust
//! `noop`/`ok` fixtures. The components are built by `ferroserve handler build`, so this
//! bench takes their paths from the environment (benches/scripted.sh sets them):
//!
//! `FERROSERVE_BENCH_PYTHON=… FERROSERVE_BENCH_JS=… FERROSERVE_BENCH_JS_FILES=… cargo bench
//! --workspace --all-features --locked --bench scripted`
//!
//! The trivial call is the well-behaved path of `crates/test-fixtures/scripted/hostile.*`
//! (and `files.js`, the JavaScript handler that can read its archive's files): a one-number
//! JSON body parsed into a one-element tensor.

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use ferroserve_sandbox::{HandlerRequest, Limits, Sandbox, SandboxConfig};

fn request() -> HandlerRequest {
    HandlerRequest {
        body: b"[1]".to_vec().into(),
        content_type: Some("application/json".into()),
        ..HandlerRequest::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut components = vec![(
        "rust-ok".to_string(),
        ferroserve_test_fixtures::OK.to_string(),
    )];
    for (lang, var) in [
        ("python", "FERROSERVE_BENCH_PYTHON"),
        ("js", "FERROSERVE_BENCH_JS"),
        // The same trivial call through a JS handler that imports the SDK's file helpers,
        // so it is built against the world with wasi:filesystem (crates/cli handler build).
        ("js-files-world", "FERROSERVE_BENCH_JS_FILES"),
    ] {
        match std::env::var(var) {
            Ok(path) => components.push((lang.to_string(), path)),
            Err(_) => eprintln!("{var} is not set: skipping {lang} (see benches/scripted.sh)"),
        }
    }
    let cache = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("scripted_fresh_instance_call");
    for (name, path) in &components {
        let wasm = std::fs::read(path).unwrap();
        let limits = Limits {
            memory_bytes: 256 << 20,
            ..Limits::default()
        };
        // FERROSERVE_BENCH_KEEP_RESIDENT_MIB: try another `keep_resident_bytes`.
        let keep = std::env::var("FERROSERVE_BENCH_KEEP_RESIDENT_MIB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(SandboxConfig::default().keep_resident_bytes, |m| m << 20);
        let config = || SandboxConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            keep_resident_bytes: keep,
            ..SandboxConfig::default()
        };
        let started = Instant::now();
        let cold = Sandbox::new(config()).unwrap();
        cold.load(name, &wasm, None, limits.clone()).unwrap();
        let compile = started.elapsed();
        let sandbox = Sandbox::new(config()).unwrap();
        let started = Instant::now();
        let handler = sandbox.load(name, &wasm, None, limits).unwrap();
        let warm = started.elapsed();
        eprintln!(
            "RESULT {name}: {} bytes, runtime {}, compile at registration {compile:.2?}, from the warm cache {warm:.2?}",
            wasm.len(),
            handler.runtime().name()
        );
        group.bench_function(name.as_str(), |b| {
            b.iter(|| handler.preprocess_blocking(request()).0.unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
