//! What a new user does, outside the repository, for Python and for JavaScript: `handler
//! new`, an edit, `handler build`, `handler test` against a real model, `archive` into a
//! folder that does not exist yet, upload to the real server, predict.

mod common;

use std::path::Path;

use common::scripted::run;
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
        _ => (
            "handler.js",
            "return { class: best, scores };",
            "return { class: best, label: ['cat', 'dog', 'bird'][best], scores };",
        ),
    }
}

fn the_loop(lang: &str) {
    let home = tempfile::tempdir().unwrap();
    let work = home.path();
    let name = format!("my-{lang}");
    let mlp = TestModels::get().model("mlp"); // [N, 4] f32 -> [N, 3]
    std::fs::copy(&mlp, work.join("model.pt")).unwrap();

    let out = run(work, &["handler", "new", "--lang", lang, &name]);
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

    let out = run(&project, &["handler", "build"]);
    let runtime = if lang == "python" {
        "python"
    } else {
        "javascript"
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
