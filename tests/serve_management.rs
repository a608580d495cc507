//! The management API of the real binary: register from the model store, by upload and by
//! allowed URL; describe, list, scale, set-default, unregister; and the error paths.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::archives;
use common::server::{Server, get, post_json, send};

fn start(extra: &[&str]) -> (tempfile::TempDir, Server) {
    Server::with_store("", extra)
}

#[test]
fn register_describe_scale_default_and_unregister() {
    let (_state, server) = start(&[]);
    let m = &server.management;
    let reply = send(
        "POST",
        &format!("{m}/models?url=mlp.mar&batch_size=4&max_batch_delay=5&initial_workers=1"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["status"],
        "Model \"mlp\" Version: 1.0 registered with 1 initial workers"
    );
    let reply = send("POST", &format!("{m}/models?url=mlp-2.0.mar"), &[], b"");
    assert_eq!(reply.status, 200, "{}", reply.text());

    let described = get(&format!("{m}/models/mlp")).json();
    assert_eq!(described[0]["modelVersion"], "1.0");
    assert_eq!(described[0]["batchSize"], 4);
    assert_eq!(described[0]["maxBatchDelay"], 5);
    assert_eq!(described[0]["isDefault"], true);
    let all = get(&format!("{m}/models/mlp/all")).json();
    let versions: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["modelVersion"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0", "2.0"]);
    assert_eq!(
        get(&format!("{m}/models/mlp/2.0")).json()[0]["modelVersion"],
        "2.0"
    );

    // Scale: workers follow.
    let reply = send(
        "PUT",
        &format!("{m}/models/mlp?min_worker=2&max_worker=3&synchronous=true"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let d = &get(&format!("{m}/models/mlp/1.0")).json()[0];
    assert_eq!(
        (d["minWorkers"].as_u64(), d["maxWorkers"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(d["workers"].as_array().unwrap().len(), 2);
    let bad = send(
        "PUT",
        &format!("{m}/models/mlp?min_worker=3&max_worker=1"),
        &[],
        b"",
    );
    bad.assert_error(400, "InvalidWorkerSettings");

    // Default version: deleting it while 2.0 exists is refused; after set-default it goes.
    send("DELETE", &format!("{m}/models/mlp/1.0"), &[], b"")
        .assert_error(403, "DefaultVersionInUse");
    let reply = send("PUT", &format!("{m}/models/mlp/2.0/set-default"), &[], b"");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let inference = server.predict_mlp();
    assert_eq!(inference.status, 200);
    let reply = send("DELETE", &format!("{m}/models/mlp/1.0"), &[], b"");
    assert_eq!(
        reply.json()["status"],
        "Model \"mlp\" version: 1.0 unregistered"
    );
    post_json(
        &format!("{}/predictions/mlp/1.0", server.inference),
        "[1, 2, 3, 4]",
    )
    .assert_error(404, "ModelVersionNotFoundException");
    let reply = send("DELETE", &format!("{m}/models/mlp"), &[], b"");
    assert_eq!(reply.status, 200);
    get(&format!("{m}/models/mlp")).assert_error(404, "ModelNotFoundException");
}

#[test]
fn list_pages_through_models() {
    let (_state, server) = start(&["--models", "mlp.mar,spin.mar,panic.mar"]);
    let m = &server.management;
    let page = get(&format!("{m}/models?limit=2")).json();
    let names: Vec<&str> = page["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["modelName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mlp", "panic"]);
    let token = page["nextPageToken"].as_str().unwrap().to_owned();
    let page = get(&format!("{m}/models?limit=2&next_page_token={token}")).json();
    assert_eq!(page["models"][0]["modelName"], "spin");
    assert!(page.get("nextPageToken").is_none(), "{page}");
    assert_eq!(page["models"][0]["modelUrl"], "spin.mar");
}

#[test]
fn an_archive_uploaded_in_the_body_registers() {
    let (_state, server) = start(&[]);
    let bytes = std::fs::read(archives::store().join("mlp.mar")).unwrap();
    let m = &server.management;
    let reply = send(
        "POST",
        &format!("{m}/models?model_name=uploaded"),
        &[("content-type", "application/octet-stream")],
        &bytes,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let url = get(&format!("{m}/models/uploaded")).json()[0]["modelUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with("upload:"), "{url}");
    let ok = post_json(
        &format!("{}/predictions/uploaded", server.inference),
        "[1, 2, 3, 4]",
    );
    assert_eq!(ok.status, 200);
    // Same name and version again: a conflict, and the first keeps serving.
    let again = send(
        "POST",
        &format!("{m}/models?model_name=uploaded"),
        &[],
        &bytes,
    );
    again.assert_error(409, "ConflictStatusException");
    assert_eq!(
        post_json(
            &format!("{}/predictions/uploaded", server.inference),
            "[1, 2, 3, 4]"
        )
        .status,
        200
    );
}

#[test]
fn bad_registrations_say_what_is_wrong() {
    let (_state, server) = start(&[]);
    let m = &server.management;
    send("POST", &format!("{m}/models?url=nope.mar"), &[], b"")
        .assert_error(404, "ArchiveNotFound");
    let msg = send("POST", &format!("{m}/models?url=../etc/passwd"), &[], b"")
        .assert_error(400, "InvalidArchiveName");
    assert!(msg.contains("without directories"), "{msg}");
    send("POST", &format!("{m}/models"), &[], b"").assert_error(400, "MissingArchive");
    let msg = send("POST", &format!("{m}/models"), &[], b"this is not a zip")
        .assert_error(400, "ArchiveNotAZip");
    assert!(!msg.is_empty());
    let msg = send(
        "POST",
        &format!("{m}/models?url=mlp.mar&batch_sise=4"),
        &[],
        b"",
    )
    .assert_error(400, "BadRequestException");
    assert!(msg.contains("batch_sise"), "{msg}");
    let msg = send(
        "POST",
        &format!("{m}/models?url=http://example.invalid/m.mar"),
        &[],
        b"",
    )
    .assert_error(403, "UrlNotAllowed");
    assert!(msg.contains("allowed_urls"), "{msg}");
    get(&format!("{m}/models/nope/all")).assert_error(404, "ModelNotFoundException");
    send("PUT", &format!("{m}/models/nope/1.0/set-default"), &[], b"")
        .assert_error(404, "ModelNotFoundException");
    // Nothing was registered by any of that.
    assert_eq!(
        get(&format!("{m}/models")).json()["models"],
        serde_json::json!([])
    );
}

/// Serves `body` once per connection over plain HTTP, for `count` connections.
fn serve_file(body: Vec<u8>, count: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    format!("http://{addr}")
}

#[test]
fn an_allowed_url_is_fetched_and_others_are_not() {
    let bytes = std::fs::read(archives::store().join("mlp.mar")).unwrap();
    let base = serve_file(bytes, 1);
    let allowed = format!("{base}/models/");
    let (_state, server) = start(&["--allowed-urls", &allowed]);
    let m = &server.management;
    let denied = send(
        "POST",
        &format!("{m}/models?url={base}/elsewhere/mlp.mar"),
        &[],
        b"",
    );
    denied.assert_error(403, "UrlNotAllowed");
    let reply = send(
        "POST",
        &format!("{m}/models?url={allowed}mlp.mar&model_name=fetched"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        post_json(
            &format!("{}/predictions/fetched", server.inference),
            "[1, 2, 3, 4]"
        )
        .status,
        200
    );
}
