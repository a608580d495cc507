//! What a new user does, outside the repository, for Python, JavaScript and Rust: `handler
//! new`, an edit, `handler build`, `handler test` against a real model, `archive` into a
//! folder that does not exist yet, upload to the real server, predict. The Rust handler
//! depends on the SDK as `cargo package` ships it (verified, then unpacked outside the
//! repository), so the crate is usable without a checkout.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::scripted::command;
use common::server::{Server, post_json, send};
use ferroserve_torch::test_models::TestModels;

/// The template's postprocess line in each language, and the edit that names the class.
fn edit(lang: &str) -> (&'static str, &'static str, &'static str) {
    match lang {
        "python" => (
            "handler.py",
            r#"return {"class": best, "scores": scores}"#,
            r#"return {"class": best, "label": ["cat", "dog", "bird"][best], "scores": scores}"#,
        ),
        "js" => (
            "handler.js",
            "return { class: best, scores };",
            "return { class: best, label: ['cat', 'dog', 'bird'][best], scores };",
        ),
        _ => (
            "src/lib.rs",
            r#"json!({ "class": best, "scores": scores })"#,
            r#"json!({ "class": best, "label": (["cat", "dog", "bird"][best]), "scores": scores })"#,
        ),
    }
}

/// Runs the binary with `args` in `cwd` and `env` added to what `command` passes on;
/// panics with its output unless it exits 0.
fn run(cwd: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> String {
    let mut c = command(cwd);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ferroserve {args:?} in {}:\n{text}",
        cwd.display()
    );
    text
}

/// `cargo package -p ferroserve-handler` (verified: the packaged crate builds on its own,
/// every feature on),
/// the `.crate` unpacked under `into`; returns the unpacked crate's folder.
fn packaged_rust_sdk(into: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifest = std::fs::read_to_string(root.join("handlers-sdk/Cargo.toml")).unwrap();
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"'))
        .unwrap();
    // A target folder of its own (kept between runs, so the verify build is incremental),
    // so this cargo never waits on the lock of the build that runs the tests. Offline: the
    // build of the workspace has fetched every crate the package needs (its dev-dependencies
    // included), and the check must not depend on the network.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-package");
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "package",
            "-p",
            "ferroserve-handler",
            "--locked",
            "--offline",
            // The verify build compiles the `image` feature too.
            "--all-features",
            // The working tree as it is, committed or not.
            "--allow-dirty",
        ])
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo package failed:\n{log}");
    assert!(log.contains("Verifying ferroserve-handler"), "{log}");
    let crate_file = target.join(format!("package/ferroserve-handler-{version}.crate"));
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&crate_file)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success(), "unpacking {}", crate_file.display());
    let sdk = into.join(format!("ferroserve-handler-{version}"));
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "wit/handler-0.2.0.wit",
        "src/lib.rs",
    ] {
        assert!(sdk.join(f).exists(), "the package lacks {f}");
    }
    sdk
}

fn the_loop(lang: &str) {
    let home = tempfile::tempdir().unwrap();
    let work = home.path();
    let name = format!("my-{lang}");
    let mlp = TestModels::get().model("mlp"); // [N, 4] f32 -> [N, 3]
    std::fs::copy(&mlp, work.join("model.pt")).unwrap();

    let mut new = vec!["handler", "new", "--lang", lang, &name];
    // Rust: the packaged SDK and, with the package's lock, no network. cargo builds in the
    // guest fixtures' folder with their flags (crates/test-fixtures/build.rs; same versions,
    // same profile as the template's), so the project is new each time but its
    // dependencies (wit-bindgen, serde) are already built for wasm32-wasip2.
    let sdk = (lang == "rust").then(|| packaged_rust_sdk(work));
    let cargo_target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("wasm-guests");
    let mut env: Vec<(&str, &OsStr)> = Vec::new();
    if let Some(sdk) = &sdk {
        new.extend(["--rust-sdk", sdk.to_str().unwrap()]);
        env.push(("CARGO_TARGET_DIR", cargo_target.as_os_str()));
        env.push((
            "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
            OsStr::new("-C target-feature=+simd128"),
        ));
        env.push(("CARGO_NET_OFFLINE", OsStr::new("true")));
    }
    let out = run(work, &new, &[]);
    assert!(out.contains(&format!("made {name}")), "{out}");
    let project = work.join(&name);
    for f in [
        "ferroserve-handler.toml",
        "README.md",
        "sample.json",
        "model-config.yaml",
        "build.sh",
    ] {
        assert!(project.join(f).exists(), "{f} missing");
    }
    let (file, from, to) = edit(lang);
    let source = std::fs::read_to_string(project.join(file)).unwrap();
    assert!(source.contains(from), "the template changed: {source}");
    std::fs::write(project.join(file), source.replace(from, to)).unwrap();

    if let Some(sdk) = &sdk {
        // Versions as the SDK was verified with (the package's lock), not the newest.
        std::fs::copy(sdk.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    }
    let out = run(&project, &["handler", "build"], &env);
    let runtime = match lang {
        "python" => "python",
        "js" => "javascript",
        _ => "compiled",
    };
    assert!(
        out.contains(&format!("{runtime} runtime, ferroserve:handler@0.2.0")),
        "{out}"
    );
    let wasm = project.join(format!("build/{name}.wasm"));

    let out = run(
        &project,
        &[
            "handler",
            "test",
            "--model",
            "../model.pt",
            "--input",
            "sample.json",
        ],
        &[],
    );
    assert!(
        out.contains(r#"in  "input": f32 [4] = [0.5000, -1.0000, 2.0000, 0.2500]"#),
        "{out}"
    );
    assert!(out.contains(r#"out "output": f32 [3]"#), "{out}");
    assert!(out.contains("postprocess ok"), "{out}");
    let answer: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let label = answer["label"]
        .as_str()
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();

    let export = work.join("out/archives"); // does not exist yet
    run(
        work,
        &[
            "archive",
            "--model-name",
            &name,
            "--version",
            "1.0",
            "--serialized-file",
            "model.pt",
            "--handler",
            wasm.to_str().unwrap(),
            "--config-file",
            &format!("{name}/model-config.yaml"),
            "--export-path",
            export.to_str().unwrap(),
        ],
        &[],
    );
    let mar = export.join(format!("{name}.mar"));
    assert!(mar.exists());

    let state = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let server = Server::start(
        state.path(),
        &["--model-store", store.path().to_str().unwrap()],
    );
    let reply = send(
        "POST",
        &format!("{}/models?model_name={name}", server.management),
        &[("content-type", "application/octet-stream")],
        &std::fs::read(&mar).unwrap(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sample = std::fs::read_to_string(project.join("sample.json")).unwrap();
    let reply = post_json(&format!("{}/predictions/{name}", server.inference), &sample);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["label"],
        label.as_str(),
        "served = tested: {}",
        reply.text()
    );
    let bad = post_json(
        &format!("{}/predictions/{name}", server.inference),
        "[1, 2]",
    );
    let msg = bad.assert_error(400, "HandlerBadInput");
    assert!(msg.contains("send 4 numbers"), "{msg}");
    assert!(!Path::new(&project).starts_with(env!("CARGO_MANIFEST_DIR")));
}

#[test]
fn a_python_handler_from_new_to_predict() {
    the_loop("python");
}

#[test]
fn a_javascript_handler_from_new_to_predict() {
    the_loop("js");
}

#[test]
fn a_rust_handler_on_the_packaged_sdk_from_new_to_predict() {
    the_loop("rust");
}
