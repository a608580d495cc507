//! Compiled components are cached on disk by content hash and survive a restart.

mod common;

use common::*;
use ferroserve_test_fixtures as fx;

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn compiled_components_are_reused_across_engines() {
    let cache = tempfile::tempdir().unwrap();
    load(&sandbox(Some(cache.path())), fx::OK, None, limits());
    let files = entries(cache.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "cwasm"));
    let written = std::fs::metadata(&files[0]).unwrap().modified().unwrap();

    // A new engine (as after a restart) loads from the cache without rewriting it.
    let sandbox = sandbox(Some(cache.path()));
    load(&sandbox, fx::OK, None, limits());
    assert_eq!(entries(cache.path()), files);
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        written
    );
    assert_well_behaved_works(&sandbox);
}

#[test]
fn a_corrupt_cache_entry_is_replaced() {
    let cache = tempfile::tempdir().unwrap();
    load(&sandbox(Some(cache.path())), fx::OK, None, limits());
    let entry = entries(cache.path()).remove(0);
    std::fs::write(&entry, b"not a compiled component").unwrap();

    let sandbox = sandbox(Some(cache.path()));
    assert_well_behaved_works(&sandbox);
    load(&sandbox, fx::OK, None, limits());
    assert!(
        std::fs::metadata(&entry).unwrap().len() > 1000,
        "entry was recompiled and rewritten"
    );
}
