//! The language runtime a handler component carries, read from its bytes at load, and the
//! sandbox defaults that follow from it. A componentize-py component is CPython (~18 MB,
//! 14 core modules, a pre-initialised heap of 12 MiB); a componentize-js one is
//! SpiderMonkey (StarlingMonkey); anything else is compiled code (Rust through the SDK).
//!
//! This only picks defaults: an archive that names its own limits gets those, and every
//! value stays under the operator's and the tenant's ceilings (the core clamps). A tenant
//! who forges the marker gains a longer normal-priority slice per call, nothing more.

use std::time::Duration;

/// What a component's code runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Compiled to wasm directly (Rust, C, ...).
    Compiled,
    /// CPython, built with componentize-py.
    Python,
    /// SpiderMonkey (StarlingMonkey), built with componentize-js.
    JavaScript,
}

/// Byte strings only each toolchain's runtime carries: module names of their glue code.
const PYTHON_MARKER: &[u8] = b"componentize_py_runtime";
const JS_MARKER: &[u8] = b"StarlingMonkey";

impl Runtime {
    /// Detects the runtime from the component's bytes (a substring search: ~1 ms for
    /// 18 MB, against seconds to compile).
    pub fn detect(wasm: &[u8]) -> Runtime {
        if memchr::memmem::find(wasm, PYTHON_MARKER).is_some() {
            Runtime::Python
        } else if memchr::memmem::find(wasm, JS_MARKER).is_some() {
            Runtime::JavaScript
        } else {
            Runtime::Compiled
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Compiled => "compiled",
            Runtime::Python => "python",
            Runtime::JavaScript => "javascript",
        }
    }

    /// How long a call runs at normal CPU priority before it counts as long and its thread
    /// is demoted (executor.rs). Compiled handlers do one request's work in well under
    /// 10 ms; an interpreter doing the same work takes several times longer, and demoting
    /// every ordinary Python call would put it beside looping handlers.
    pub fn demote_after(self) -> Duration {
        match self {
            Runtime::Compiled => Duration::from_millis(10),
            Runtime::Python | Runtime::JavaScript => Duration::from_millis(40),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_marker_and_defaults_to_compiled() {
        assert_eq!(
            Runtime::detect(b"\0asm...componentize_py_runtime..."),
            Runtime::Python
        );
        assert_eq!(
            Runtime::detect(b"\0asm...StarlingMonkey..."),
            Runtime::JavaScript
        );
        assert_eq!(Runtime::detect(b"\0asm plain"), Runtime::Compiled);
        assert!(Runtime::Python.demote_after() > Runtime::Compiled.demote_after());
    }
}
