//! Compiled components are cached on disk by content hash, survive a restart, and go with
//! the last handler that uses them.

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
    let first = sandbox(Some(cache.path()));
    let handler = load(&first, fx::OK, None, limits());
    // Stopping: the entry outlives its last user.
    first.keep_compiled();
    drop((handler, first));
    let files = entries(cache.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "cwasm"));
    let written = std::fs::metadata(&files[0]).unwrap().modified().unwrap();

    // A new engine (as after a restart) loads from the cache without rewriting it.
    let sandbox = sandbox(Some(cache.path()));
    let _kept = load(&sandbox, fx::OK, None, limits());
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
    let first = sandbox(Some(cache.path()));
    let handler = load(&first, fx::OK, None, limits());
    first.keep_compiled();
    drop((handler, first));
    let entry = entries(cache.path()).remove(0);
    std::fs::write(&entry, b"not a compiled component").unwrap();

    let sandbox = sandbox(Some(cache.path()));
    assert_well_behaved_works(&sandbox);
    let _handler = load(&sandbox, fx::OK, None, limits());
    assert!(
        std::fs::metadata(&entry).unwrap().len() > 1000,
        "entry was recompiled and rewritten"
    );
}

#[test]
fn an_entry_goes_with_the_last_handler_that_uses_it() {
    let cache = tempfile::tempdir().unwrap();
    let sandbox = sandbox(Some(cache.path()));
    let a = load(&sandbox, fx::OK, None, limits());
    let b = load(&sandbox, fx::OK, None, limits());
    let other = load(&sandbox, fx::PANIC, None, limits());
    assert_eq!(entries(cache.path()).len(), 2);
    drop(a);
    assert_eq!(entries(cache.path()).len(), 2, "b still uses it");
    let clone = b.clone();
    drop(b);
    assert_eq!(entries(cache.path()).len(), 2, "a clone holds it too");
    drop(clone);
    let left = entries(cache.path());
    assert_eq!(left.len(), 1, "{left:?}");
    drop(other);
    assert!(entries(cache.path()).is_empty());
    // Loading again compiles afresh and the entry is back.
    let again = load(&sandbox, fx::OK, None, limits());
    assert_eq!(entries(cache.path()).len(), 1);
    drop(again);
}
