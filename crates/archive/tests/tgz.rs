//! `.tar.gz` archives (`torch-model-archiver --archive-format tgz`): read into the same
//! `ArchiveInfo` as the zip of the same files, extracted the same way, and every hostile
//! case refused with its own error, writing nothing.

mod common;

use std::io::Cursor;

use common::rawtar::{TarEntry, archiver_entries, tgz, tgz_corpus, valid_tgz_with};
use common::*;
use ferroserve_archive::{
    ArchiveError, Container, PreambleOnly, ReadLimits, extract_extra_files, extract_model_file,
    read_archive, read_archive_from,
};

fn read(bytes: &[u8]) -> Result<ferroserve_archive::ArchiveInfo, ArchiveError> {
    read_archive_from(Cursor::new(bytes), &ReadLimits::default(), &PreambleOnly)
}

#[test]
fn every_hostile_tgz_gets_its_specific_error_and_writes_nothing() {
    let cases = tgz_corpus();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    assert_each_refused(cases);
}

#[test]
fn the_archivers_layout_reads_as_the_zip_of_the_same_files() {
    let zip = read(&zip_of(&valid_files())).unwrap();
    let tgz = read(&valid_tgz_with(&[])).unwrap();
    assert_eq!(zip.container, Container::Zip);
    assert_eq!(
        tgz.container,
        Container::TarGz {
            root: Some("mlp/".into())
        }
    );
    assert_eq!(tgz.manifest, zip.manifest);
    let key = |i: &ferroserve_archive::ArchiveInfo| {
        let mut v: Vec<(String, u64, String)> = i
            .entries
            .iter()
            .map(|e| (e.name.clone(), e.size, e.sha256.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&tgz), key(&zip));
    assert_eq!(tgz.extra_files, zip.extra_files);
    assert_eq!(tgz.handler_wasm, zip.handler_wasm);
    assert_eq!(tgz.config.unwrap().batch_size, Some(4));
    let names: Vec<_> = tgz.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names[..3],
        [
            "archive size",
            "tar.gz structure",
            "entry names, types and declared sizes"
        ]
    );
    assert_eq!(tgz.checks[1].detail, "6 entries under mlp/ (limit 10000)");
    assert_eq!(names.len(), 9, "{names:?}");
}

#[test]
fn a_tar_of_the_folder_itself_reads_too() {
    // `tar czf x.tar.gz -C dir .`: `./` names and directory entries, the manifest at the root.
    let mut entries = vec![
        TarEntry::dir("./"),
        TarEntry::dir("./MAR-INF"),
        TarEntry::dir("./vocab"),
    ];
    entries.extend(
        valid_files()
            .into_iter()
            .map(|(n, d)| TarEntry::file(&format!("./{n}"), &d)),
    );
    let info = read(&tgz(&entries)).unwrap();
    assert_eq!(info.container, Container::TarGz { root: None });
    let mut names: Vec<&str> = info.entries.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "MAR-INF/",
            "MAR-INF/MANIFEST.json",
            "handler.wasm",
            "labels.txt",
            "mlp.pt",
            "model-config.yaml",
            "vocab/",
            "vocab/en.txt"
        ]
    );
    assert_eq!(info.extra_files, ["labels.txt", "vocab/en.txt"]);
}

#[test]
fn long_names_from_pax_and_gnu_headers_are_used() {
    let deep = format!("mlp/{}/file.txt", "d".repeat(120));
    let gnu = format!("mlp/{}/other.txt", "e".repeat(120));
    let info = read(&valid_tgz_with(&[
        TarEntry::pax(&[("path", &deep), ("mtime", "1.5")]),
        TarEntry::file("mlp/short-pax-name", b"pax"),
        TarEntry::long_name(&gnu),
        TarEntry::file("mlp/short-gnu-name", b"gnu"),
    ]))
    .unwrap();
    let deep = &deep["mlp/".len()..];
    let gnu = &gnu["mlp/".len()..];
    assert_eq!(info.entry(deep).unwrap().size, 3);
    assert_eq!(info.entry(gnu).unwrap().size, 3);
    assert!(info.entry("short-pax-name").is_none());
}

#[test]
fn torch_model_archivers_py_copy_of_the_handler_is_found() {
    let mut files = with_file("handler.wasm", None);
    files.push(("handler.wasm.py".into(), ok_handler()));
    let info = read(&tgz(&archiver_entries("x", &files))).unwrap();
    assert_eq!(info.handler_entry, "handler.wasm.py");
    assert_eq!(
        info.container,
        Container::TarGz {
            root: Some("x/".into())
        }
    );
}

#[test]
fn extraction_streams_the_tgz_and_checks_what_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mlp.tar.gz");
    std::fs::write(&path, valid_tgz_with(&[])).unwrap();
    let limits = ReadLimits::default();
    let info = read_archive(&path, &limits, &PreambleOnly).unwrap();
    let dest = dir.path().join("files");
    extract_extra_files(&path, &info, &dest, &limits).unwrap();
    assert_eq!(
        std::fs::read(dest.join("labels.txt")).unwrap(),
        b"cat\ndog\n"
    );
    assert_eq!(
        std::fs::read(dest.join("vocab/en.txt")).unwrap(),
        b"hello\n"
    );
    let model = dir.path().join("model.pt");
    extract_model_file(&path, &info, &model, &limits).unwrap();
    assert_eq!(std::fs::read(&model).unwrap(), fake_torchscript(true));

    // Changed since validation: refused, and nothing is left behind.
    let mut files = with_file("labels.txt", Some(b"cow\ndog\n"));
    files.sort_by_key(|(n, _)| n == MANIFEST);
    std::fs::write(&path, tgz(&archiver_entries("mlp", &files))).unwrap();
    let dest = dir.path().join("files2");
    let e = extract_extra_files(&path, &info, &dest, &limits).unwrap_err();
    assert!(
        e.to_string().contains("changed since it was validated"),
        "{e}"
    );
    assert!(!dest.exists());
}

#[test]
fn the_tenants_caps_apply_to_a_tgz() {
    assert_caps_refuse(&valid_tgz_with(&[]), |e| {
        matches!(e, ArchiveError::TarTooManyEntries { limit: 5 })
    });
}

#[test]
fn the_bomb_is_stopped_after_a_few_megabytes() {
    let bomb = valid_tgz_with(&[TarEntry::file("mlp/zeros.bin", &vec![0u8; 50 << 20])]);
    assert!(bomb.len() < 200 << 10, "{} bytes", bomb.len());
    match read(&bomb) {
        // Stopped at 100x what was read of the file, long before its 50 MiB.
        Err(ArchiveError::StreamRatio { inflated, .. }) => assert!(
            inflated < 100 * (bomb.len() as u64 + (64 << 10)),
            "inflated {inflated}"
        ),
        other => panic!("{other:?}"),
    }
}
