//! Guest fixtures for tests and benchmarks: small wasm32-wasip2 handler components, one
//! well-behaved (`OK`) and several hostile ones, built once by this crate's build script
//! (the pattern of wasmtime's `test-programs` artifacts). Each constant is the absolute path
//! of a built `.wasm` component. The guests' source is in `guests/`; see its `src/lib.rs`
//! files for what each one does. Also a recording tracing subscriber for tests that follow a
//! request's span across threads (`spans`). Not published: a dev-dependency only.

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

pub mod generated;
pub mod images;
pub mod spans;

/// Read a fixture's component bytes.
pub fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading fixture {path}: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_fixture_is_a_component() {
        assert!(super::ALL.len() >= 10, "fixtures: {:?}", super::ALL);
        for (name, path) in super::ALL {
            let bytes = super::bytes(path);
            // Component binaries use layer 1 in the preamble: \0asm, version 0x0d, layer 1.
            assert_eq!(&bytes[0..4], b"\0asm", "{name}");
            assert_eq!(&bytes[6..8], &[1, 0], "{name} is not a component");
        }
    }
}
