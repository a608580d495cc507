//! The KServe v2 router, driven with `oneshot` against the fake `Doubler` model: metadata,
//! health, inference through the batcher, and the 400/404 cases (the router alone answers in
//! TorchServe's error shape; the app's v2 layer re-renders them, `kserve_v2_app.rs`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use ferroserve_archive::InputSpec;
use ferroserve_core::{Model, ModelInfo, ModelKey, Registry};
use ferroserve_http::kserve;
use ferroserve_test_fixtures as fx;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// `double` 1.0 (the default, with an input spec) and 2.0.
fn router(sandbox: &ferroserve_sandbox::Sandbox) -> Router {
    let registry = Registry::default();
    let info = ModelInfo {
        inputs: vec![InputSpec {
            name: "x".into(),
            dtype: "float32".into(),
            shape: vec![3],
        }],
        ..ModelInfo::default()
    };
    let first = pipeline(sandbox, fx::OK, Duration::from_secs(2));
    let v1 = Model::new(ModelKey::shared("double"), "1.0".into(), first, info);
    registry.insert(Arc::new(v1)).unwrap();
    let second = pipeline(sandbox, fx::OK, Duration::from_secs(2));
    registry.insert(model("double", "2.0", second)).unwrap();
    kserve::router(registry)
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, json)
}

fn fp32(shape: Value, data: Value) -> Value {
    json!({ "inputs": [{ "name": "x", "shape": shape, "datatype": "FP32", "data": data }] })
}

#[tokio::test]
async fn infer_doubles_each_sample_and_stacks_the_batch_back() {
    let sandbox = sandbox();
    let router = router(&sandbox);
    let mut body = fp32(json!([2, 3]), json!([[1, 2, 3], [4, 5, 6.5]]));
    body["id"] = json!("req-7");
    body["parameters"] = json!({ "ignored": true });
    let (status, json) = call(&router, "POST", "/v2/models/double/infer", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json,
        json!({
            "model_name": "double",
            "model_version": "1.0",
            "id": "req-7",
            "outputs": [{ "name": "output", "datatype": "FP32", "shape": [2, 3],
                          "data": [2.0, 4.0, 6.0, 8.0, 10.0, 13.0] }]
        })
    );

    // A named version, flat data, a selected output; no id in, none out.
    let mut body = fp32(json!([1, 2]), json!([0.25, 1]));
    body["outputs"] = json!([{ "name": "output" }]);
    let uri = "/v2/models/double/versions/2.0/infer";
    let (status, json) = call(&router, "POST", uri, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["model_version"], "2.0");
    assert!(json.get("id").is_none());
    assert_eq!(json["outputs"][0]["shape"], json!([1, 2]));
    assert_eq!(json["outputs"][0]["data"], json!([0.5, 2.0]));
}

