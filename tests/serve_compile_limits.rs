//! Hostile handler components against the real binary's compile limits: 900,000 tiny
//! functions and one 7 MB function are refused by the static checks, one that passes them
//! by the compiler child's CPU limit (lowered here); each is a 400 naming the limit and
//! its setting, the server's PID and RSS stay where they were, and a well-behaved model
//! keeps answering. A model's compile-cache file goes when the model is unregistered.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::archives;
use common::server::{Server, send};
use ferroserve_test_fixtures::generated;

/// Resident set size in MiB, from `/proc/PID/status`.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib >> 10
}

/// `mlp.mar` from the test store with its handler replaced by `wasm`, renamed `name`.
/// Entries are stored uncompressed: a generated component compresses far past the
/// archive reader's ratio limit, which would refuse it before the compile limits are
/// reached.
fn archive_with_handler(name: &str, wasm: &[u8]) -> Vec<u8> {
    let mlp = std::fs::read(archives::store().join("mlp.mar")).unwrap();
    let mut input = zip::ZipArchive::new(std::io::Cursor::new(mlp)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    for i in 0..input.len() {
        let mut entry = input.by_index(i).unwrap();
        let entry_name = entry.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if entry_name.ends_with(".wasm") {
            bytes = wasm.to_vec();
        } else if entry_name == "MAR-INF/MANIFEST.json" {
            let text = String::from_utf8(bytes).unwrap();
            bytes = text.replace("\"mlp\"", &format!("\"{name}\"")).into_bytes();
        }
        out.start_file(entry_name, stored).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn cache_entries(state: &Path) -> Vec<String> {
    std::fs::read_dir(state.join("wasm-cache"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn hostile_components_are_refused_naming_the_limit_and_cost_the_server_nothing() {
    // A CPU limit low enough for the generated slow component, high enough for `ok`.
    let (state, mut server) = Server::with_store("", &["--compile-cpu-s", "2"]);
    let pid = server.pid();
    let m = server.management.clone();
    let upload = |bytes: &[u8]| send("POST", &format!("{m}/models"), &[], bytes);
    let mlp = std::fs::read(archives::store().join("mlp.mar")).unwrap();
    let r = upload(&mlp);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.predict_mlp().status, 200);
    assert_eq!(cache_entries(state.path()).len(), 1, "one compiled handler");
    let before = rss_mib(pid);

    let attacks: [(&str, Vec<u8>, &str, &str); 3] = [
        (
            "many",
            generated::many_functions(900_000),
            "compile_max_functions",
            "900000 functions",
        ),
        (
            "huge",
            generated::one_function_of(7 << 20),
            "compile_max_function_kib",
            "7 MiB",
        ),
        (
            "slow",
            // ~4.5 s of CPU to compile, 48 MB: passes every static check.
            generated::slow_to_compile(12_000, 400),
            "compile_cpu_s",
            "2 s of CPU",
        ),
    ];
    for (name, wasm, setting, says) in &attacks {
        let started = Instant::now();
        let r = upload(&archive_with_handler(name, wasm));
        let took = started.elapsed();
        let message = r.assert_error(400, "HandlerCompileLimitExceeded");
        assert!(message.contains(setting), "{name}: {message}");
        assert!(message.contains(says), "{name}: {message}");
        assert!(server.is_running(), "{name}: the server died");
        assert_eq!(server.pid(), pid);
        assert_eq!(server.predict_mlp().status, 200, "{name}: mlp after it");
        let left = cache_entries(state.path());
        assert_eq!(left.len(), 1, "{name}: left in the cache: {left:?}");
        println!("{name}: refused in {:.1} s: {message}", took.as_secs_f64());
    }
    let after = rss_mib(pid);
    println!("RSS {before} MiB before the attacks, {after} MiB after");
    assert!(
        after <= before + 100,
        "the refused compiles grew the server from {before} to {after} MiB"
    );

    // Unregistered, the model's compiled handler leaves the cache.
    let r = send("DELETE", &format!("{m}/models/mlp"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let until = Instant::now() + Duration::from_secs(10);
    while !cache_entries(state.path()).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(cache_entries(state.path()), Vec::<String>::new());
    // And it compiles again when registered again.
    assert_eq!(upload(&mlp).status, 200);
    assert_eq!(server.predict_mlp().status, 200);
    assert_eq!(cache_entries(state.path()).len(), 1);
}
