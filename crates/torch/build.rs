//! Gives every binary of this package (unit and integration tests, examples, benches) an
//! rpath to libtorch, and republishes the directory for dependents' build scripts
//! (`DEP_FERROSERVE_TORCH_LIBTORCH_LIB`): see `build/libtorch_link.rs`.

include!("build/libtorch_link.rs");

fn main() {
    println!("cargo::rerun-if-changed=build/libtorch_link.rs");
    // torch-sys (`links = "tch"`) prints `cargo:libtorch_lib=<dir>`.
    let key = "DEP_TCH_LIBTORCH_LIB";
    let dir = std::env::var(key).unwrap_or_else(|_| {
        panic!(
            "{key} is not set: torch-sys must be a direct [dependencies] entry of ferroserve-torch"
        )
    });
    println!("cargo::rerun-if-env-changed={key}");
    emit_libtorch_link_args(&dir);
    println!("cargo::metadata=libtorch_lib={dir}");
}