fn assert_bad_request(status: StatusCode, json: &Value, needle: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["code"], 400);
    assert_eq!(json["type"], "InvalidInferenceRequest");
    let message = json["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

#[tokio::test]
async fn malformed_tensors_are_400_naming_the_input() {
    let sandbox = sandbox();
    let router = router(&sandbox);
    let uri = "/v2/models/double/infer";
    let short = fp32(json!([2, 3]), json!([1, 2, 3, 4, 5]));
    let (status, json) = call(&router, "POST", uri, Some(short)).await;
    assert_bad_request(
        status,
        &json,
        "input `x`: shape [2, 3] needs 6 elements but `data` has 5",
    );

    let bytes = json!({ "inputs": [{ "name": "text", "shape": [1], "datatype": "BYTES", "data": ["hi"] }] });
    let (status, json) = call(&router, "POST", uri, Some(bytes)).await;
    assert_bad_request(
        status,
        &json,
        "input `text` is BYTES, but v2 inference sends tensors straight to the model",
    );

    let two = json!({ "inputs": [
        { "name": "a", "shape": [2, 1], "datatype": "FP32", "data": [1, 2] },
        { "name": "b", "shape": [3, 1], "datatype": "FP32", "data": [1, 2, 3] },
    ]});
    // Version 2.0 declares no inputs, so any names reach the batch checks.
    let undeclared = "/v2/models/double/versions/2.0/infer";
    let (status, json) = call(&router, "POST", undeclared, Some(two)).await;
    assert_bad_request(
        status,
        &json,
        "input `b` has a batch (dim 0) of 3 but input `a` has 2",
    );

    let out_of_range =
        json!({ "inputs": [{ "name": "i", "shape": [1], "datatype": "INT8", "data": [300] }] });
    let (status, json) = call(&router, "POST", uri, Some(out_of_range)).await;
    assert_bad_request(
        status,
        &json,
        "input `i`: element 0 (300) is not a valid INT8 value",
    );

    let (status, json) = call(&router, "POST", uri, Some(json!({ "inputs": "x" }))).await;
    assert_bad_request(status, &json, "not a KServe v2 inference request");

    let mut unknown_output = fp32(json!([1, 3]), json!([1, 2, 3]));
    unknown_output["outputs"] = json!([{ "name": "logits" }]);
    let (status, json) = call(&router, "POST", uri, Some(unknown_output)).await;
    assert_bad_request(status, &json, "requested output `logits`");
}

#[tokio::test]
async fn model_errors_and_unknown_models_keep_torchserves_shape() {
    let sandbox = sandbox();
    let router = router(&sandbox);
    let body = fp32(json!([1, 1]), json!([1]));
    let (status, json) = call(&router, "POST", "/v2/models/nope/infer", Some(body.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["type"], "ModelNotFoundException");
    let uri = "/v2/models/double/versions/9.9/infer";
    let (status, json) = call(&router, "POST", uri, Some(body)).await;
    assert_eq!(
        (status, &json["type"]),
        (
            StatusCode::NOT_FOUND,
            &json!("ModelVersionNotFoundException")
        )
    );
    for uri in ["/v2/models/nope", "/v2/models/nope/ready"] {
        let (status, json) = call(&router, "GET", uri, None).await;
        assert_eq!(
            (status, json["code"].as_u64()),
            (StatusCode::NOT_FOUND, Some(404)),
            "{uri}"
        );
    }
    // The fake model raises on negative input: the forward error, as a 500.
    let wrong = fp32(json!([2, 1]), json!([1, 2]));
    let (status, json) = call(&router, "POST", "/v2/models/double/infer", Some(wrong)).await;
    assert_bad_request(
        status,
        &json,
        "input `x` has shape [2, 1] but the model takes [-1, 3]",
    );
    let negative = fp32(json!([2, 3]), json!([1, 1, 1, -1, 1, 1]));
    let (status, json) = call(&router, "POST", "/v2/models/double/infer", Some(negative)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{json}");
    assert_eq!(json["type"], "ModelForwardError");
}

#[tokio::test]
async fn metadata_lists_versions_and_inputs_with_a_variable_batch() {
    let sandbox = sandbox();
    let router = router(&sandbox);
    let (status, json) = call(&router, "GET", "/v2/models/double", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json,
        json!({
            "name": "double",
            "versions": ["1.0", "2.0"],
            "platform": "pytorch_torchscript",
            "inputs": [{ "name": "x", "datatype": "FP32", "shape": [-1, 3] }],
            "outputs": [],
        })
    );
    let (status, json) = call(&router, "GET", "/v2/models/double/versions/2.0", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["versions"], json!(["1.0", "2.0"]));
    assert_eq!(json["inputs"], json!([]));

    let (status, json) = call(&router, "GET", "/v2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["name"], "ferroserve");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        json["extensions"],
        json!([
            "binary_tensor_data",
            "model_configuration",
            "model_repository",
            "statistics"
        ])
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let sandbox = sandbox();
    let router = router(&sandbox);
    let cases = [
        ("/v2/health/live", json!({ "live": true })),
        ("/v2/health/ready", json!({ "ready": true })),
        (
            "/v2/models/double/ready",
            json!({ "name": "double", "ready": true }),
        ),
        (
            "/v2/models/double/versions/2.0/ready",
            json!({ "name": "double", "ready": true }),
        ),
    ];
    for (uri, expected) in cases {
        let (status, json) = call(&router, "GET", uri, None).await;
        assert_eq!((status, json), (StatusCode::OK, expected), "{uri}");
    }
    // No models: nothing is unready.
    let empty = kserve::router(Registry::default());
    let (status, json) = call(&empty, "GET", "/v2/health/ready", None).await;
    assert_eq!((status, json), (StatusCode::OK, json!({ "ready": true })));
}
