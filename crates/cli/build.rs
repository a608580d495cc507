//! The `ferroserve` binary links libtorch (through ferroserve-torch): give it an rpath so it
//! starts with no LD_LIBRARY_PATH. See crates/torch/build/libtorch_link.rs.

include!("../torch/build/libtorch_link.rs");

fn main() {
    println!("cargo::rerun-if-changed=../torch/build/libtorch_link.rs");
    emit_libtorch_link_args_for_dependent();
}
