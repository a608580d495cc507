//! The hostile cases of the Rust fixtures, written in Python and JavaScript, through the
//! real server: each gets the same typed outcome as its Rust counterpart (tests/
//! serve_inference.rs, crates/sandbox/tests/hostile.rs, crates/sandbox/tests/filesystem.rs)
//! and the next request succeeds. The archive carries one extra file, which both SDKs'
//! file helpers read, and nothing outside it (JavaScript: `files.js`, the SDK's
//! `ferroserve-files.js`; Python: `hostile.py`). The JavaScript SDK has no exit, so the
//! exit cases are Python's.

mod common;

use std::path::PathBuf;

use common::scripted;
use common::server::{Server, post_json, send};
use ferroserve_archive::{ArchiveFormat, WriteOptions, write_archive};
use ferroserve_torch::test_models::TestModels;

const CONFIG: &str = "ferroserve:\n  formatVersion: 1\n  handlerLimits:\n    memoryMib: 128\n    deadlineMs: 500\n    maxOutputBytes: 1048576\n";

/// The archive's one extra file.
const LABELS: &str = "cat\ndog\nbird\n";

/// The component behind the MLP, with `labels.txt`, served as `name`; returns the
/// prediction URL and what keeps the server up.
/// The handlers are built in parallel; the servers then run one at a time: another test's
/// registration compiles a 12-18 MB component on both cores, and a call meanwhile can
/// meet its 500 ms deadline before the limit it is testing.
static ONE_SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_server_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner())
}

fn serve(name: &str, handler: PathBuf) -> (String, (tempfile::TempDir, tempfile::TempDir, Server)) {
    let store = tempfile::tempdir().unwrap();
    let config = store.path().join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let extra = tempfile::tempdir().unwrap();
    let labels = extra.path().join("labels.txt");
    std::fs::write(&labels, LABELS).unwrap();
    write_archive(&WriteOptions {
        model_name: name.into(),
        version: "1.0".into(),
        serialized_file: TestModels::get().model("mlp"),
        handler,
        extra_files: vec![labels],
        config_file: Some(config),
        export_path: PathBuf::from(store.path()),
        force: true,
        format: ArchiveFormat::Default,
    })
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let store_arg = store.path().to_str().unwrap().to_owned();
    let server = Server::start(
        state.path(),
        &[
            "--model-store",
            &store_arg,
            "--models",
            &format!("{name}.mar"),
        ],
    );
    let url = format!("{}/predictions/{name}", server.inference);
    (url, (store, state, server))
}

/// Each case's typed error, with a well-behaved request before and after every one.
fn check(url: &str, cases: &[(&str, u16, &str, &str)]) {
    let well = || {
        let ok = post_json(url, "[1, 2, 3, 4]");
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert_eq!(ok.json()["outputs"]["output"].as_array().unwrap().len(), 3);
    };
    well();
    for (body, code, kind, says) in cases {
        let reply = send(
            "POST",
            url,
            &[("content-type", "text/plain")],
            body.as_bytes(),
        );
        let message = reply.assert_error(*code, kind);
        assert!(message.contains(says), "{url} {body}: {message}");
        well();
    }
}

fn headers_reach_the_client(url: &str) {
    let ok = send("POST", url, &[], b"headers:x-model-note");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("x-model-note"), Some("1"));
}

/// The SDK's text helper reads the archive's file, with or without a leading slash.
fn archive_files_are_readable(url: &str) {
    for name in ["labels.txt", "/labels.txt", "./labels.txt"] {
        let ok = send("POST", url, &[], format!("text:{name}").as_bytes());
        assert_eq!(ok.status, 200, "{url} {name}: {}", ok.text());
        assert_eq!(ok.json()["text"], LABELS, "{url} {name}");
    }
}

/// Cases both languages share: (body, status, type, part of the message).
const SHARED: &[(&str, u16, &str, &str)] = &[
    ("spin", 504, "HandlerDeadlineExceeded", "500 ms"),
    ("bomb", 500, "HandlerMemoryLimitExceeded", "128 MiB"),
    (
        "big:2000000",
        500,
        "HandlerOutputTooLarge",
        "over its output limit of 1048576",
    ),
    ("raise", 500, "HandlerInternalError", "no such key"),
    (
        "headers:set-cookie",
        500,
        "HandlerInvalidResponse",
        "may not set the \"set-cookie\"",
    ),
    (
        "headers:content-length",
        500,
        "HandlerInvalidResponse",
        "content-length",
    ),
    ("[]", 400, "HandlerBadInput", "non-empty JSON array"),
];

/// Nothing but the archive's files (as crates/sandbox/tests/filesystem.rs for Rust), and
/// the SDKs' own error for a file the archive lacks: a 500 that says how to ship it.
const FILES: &[(&str, u16, &str, &str)] = &[
    (
        "read:/etc/passwd",
        400,
        "HandlerBadInput",
        "cannot read /etc/passwd",
    ),
    (
        "read:../../etc/passwd",
        400,
        "HandlerBadInput",
        "cannot read ../../etc/passwd",
    ),
    (
        "read:/proc/self/environ",
        400,
        "HandlerBadInput",
        "cannot read /proc/self/environ",
    ),
    (
        "text:missing.txt",
        500,
        "HandlerInternalError",
        "(No such file or directory); ship it with `ferroserve archive --extra-files missing.txt`",
    ),
    (
        "text:../secret.txt",
        500,
        "HandlerInternalError",
        "cannot read the archive file",
    ),
];

#[test]
fn python_hostile_handlers_get_the_rust_outcomes() {
    let mut cases = SHARED.to_vec();
    cases.extend_from_slice(FILES);
    cases.extend_from_slice(&[
        ("exit", 500, "HandlerTrapped", ""),
        // WASI 0.2's exit carries only success or failure: os._exit(3) arrives as 1.
        (
            "hard-exit",
            500,
            "HandlerTrapped",
            "exited the process (status 1)",
        ),
    ]);
    let handler = scripted::hostile("python");
    let _alone = one_server_at_a_time();
    let (url, _server) = serve("hostile-python", handler);
    check(&url, &cases);
    headers_reach_the_client(&url);
    archive_files_are_readable(&url);
}

#[test]
fn javascript_hostile_handlers_get_the_rust_outcomes() {
    let handler = scripted::hostile("js");
    let _alone = one_server_at_a_time();
    let (url, _server) = serve("hostile-js", handler);
    check(&url, SHARED);
    headers_reach_the_client(&url);
}

#[test]
fn javascript_file_helpers_read_the_archive_and_nothing_else() {
    let handler = scripted::js_files();
    let _alone = one_server_at_a_time();
    let (url, _server) = serve("files-js", handler);
    check(&url, FILES);
    archive_files_are_readable(&url);
}
