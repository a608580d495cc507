//! The real `ferroserve` binary builds archives (`ferroserve archive`) and inspects them
//! (`ferroserve archive inspect`); archives made by torch-model-archiver 0.12 load too.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ferroserve;
use ferroserve_archive::{Manifest, PreambleOnly, ReadLimits, read_archive};
use ferroserve_test_fixtures as fx;

fn venv_bin(tool: &str) -> PathBuf {
    let python = std::env::var("FERROSERVE_PYTHON")
        .unwrap_or_else(|_| "/root/.cache/ferroserve/venv/bin/python".into());
    Path::new(&python).with_file_name(tool)
}

/// A real TorchScript file, saved by torch.jit.save in the test venv.
fn torchscript(dir: &Path) -> PathBuf {
    let path = dir.join("model.pt");
    let script = format!(
        "import torch\ntorch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), {:?})\n",
        path.display().to_string()
    );
    let out = Command::new(venv_bin("python"))
        .args(["-c", &script])
        .output()
        .expect("the test venv's python (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The JSON between "manifest (...):" and "entries:" in `inspect` output.
fn printed_manifest(out: &str) -> Manifest {
    let start = out.find("manifest (MAR-INF/MANIFEST.json):\n").unwrap()
        + "manifest (MAR-INF/MANIFEST.json):\n".len();
    let end = out.find("\nentries:").unwrap();
    Manifest::parse(&out.as_bytes()[start..end]).unwrap()
}

#[test]
fn archive_then_read_gives_back_the_same_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = torchscript(d);
    std::fs::write(d.join("labels.txt"), "cat\ndog\n").unwrap();
    std::fs::write(d.join("vocab.txt"), "hello\n").unwrap();
    std::fs::write(d.join("config.yaml"), "batchSize: 4\nmaxBatchDelay: 20\nferroserve:\n  formatVersion: 1\n  device: cpu\n  inputs: [{name: input, dtype: float32, shape: [3]}]\n").unwrap();
    std::fs::create_dir(d.join("out")).unwrap();
    let extra = format!("{},{}", s(&d.join("labels.txt")), s(&d.join("vocab.txt")));
    let (config, out_dir, handler) = (d.join("config.yaml"), d.join("out"), d.join("handler.wasm"));
    std::fs::copy(fx::OK, &handler).unwrap();
    let args = [
        "archive",
        "--model-name",
        "mlp",
        "--version",
        "1.0",
        "--serialized-file",
        s(&model),
        "--handler",
        s(&handler),
        "--extra-files",
        &extra,
        "--config-file",
        s(&config),
        "--export-path",
        s(&out_dir),
    ];
    let (code, out) = ferroserve(&args);
    assert_eq!(code, 0, "{out}");
    let mar = d.join("out/mlp.mar");
    assert!(
        out.contains(&format!("ok   wrote {}", mar.display())),
        "{out}"
    );

    let info = read_archive(&mar, &ReadLimits::default(), &PreambleOnly).unwrap();
    let m = &info.manifest.model;
    assert_eq!(
        (m.model_name.as_str(), m.model_version.as_str()),
        ("mlp", "1.0")
    );
    assert_eq!(
        (m.serialized_file.as_str(), m.handler.as_str()),
        ("model.pt", "handler.wasm")
    );
    assert_eq!(m.config_file.as_deref(), Some("config.yaml"));
    assert_eq!(info.extra_files, vec!["labels.txt", "vocab.txt"]);
    assert_eq!(info.config.as_ref().unwrap().batch_size, Some(4));

    let (code, out) = ferroserve(&["archive", "inspect", s(&mar)]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(printed_manifest(&out), info.manifest);
    let model_sha = &info.entry("model.pt").unwrap().sha256;
    assert!(
        out.lines()
            .any(|l| l.contains(model_sha.as_str()) && l.ends_with("  model.pt")),
        "{out}"
    );
    assert!(
        out.contains("  ok   serialized file is TorchScript: model.pt"),
        "{out}"
    );
    assert!(out.contains("  ok   handler implements the handler world: handler.wasm (compiled and linked against ferroserve:handler (0.2.0 or 0.1.0))"), "{out}");

    // An existing archive is kept unless --force.
    let (code, out) = ferroserve(&args);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("already exists; pass --force to overwrite it"),
        "{out}"
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(ferroserve(&forced).0, 0);

    // no-archive: the same layout as a directory, the same manifest but for createdOn.
    let mut dir_args = args.to_vec();
    dir_args.extend(["--archive-format", "no-archive"]);
    assert_eq!(ferroserve(&dir_args).0, 0);
    let mut plain =
        Manifest::parse(&std::fs::read(d.join("out/mlp/MAR-INF/MANIFEST.json")).unwrap()).unwrap();
    plain.created_on = info.manifest.created_on.clone();
    assert_eq!(plain, info.manifest);
    assert_eq!(
        std::fs::read(d.join("out/mlp/labels.txt")).unwrap(),
        b"cat\ndog\n"
    );
}

#[test]
fn archive_refuses_a_handler_of_another_world_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = torchscript(dir.path());
    let (code, out) = ferroserve(&[
        "archive",
        "--model-name",
        "m",
        "--version",
        "1",
        "--serialized-file",
        s(&model),
        "--handler",
        fx::OTHER_WORLD,
        "--export-path",
        s(dir.path()),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("(HandlerWorldMismatch)"), "{out}");
    assert!(!dir.path().join("m.mar").exists());
}

/// A zip written with the zip crate: the manifest plus the given files.
fn zip_with(path: &Path, files: &[(&str, &[u8])]) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn inspect_reports_the_failing_check_and_the_ones_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::fs::read(torchscript(dir.path())).unwrap();
    let manifest = br#"{"runtime":"python","model":{"modelName":"m","modelVersion":"1","serializedFile":"model.pt","handler":"h.wasm"},"archiverVersion":"0.12.0"}"#;
    let other = fx::bytes(fx::OTHER_WORLD);
    let path = dir.path().join("other.mar");
    zip_with(
        &path,
        &[
            ("MAR-INF/MANIFEST.json", manifest),
            ("model.pt", &model),
            ("h.wasm", &other),
        ],
    );
    let (code, out) = ferroserve(&["archive", "inspect", s(&path)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("  ok   serialized file is TorchScript: model.pt"),
        "{out}"
    );
    assert!(
        out.contains(
            "  FAIL HandlerWorldMismatch: handler \"h.wasm\" was refused (HandlerWorldMismatch)"
        ),
        "{out}"
    );

    let path = dir.path().join("slip.mar");
    zip_with(
        &path,
        &[("MAR-INF/MANIFEST.json", manifest), ("../../evil.sh", b"x")],
    );
    let (code, out) = ferroserve(&["archive", "inspect", s(&path)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("  FAIL ArchiveUnsafePath: entry name \"../../evil.sh\" is not allowed: it has a `..` component"), "{out}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        3,
        "inspect wrote nothing"
    );
}

#[test]
fn an_archive_made_by_torch_model_archiver_loads() {
    let tool = venv_bin("torch-model-archiver");
    if !tool.exists() {
        eprintln!(
            "SKIPPED: {} is not installed (scripts/setup.sh installs it)",
            tool.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    torchscript(d);
    std::fs::copy(fx::OK, d.join("handler.wasm")).unwrap();
    let archiver = |d: &Path, extra: &[&str]| {
        Command::new(&tool)
            .current_dir(d)
            .args([
                "--model-name",
                "x",
                "--version",
                "1.0",
                "--serialized-file",
                "model.pt",
                "--handler",
                "handler.wasm",
                "--export-path",
                ".",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // torch-model-archiver 0.12 appends `.py` to a handler name without `.py` in it and
    // copies that file, so `handler.wasm.py` must exist beside `handler.wasm`.
    let first = archiver(d, &[]);
    assert!(
        !first.status.success()
            && String::from_utf8_lossy(&first.stderr).contains("handler.wasm.py")
    );
    std::fs::copy(fx::OK, d.join("handler.wasm.py")).unwrap();
    let out = archiver(d, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, text) = ferroserve(&["archive", "inspect", s(&d.join("x.mar"))]);
    assert_eq!(code, 0, "{text}");
    let m = printed_manifest(&text);
    assert_eq!(m.model.handler, "handler.wasm");
    assert_eq!(m.archiver_version, "0.12.0");
    assert!(
        text.contains("handler implements the handler world: handler.wasm.py"),
        "{text}"
    );

    // The same with --archive-format tgz: x.tar.gz, every file under x/, read the same.
    let tgz = archiver(d, &["--archive-format", "tgz"]);
    assert!(
        tgz.status.success(),
        "{}",
        String::from_utf8_lossy(&tgz.stderr)
    );
    let (code, tgz_text) = ferroserve(&["archive", "inspect", s(&d.join("x.tar.gz"))]);
    assert_eq!(code, 0, "{tgz_text}");
    assert!(
        tgz_text.contains("ok   tar.gz structure: 3 entries under x/"),
        "{tgz_text}"
    );
    assert_eq!(printed_manifest(&tgz_text).model, m.model);
    assert!(
        tgz_text.contains("handler implements the handler world: handler.wasm.py"),
        "{tgz_text}"
    );
}
