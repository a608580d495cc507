//! A handler sees its archive's files, read-only, and nothing else.

mod common;

use common::*;
use ferroserve_test_fixtures as fx;

#[test]
fn archive_files_are_readable() {
    let files = Files::new();
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::FS_ESCAPE, Some(&files.dir()), limits());
    for path in ["/labels.txt", "labels.txt", "./labels.txt"] {
        let (result, _) = handler.preprocess_blocking(body(path));
        let prepared = result.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            prepared.inputs[0].data().as_ref(),
            LABELS.as_bytes(),
            "{path}"
        );
    }
}

#[test]
fn nothing_outside_the_archive_is_readable() {
    let files = Files::new();
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::FS_ESCAPE, Some(&files.dir()), limits());
    let outside = files.root.path().join("secret.txt");
    let escapes = [
        "/etc/passwd".to_string(),
        "../secret.txt".to_string(),
        "/../secret.txt".to_string(),
        "labels.txt/../../secret.txt".to_string(),
        "up".to_string(),     // symlink to ../secret.txt
        "passwd".to_string(), // symlink to /etc/passwd
        outside.display().to_string(),
        "/proc/self/environ".to_string(),
    ];
    for path in &escapes {
        let (result, _) = handler.preprocess_blocking(body(path));
        match result {
            Ok(p) => panic!(
                "{path} was readable: {:?}",
                String::from_utf8_lossy(p.inputs[0].data())
            ),
            Err(e) => {
                assert_eq!(e.kind(), "HandlerBadInput", "{path}: {e}");
                assert!(
                    e.to_string().starts_with(&format!("cannot read {path}:")),
                    "{e}"
                );
                assert!(!e.to_string().contains(SECRET));
            }
        }
    }
}

#[test]
fn without_files_there_is_no_filesystem() {
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::FS_ESCAPE, None, limits());
    for path in ["/labels.txt", "/etc/passwd", "."] {
        let (result, _) = handler.preprocess_blocking(body(path));
        assert_eq!(result.unwrap_err().kind(), "HandlerBadInput", "{path}");
    }
}

#[test]
fn a_missing_files_directory_is_a_load_error() {
    let sandbox = sandbox(None);
    let err = sandbox
        .load(
            "x",
            &fx::bytes(fx::OK),
            Some(std::path::Path::new("/nonexistent/files")),
            limits(),
        )
        .err()
        .unwrap();
    assert_eq!(err.kind(), "HandlerFilesUnavailable");
    assert!(err.to_string().contains("/nonexistent/files"), "{err}");
}
