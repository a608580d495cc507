//! Golden texts: for each generated archive, the normalized manifest and entries (valid)
//! or the error kind and message (invalid) must equal `tests/golden/<case>.txt`.
//! `UPDATE_GOLDEN=1 cargo test -p ferroserve-archive --test golden` rewrites them.

mod common;

use std::io::Cursor;

use common::corpus::corpus;
use common::*;
use ferroserve_archive::{PreambleOnly, ReadLimits, read_archive_from};

/// The text a case is compared on. The handler's hash is left out: it is a built fixture.
fn normalized(bytes: &[u8]) -> String {
    match read_archive_from(Cursor::new(bytes), &ReadLimits::default(), &PreambleOnly) {
        Ok(info) => {
            let mut m = info.manifest.clone();
            m.created_on = None;
            let mut out = format!("OK\n{}\n", m.to_json());
            for e in info.entries.iter().filter(|e| e.name != info.handler_entry) {
                out += &format!("{} {} {}\n", e.sha256, e.size, e.name);
            }
            out + &format!("config: {:?}\n", info.config)
        }
        Err(e) => format!("ERROR {}\n{e}\n", e.kind()),
    }
}

fn file_name(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[test]
fn every_case_matches_its_golden_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<(String, Vec<u8>)> = corpus()
        .into_iter()
        .map(|(label, bytes, _, _)| (file_name(label), bytes))
        .collect();
    cases.push(("valid_full".into(), zip_of(&valid_files())));
    let mut minimal = valid_files();
    minimal.retain(|(n, _)| matches!(n.as_str(), "mlp.pt" | "handler.wasm"));
    minimal.push((
        MANIFEST.into(),
        manifest_json("mlp.pt", "handler.wasm", None).into_bytes(),
    ));
    cases.push(("valid_minimal".into(), zip_of(&minimal)));
    let mut mismatches = Vec::new();
    for (name, bytes) in cases {
        let path = dir.join(format!("{name}.txt"));
        let actual = normalized(&bytes);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        if expected != actual {
            mismatches.push(format!(
                "{name}:\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
