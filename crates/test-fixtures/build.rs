//! Builds the guest fixtures (`guests/`) for wasm32-wasip2 once per build and writes their
//! paths into `$OUT_DIR/fixtures.rs`. The guests get their own target directory beside the
//! host's, so debug, test and bench builds of the host share one guest build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let guests = manifest_dir.join("guests");
    let workspace = manifest_dir.join("../..");
    for watched in [
        guests.clone(),
        workspace.join("handlers-sdk"),
        workspace.join("wit"),
    ] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }

    let target_dir = host_target_dir(&out_dir).join("wasm-guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&guests)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--workspace",
            "--quiet",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The host's flags are not the guest's.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env(
            "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
            "-C target-feature=+simd128",
        )
        .status()
        .expect("running cargo for the guest fixtures");
    assert!(
        status.success(),
        "building the guest fixtures failed; is the wasm32-wasip2 target installed? (scripts/setup.sh adds it)"
    );

    let release = target_dir.join("wasm32-wasip2/release");
    let mut consts = String::new();
    let mut all = String::from("pub const ALL: &[(&str, &str)] = &[\n");
    for name in fixture_names(&guests) {
        let file = release.join(format!("fixture_{}.wasm", name.replace('-', "_")));
        assert!(
            file.exists(),
            "fixture {name} was not built at {}",
            file.display()
        );
        let ident = name.replace('-', "_").to_uppercase();
        consts.push_str(&format!(
            "/// Path of the `{name}` guest fixture component.\npub const {ident}: &str = {:?};\n",
            file.display().to_string()
        ));
        all.push_str(&format!("    ({name:?}, {ident}),\n"));
    }
    all.push_str("];\n");
    std::fs::write(out_dir.join("fixtures.rs"), consts + &all).unwrap();
}

/// `target/` of the host build: OUT_DIR is `<target>/[<triple>/]<profile>/build/<pkg>/out`.
fn host_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"));
    let profile_dir = build
        .and_then(Path::parent)
        .expect("OUT_DIR under a build directory");
    profile_dir.parent().unwrap_or(profile_dir).to_path_buf()
}

fn fixture_names(guests: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(guests)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
