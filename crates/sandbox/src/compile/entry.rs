//! The compiler child's side (`ferroserve compile-handler`): the component on stdin, the
//! compiled form into a new file, nothing else. Its engine is built by the same
//! `engine::config` as the server's, without the pooling allocator (which affects no
//! compiled code), so the server can load what it writes: wasmtime checks the engine
//! compatibility header on load and refuses a mismatch rather than running it.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use wasmtime::Engine;

/// Exit status: compiled and written.
pub(crate) const EXIT_OK: i32 = 0;
/// Exit status: the component does not compile (the reason is on stderr).
pub(crate) const EXIT_INVALID: i32 = 3;
/// Exit status: the child could not read its input, build its engine or write its output.
pub(crate) const EXIT_FAILED: i32 = 4;

/// The child's whole life; returns its exit status. `output` must not exist: it is created
/// (mode 0600) and written only once the compile has succeeded. Before it reads a byte of
/// the component, the child lowers its own `RLIMIT_DATA` to what it uses now plus
/// `memory_bytes`, and its `RLIMIT_CPU` to what it has used plus `cpu_seconds`: the limits
/// are on the compile, not on starting the server's binary, whose libraries alone (libtorch
/// and CUDA's data segments) take more than 512 MiB of data before `main`.
pub fn compile_handler_main(output: &Path, cpu_seconds: u64, memory_bytes: u64) -> i32 {
    if let Err(e) = limit_self(cpu_seconds, memory_bytes) {
        eprintln!("setting the compile limits: {e}");
        return EXIT_FAILED;
    }
    let mut wasm = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut wasm) {
        eprintln!("reading the component from stdin: {e}");
        return EXIT_FAILED;
    }
    let engine = match Engine::new(&crate::engine::config(None)) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("building the compile engine: {e:#}");
            return EXIT_FAILED;
        }
    };
    let compiled = match engine.precompile_component(&wasm) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{e:#}");
            return EXIT_INVALID;
        }
    };
    drop(wasm);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
        .and_then(|mut f| f.write_all(&compiled));
    match written {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("writing {}: {e}", output.display());
            EXIT_FAILED
        }
    }
}

/// This process's data size now (`VmData` in /proc/self/status), in bytes.
fn data_bytes() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmData:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib << 10)
        .ok_or_else(|| std::io::Error::other("no VmData in /proc/self/status"))
}

fn limit_self(cpu_seconds: u64, memory_bytes: u64) -> std::io::Result<()> {
    let set = |resource, soft: u64, hard: u64| {
        let l = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit on this process with a valid struct; lowering needs no privilege.
        match unsafe { libc::setrlimit(resource, &l) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    let data = data_bytes()?.saturating_add(memory_bytes);
    set(libc::RLIMIT_DATA, data, data)?;
    // SAFETY: getrusage fills a plain struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    // Whole seconds, rounded up: the limit is on the compile, not on starting.
    let micros = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) as u64 * 1_000_000
        + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) as u64;
    let used = micros.div_ceil(1_000_000);
    // SIGXCPU at the soft limit; SIGKILL a second later if it is caught.
    set(libc::RLIMIT_CPU, used + cpu_seconds, used + cpu_seconds + 1)
}
