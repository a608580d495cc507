//! The rest of the HTTP surface of the real binary: KServe v2, the OpenAPI descriptions,
//! the per-listener concurrency cap and the upload size limit.

mod common;

use common::archives;
use common::server::{Server, get, post_json, send};
use serde_json::json;

fn start(extra: &[&str]) -> (tempfile::TempDir, Server) {
    Server::with_store("mlp.mar,spin.mar", extra)
}

#[test]
fn kserve_v2_health_metadata_and_infer() {
    let (_state, server) = start(&[]);
    let i = &server.inference;
    assert_eq!(
        get(&format!("{i}/v2/health/live")).json(),
        json!({"live": true})
    );
    assert_eq!(
        get(&format!("{i}/v2/health/ready")).json(),
        json!({"ready": true})
    );
    let meta = get(&format!("{i}/v2/models/mlp")).json();
    assert_eq!(
        (meta["name"].as_str(), meta["versions"].clone()),
        (Some("mlp"), json!(["1.0"]))
    );

    // A batch of two rows goes through the model as two requests, stacked back.
    let body = json!({"id": "q1", "inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32",
        "data": [1, 2, 3, 4, 5, 6, 7, 8]}]});
    let reply = post_json(&format!("{i}/v2/models/mlp/infer"), &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let out = reply.json();
    assert_eq!(out["id"], "q1");
    assert_eq!(out["model_name"], "mlp");
    assert_eq!(out["outputs"][0]["shape"], json!([2, 3]));
    assert_eq!(out["outputs"][0]["datatype"], "FP32");
    // Row 0 agrees with the handler path's answer for the same input.
    let via_handler = post_json(&format!("{i}/predictions/mlp"), "[1, 2, 3, 4]").json();
    let row0: Vec<f64> = out["outputs"][0]["data"].as_array().unwrap()[..3]
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = via_handler["outputs"]["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (a, b) in row0.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-5, "{row0:?} vs {expected:?}");
    }

    let bad = json!({"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3]}]});
    // v2's own error shape on v2 paths.
    let msg = post_json(&format!("{i}/v2/models/mlp/infer"), &bad.to_string()).assert_v2_error(400);
    assert!(msg.contains("input"), "{msg}");
    let msg =
        post_json(&format!("{i}/v2/models/nope/infer"), &body.to_string()).assert_v2_error(404);
    assert!(msg.contains("Model not found: nope"), "{msg}");
    let msg = post_json(
        &format!("{i}/v2/models/mlp/versions/7/infer"),
        &body.to_string(),
    )
    .assert_v2_error(404);
    assert!(msg.contains("Model version 7 does not exist"), "{msg}");
}

#[test]
fn options_describes_each_api() {
    let (_state, server) = start(&[]);
    for (base, path) in [
        (&server.inference, "/predictions/{model_name}"),
        (&server.management, "/models"),
    ] {
        let doc = send("OPTIONS", &format!("{base}/"), &[], b"").json();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"), "{doc}");
        assert!(doc["paths"].get(path).is_some(), "{path} in {doc}");
    }
}

#[test]
fn past_the_concurrency_cap_requests_get_503_at_once() {
    let (_state, server) = start(&["--max-concurrent-requests", "1"]);
    let spinning = server.hold_spin();
    let reply = server.predict_mlp();
    reply.assert_error(503, "ServiceUnavailableException");
    assert_eq!(reply.header("retry-after"), Some("1"));
    // The cap is per listener: management still answers.
    assert_eq!(get(&format!("{}/models", server.management)).status, 200);
    assert_eq!(spinning.join().unwrap().status, 504);
    assert_eq!(server.predict_mlp().status, 200);
}

#[test]
fn an_upload_over_the_limit_is_a_413_and_nothing_is_kept() {
    // No start-up models: they would be over the limit too (it applies to every archive).
    let state = tempfile::tempdir().unwrap();
    let server = Server::start(state.path(), &["--max-upload-size", "4096"]);
    let bytes = std::fs::read(archives::store().join("mlp.mar")).unwrap();
    assert!(bytes.len() > 4096);
    let msg = send(
        "POST",
        &format!("{}/models?model_name=big", server.management),
        &[],
        &bytes,
    )
    .assert_error(413, "RequestEntityTooLarge");
    assert!(msg.contains("4096"), "{msg}");
    let kept = server.state_dir.join("archives");
    let left: Vec<_> = std::fs::read_dir(&kept)
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
