//! The hostile corpus: every case is generated here, read through the real reader, and
//! must fail with its own specific error, writing nothing anywhere.

mod common;

use std::io::Cursor;

use common::corpus::{corpus, raw_with};
use common::*;
use ferroserve_archive::{
    ArchiveError, HandlerCheck, HandlerRejection, PreambleOnly, ReadLimits, read_archive_from,
};

fn read(bytes: &[u8]) -> Result<ferroserve_archive::ArchiveInfo, ArchiveError> {
    read_archive_from(Cursor::new(bytes), &ReadLimits::default(), &PreambleOnly)
}

#[test]
fn every_hostile_case_gets_its_specific_error_and_writes_nothing() {
    let cases = corpus();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    assert_each_refused(cases);
}

#[test]
fn the_lying_bomb_is_stopped_within_one_chunk() {
    let lying = lying_bomb();
    match read(&raw_with(lying)) {
        Err(ArchiveError::SizeMismatch {
            declared: 1024,
            actual,
            ..
        }) => assert!(actual <= 64 << 10, "inflated {actual}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_zeros_stream_really_inflates_to_what_it_claims() {
    use std::io::Read;
    let stream = zeros_deflate(5);
    let mut n = 0u64;
    let mut d = flate2::read::DeflateDecoder::new(&stream[..]);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let k = d.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        assert!(buf[..k].iter().all(|&b| b == 0));
        n += k as u64;
    }
    assert_eq!(n, 5 << 20);
    assert!(zeros_deflate(10 * 1024).len() < 12 << 20);
}

#[test]
fn caps_from_the_tenant_apply() {
    assert_caps_refuse(&zip_of(&valid_files()), |e| {
        matches!(e, ArchiveError::TooManyEntries { count: 6, limit: 5 })
    });
}

/// The sandbox's check through the seam: a component of another world is refused.
struct SandboxCheck(ferroserve_sandbox::Sandbox);
impl HandlerCheck for SandboxCheck {
    fn check(&self, wasm: &[u8]) -> Result<(), HandlerRejection> {
        let limits = ferroserve_sandbox::Limits::default();
        self.0
            .load("h", wasm, None, limits)
            .map(|_| ())
            .map_err(|e| HandlerRejection {
                kind: e.kind().into(),
                message: e.to_string(),
            })
    }
    fn describe(&self) -> String {
        "sandbox".into()
    }
}

#[test]
fn a_component_of_another_world_is_refused_at_load() {
    let sandbox = ferroserve_sandbox::Sandbox::new(ferroserve_sandbox::SandboxConfig {
        threads: 1,
        ..Default::default()
    })
    .unwrap();
    let check = SandboxCheck(sandbox);
    let other = ferroserve_test_fixtures::bytes(ferroserve_test_fixtures::OTHER_WORLD);
    let bytes = zip_of(&with_file("handler.wasm", Some(&other)));
    let e = read_archive_from(Cursor::new(&bytes), &ReadLimits::default(), &check).unwrap_err();
    assert_eq!(e.kind(), "HandlerWorldMismatch", "{e}");
    assert!(
        e.to_string()
            .starts_with("handler \"handler.wasm\" was refused (HandlerWorldMismatch)"),
        "{e}"
    );
    let ok = read_archive_from(
        Cursor::new(zip_of(&valid_files())),
        &ReadLimits::default(),
        &check,
    )
    .unwrap();
    assert_eq!(ok.checks.last().unwrap().detail, "handler.wasm (sandbox)");
}
