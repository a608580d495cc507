//! Test helper: builds valid and hostile archives byte by byte, so every field a reader
//! trusts (names, sizes, attributes, counts) can be forged. Nothing binary is committed.
#![allow(dead_code, unused_imports)]

pub mod corpus;
pub mod rawtar;
pub mod rawzip;

use std::io::Write;

pub use rawzip::{RawEntry, lying_bomb, raw_zip, zeros_deflate};

pub const MANIFEST: &str = "MAR-INF/MANIFEST.json";

pub fn manifest_json(model: &str, handler: &str, config: Option<&str>) -> String {
    let config = config
        .map(|c| format!(r#","configFile":"{c}""#))
        .unwrap_or_default();
    format!(
        r#"{{"createdOn":"24/11/2026 08:00:00","runtime":"python","model":{{"modelName":"mlp","serializedFile":"{model}","handler":"{handler}","modelVersion":"1.0"{config}}},"archiverVersion":"0.12.0"}}"#
    )
}

/// A small zip with the layout torch.jit.save writes (names only matter to the check).
pub fn fake_torchscript(with_code: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut names = vec![
        "mlp/data.pkl",
        "mlp/constants.pkl",
        "mlp/version",
        "mlp/data/0",
    ];
    if with_code {
        names.push("mlp/code/__torch__.py");
    }
    for n in names {
        zip.start_file(n, stored).unwrap();
        zip.write_all(n.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

pub fn ok_handler() -> Vec<u8> {
    ferroserve_test_fixtures::bytes(ferroserve_test_fixtures::OK)
}

/// The entries of a valid archive: manifest, model, handler, config, two extra files.
pub fn valid_files() -> Vec<(String, Vec<u8>)> {
    vec![
        (
            MANIFEST.into(),
            manifest_json("mlp.pt", "handler.wasm", Some("model-config.yaml")).into_bytes(),
        ),
        ("mlp.pt".into(), fake_torchscript(true)),
        ("handler.wasm".into(), ok_handler()),
        (
            "model-config.yaml".into(),
            b"batchSize: 4\nferroserve:\n  formatVersion: 1\n  device: cpu\n".to_vec(),
        ),
        ("labels.txt".into(), b"cat\ndog\n".to_vec()),
        ("vocab/en.txt".into(), b"hello\n".to_vec()),
    ]
}

/// A well-formed zip of `files`, deflated, with unix regular-file attributes.
pub fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let entries: Vec<RawEntry> = files
        .iter()
        .map(|(n, d)| RawEntry::deflated(n, d))
        .collect();
    raw_zip(&entries)
}

/// `valid_files()` with `name` replaced by `data` (or removed when `None`).
pub fn with_file(name: &str, data: Option<&[u8]>) -> Vec<(String, Vec<u8>)> {
    let mut files = valid_files();
    files.retain(|(n, _)| n != name);
    if let Some(d) = data {
        files.push((name.into(), d.to_vec()));
    }
    files
}

/// A hostile case: a label, the archive's bytes, the error type it must get, and a text
/// the message must contain.
pub type Case = (&'static str, Vec<u8>, &'static str, String);

/// Reads each case from a file named `case.mar` (the reader goes by the bytes, not the
/// name) and asserts its specific error, and that nothing was written beside it.
pub fn assert_each_refused(cases: Vec<Case>) {
    let dir = tempfile::tempdir().unwrap();
    for (label, bytes, kind, text) in cases {
        let path = dir.path().join("case.mar");
        std::fs::write(&path, &bytes).unwrap();
        let result = ferroserve_archive::read_archive(
            &path,
            &ferroserve_archive::ReadLimits::default(),
            &ferroserve_archive::PreambleOnly,
        );
        let e = result.expect_err(label);
        assert_eq!(e.kind(), kind, "{label}: {e}");
        assert!(
            e.to_string().contains(&text),
            "{label}: {e:?} lacks {text:?}"
        );
        let listing: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(listing, vec!["case.mar"], "{label} wrote something");
    }
}

/// Each of a tenant's caps refuses `valid` (a valid archive, either format) with its own
/// error; `too_many` recognises the format's entry-count error.
pub fn assert_caps_refuse(
    valid: &[u8],
    too_many: impl Fn(&ferroserve_archive::ArchiveError) -> bool,
) {
    use ferroserve_archive::{PreambleOnly, ReadLimits, read_archive_from};
    let read = |limits: ReadLimits| {
        read_archive_from(std::io::Cursor::new(valid), &limits, &PreambleOnly).unwrap_err()
    };
    let e = read(ReadLimits {
        max_archive_bytes: 1000,
        ..ReadLimits::default()
    });
    assert_eq!(e.kind(), "ArchiveTooLarge");
    let e = read(ReadLimits {
        max_entries: 5,
        ..ReadLimits::default()
    });
    assert!(too_many(&e), "{e:?}");
    let e = read(ReadLimits {
        max_total_bytes: 1000,
        ..ReadLimits::default()
    });
    assert_eq!(e.kind(), "ArchiveTotalTooLarge");
    let e = read(ReadLimits {
        max_handler_bytes: 1000,
        ..ReadLimits::default()
    });
    assert!(e.to_string().contains("handler.wasm"), "{e}");
}
