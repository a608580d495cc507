// Shared by this crate's build.rs and the build.rs of every binary crate that links
// ferroserve-torch (`include!`d from there; plain std, no dependencies).
//
// Why: `cargo:rustc-link-arg` from a library's build script reaches only that package's own
// targets (its tests, examples, benches), never its dependents. A binary elsewhere that links
// libtorch needs its own rpath, or it fails at start with "libtorch_cpu.so: cannot open
// shared object file". See crates/torch/src/lib.rs, "Linking".

/// Emits the link arguments that let a binary find libtorch with no environment:
/// an rpath to `lib_dir`, and `--no-as-needed -ltorch` so `libtorch.so` (and through it
/// `libtorch_cuda.so`) stays a dependency even though no symbol is used from it directly;
/// without that, CUDA is silently unavailable on a GPU machine.
#[allow(dead_code)]
fn emit_libtorch_link_args(lib_dir: &str) {
    println!("cargo::rustc-link-arg=-Wl,-rpath,{lib_dir}");
    println!("cargo::rustc-link-arg=-L{lib_dir}");
    println!("cargo::rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo::rustc-link-arg=-ltorch");
    println!("cargo::rustc-link-arg=-Wl,--as-needed");
}

/// For a binary crate with `ferroserve-torch` in its `[dependencies]` (not only
/// `[dev-dependencies]`: cargo gives `links` metadata to normal dependents only).
#[allow(dead_code)]
fn emit_libtorch_link_args_for_dependent() {
    let key = "DEP_FERROSERVE_TORCH_LIBTORCH_LIB";
    let Ok(dir) = std::env::var(key) else {
        panic!(
            "{key} is not set: add ferroserve-torch to this crate's [dependencies] \
             (cargo passes `links` metadata to normal dependents only)"
        );
    };
    emit_libtorch_link_args(&dir);
}
