//! Valid archives: what the reader records, and extraction into a fresh directory.

mod common;

use common::*;
use ferroserve_archive::{PreambleOnly, ReadLimits, extract_extra_files, read_archive};
use sha2::{Digest, Sha256};

fn write_valid(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("mlp.mar");
    std::fs::write(&path, zip_of(&valid_files())).unwrap();
    path
}

#[test]
fn a_valid_archive_reads_with_hashes_config_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let info = read_archive(
        &write_valid(dir.path()),
        &ReadLimits::default(),
        &PreambleOnly,
    )
    .unwrap();
    assert_eq!(info.manifest.model.model_name, "mlp");
    assert_eq!(
        info.manifest.model.config_file.as_deref(),
        Some("model-config.yaml")
    );
    assert_eq!(info.entries.len(), 6);
    for (name, data) in valid_files() {
        let e = info.entry(&name).unwrap();
        assert_eq!(e.sha256, hex::encode(Sha256::digest(&data)), "{name}");
        assert_eq!(e.size, data.len() as u64);
    }
    let config = info.config.unwrap();
    assert_eq!(config.batch_size, Some(4));
    assert_eq!(config.ferroserve.unwrap().device.as_deref(), Some("cpu"));
    assert_eq!(info.extra_files, vec!["labels.txt", "vocab/en.txt"]);
    assert_eq!(info.handler_wasm, ok_handler());
    let names: Vec<_> = info.checks.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 9, "{names:?}");
    assert_eq!(names[0], "archive size and entry count");
    assert_eq!(names[8], "handler implements the handler world");
}

#[test]
fn extraction_goes_only_into_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_valid(dir.path());
    let info = read_archive(&path, &ReadLimits::default(), &PreambleOnly).unwrap();
    let dest = dir.path().join("files");
    extract_extra_files(&path, &info, &dest, &ReadLimits::default()).unwrap();
    assert_eq!(
        std::fs::read(dest.join("labels.txt")).unwrap(),
        b"cat\ndog\n"
    );
    assert_eq!(
        std::fs::read(dest.join("vocab/en.txt")).unwrap(),
        b"hello\n"
    );
    let mut top: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    top.sort();
    assert_eq!(top, vec!["files", "mlp.mar"]);
    let mut inside: Vec<_> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    inside.sort();
    assert_eq!(inside, vec!["labels.txt", "vocab"]);
    // An existing directory (or a planted symlink) is never written into.
    let e = extract_extra_files(&path, &info, &dest, &ReadLimits::default()).unwrap_err();
    assert_eq!(e.kind(), "ArchiveOutput");
    assert!(e.to_string().contains("must not exist yet"), "{e}");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
    assert_eq!(
        extract_extra_files(&path, &info, &link, &ReadLimits::default())
            .unwrap_err()
            .kind(),
        "ArchiveOutput"
    );
    assert!(!dir.path().join("elsewhere").exists());
}

#[test]
fn extraction_refuses_an_archive_changed_since_validation() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_valid(dir.path());
    let info = read_archive(&path, &ReadLimits::default(), &PreambleOnly).unwrap();
    std::fs::write(&path, zip_of(&with_file("labels.txt", Some(b"cow\ndog\n")))).unwrap();
    let dest = dir.path().join("files");
    let e = extract_extra_files(&path, &info, &dest, &ReadLimits::default()).unwrap_err();
    assert!(
        e.to_string().contains("changed since it was validated"),
        "{e}"
    );
    assert!(!dest.exists(), "a failed extraction leaves nothing behind");
}

#[test]
fn a_torch_model_archiver_handler_name_resolves_to_its_py_copy() {
    // torch-model-archiver copies `--handler handler.wasm` as `handler.wasm.py`.
    let mut files = with_file("handler.wasm", None);
    files.push(("handler.wasm.py".into(), ok_handler()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mar");
    std::fs::write(&path, zip_of(&files)).unwrap();
    let info = read_archive(&path, &ReadLimits::default(), &PreambleOnly).unwrap();
    assert_eq!(info.manifest.model.handler, "handler.wasm");
    assert_eq!(info.handler_entry, "handler.wasm.py");
    assert!(!info.extra_files.contains(&"handler.wasm.py".to_string()));
}
