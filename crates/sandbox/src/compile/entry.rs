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
/// (mode 0600) and written only once the compile has succeeded.
pub fn compile_handler_main(output: &Path) -> i32 {
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
