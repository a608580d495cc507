//! Compiling in a child process, against real limits. This test binary is its own
//! compiler (`harness = false`): started as `compile-handler --output PATH` it is the
//! child, running the sandbox's [`compile_handler_main`] as the server's binary does;
//! otherwise it runs the tests below one after another (each forks compilers that take
//! the machine's cores; running them at once would blur the CPU limits).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use ferroserve_sandbox::{
    CompileLimit, CompileLimits, CompilerCommand, Sandbox, SandboxConfig, SandboxError,
    compile_handler_main,
};
use ferroserve_test_fixtures::{self as fx, generated};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("compile-handler") {
        assert_eq!(args.get(2).map(String::as_str), Some("--output"));
        let value =
            |i: usize, flag: &str| -> u64 { args[i].strip_prefix(flag).unwrap().parse().unwrap() };
        let (cpu, memory) = (value(4, "--cpu-seconds="), value(5, "--memory-bytes="));
        std::process::exit(compile_handler_main(Path::new(&args[3]), cpu, memory));
    }
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-'));
    let tests: &[(&str, fn())] = &[
        ("a_child_compiled_component_loads_and_runs", loads_and_runs),
        ("the_cpu_limit_stops_a_slow_compile", cpu_limit),
        ("the_memory_limit_stops_a_hungry_compile", memory_limit),
        ("the_wall_clock_stops_a_stalled_compile", wall_clock),
        ("an_invalid_component_is_a_compile_error", invalid),
    ];
    let mut ran = 0;
    for (name, test) in tests {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let started = Instant::now();
        test();
        ran += 1;
        println!(
            "test {name} ... ok ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    println!("test result: ok. {ran} passed");
}

/// A sandbox whose compiler is this binary, under `limits`, caching in `cache`.
fn with_child(cache: Option<&Path>, limits: CompileLimits) -> Sandbox {
    Sandbox::new(SandboxConfig {
        compile: limits,
        compiler: Some(CompilerCommand {
            program: std::env::current_exe().unwrap(),
            args: vec!["compile-handler".into()],
        }),
        ..config(cache)
    })
    .expect("sandbox")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// Loads `wasm`, expecting `limit` to refuse it, and checks nothing was left behind.
fn refused(limits: CompileLimits, wasm: &[u8], limit: CompileLimit) -> SandboxError {
    let cache = tempfile::tempdir().unwrap();
    let sandbox = with_child(Some(cache.path()), limits);
    let started = Instant::now();
    let e = match sandbox.load("hostile", wasm, None, common::limits()) {
        Err(e) => e,
        Ok(_) => panic!("{limit:?}: the component loaded"),
    };
    let took = started.elapsed();
    match &e {
        SandboxError::CompileLimit { limit: l, .. } if *l == limit => {}
        other => panic!("expected {limit:?}, got {other:?}: {other}"),
    }
    assert_eq!(e.kind(), "HandlerCompileLimitExceeded");
    assert!(e.to_string().contains(limit.setting()), "{e}");
    assert_eq!(files_in(cache.path()), Vec::<PathBuf>::new(), "left behind");
    println!("  {limit:?} refused after {:.1} s: {e}", took.as_secs_f64());
    e
}

/// Static checks wide open: these components are meant to reach the compiler.
fn open(cpu_seconds: u64, memory_bytes: u64, timeout: Duration) -> CompileLimits {
    CompileLimits {
        max_component_bytes: 1 << 30,
        max_functions: 10_000_000,
        max_function_bytes: 1 << 30,
        cpu_seconds,
        memory_bytes,
        timeout,
        concurrency: 1,
    }
}

fn loads_and_runs() {
    // Into the cache, and without one (a temporary file, gone once loaded).
    let cache = tempfile::tempdir().unwrap();
    for dir in [Some(cache.path()), None] {
        let sandbox = with_child(dir, CompileLimits::default());
        let handler = load(&sandbox, fx::OK, None, limits());
        let (prepared, _) = handler.preprocess_blocking(body("[1.0, 2.0]"));
        assert_eq!(
            prepared.unwrap().inputs[0].to_f32().unwrap(),
            vec![1.0, 2.0]
        );
        if dir.is_some() {
            let files = files_in(cache.path());
            assert_eq!(files.len(), 1, "{files:?}");
            assert!(files[0].extension().is_some_and(|e| e == "cwasm"));
            drop(handler);
            assert!(
                files_in(cache.path()).is_empty(),
                "the entry outlived its user"
            );
        }
    }
}

// Sizes measured on 2 cores (debug test build; dependencies are optimised): 4,000
// functions take ~1.5 s of CPU to compile; 10,000 take ~3.8 s and 125 MB at peak.
fn cpu_limit() {
    let wasm = generated::slow_to_compile(10_000, 400);
    refused(
        open(1, 4 << 30, Duration::from_secs(60)),
        &wasm,
        CompileLimit::Cpu,
    );
}

fn memory_limit() {
    let wasm = generated::slow_to_compile(10_000, 400);
    refused(
        open(60, 96 << 20, Duration::from_secs(60)),
        &wasm,
        CompileLimit::Memory,
    );
}

fn wall_clock() {
    let wasm = generated::slow_to_compile(4000, 400);
    let e = refused(
        open(60, 4 << 30, Duration::from_millis(300)),
        &wasm,
        CompileLimit::WallClock,
    );
    assert!(e.to_string().contains("compile_timeout_s"));
}

fn invalid() {
    let cache = tempfile::tempdir().unwrap();
    let sandbox = with_child(Some(cache.path()), CompileLimits::default());
    let e = match sandbox.load("bad", &generated::invalid_function(), None, limits()) {
        Err(e) => e,
        Ok(_) => panic!("an invalid component loaded"),
    };
    assert_eq!(e.kind(), "HandlerCompileError", "{e}");
    assert!(files_in(cache.path()).is_empty());
}
