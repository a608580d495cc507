//! KServe v2 through the whole REST app in process (`App::build`, the fake runtime):
//! the binary tensor data extension both ways, `/config` and `/stats`, the repository
//! extension (load and unload as management, tenants in their own namespace), and v2's
//! `{"error"}` bodies for every refusal on `/v2` paths, the middleware's included.

mod common;

use axum::body::Body;
use common::app::{On, TestApp};
use serde_json::{Value, json};

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A binary-extension body: the JSON header, then `blobs` in order.
fn binary_body(header: &Value, blobs: &[&[u8]]) -> (String, Vec<u8>) {
    let mut body = header.to_string().into_bytes();
    let len = body.len().to_string();
    for blob in blobs {
        body.extend_from_slice(blob);
    }
    (len, body)
}

/// `POST /v2/models/echo/infer` with a binary-extension body, `len` its header length.
async fn infer_binary(t: &TestApp, len: &str, body: Vec<u8>) -> common::app::Answer {
    let headers = [("inference-header-content-length", len)];
    let uri = "/v2/models/echo/infer";
    t.send(On::Inference, "POST", uri, None, &headers, body)
        .await
}

/// v2's error body with this status; returns the message.
fn v2_error(a: &common::app::Answer, code: u16) -> String {
    assert_eq!(a.status.as_u16(), code, "{}", a.text);
    let obj = a.json.as_object().unwrap_or_else(|| panic!("{}", a.text));
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["error"], "{}", a.text);
    obj["error"].as_str().unwrap().to_owned()
}

async fn load(t: &TestApp, token: Option<&str>, model: &str) -> common::app::Answer {
    let uri = format!("/v2/repository/models/{model}/load");
    t.call(On::Inference, "POST", &uri, token, Body::empty())
        .await
}

#[tokio::test]
async fn binary_inputs_and_outputs_round_trip() {
    let t = TestApp::open();
    load(&t, None, "echo").await.ok();
    let header = json!({
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2],
                    "parameters": {"binary_data_size": 16}}],
        "parameters": {"binary_data_output": true},
    });
    let raw = f32_bytes(&[1., 2., 3., 4.]);
    let (len, body) = binary_body(&header, &[&raw]);
    let a = infer_binary(&t, &len, body).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let json_len: usize = a.headers["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = &a.bytes[..];
    let meta: Value = serde_json::from_slice(&bytes[..json_len]).unwrap();
    assert_eq!(meta["outputs"][0]["parameters"]["binary_data_size"], 16);
    assert!(meta["outputs"][0].get("data").is_none());
    assert_eq!(&bytes[json_len..], f32_bytes(&[2., 4., 6., 8.]).as_slice());

    // Binary in, JSON out when the output asks for it.
    let header = json!({
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2],
                    "parameters": {"binary_data_size": 8}}],
        "outputs": [{"name": "output", "parameters": {"binary_data": false}}],
    });
    let (len, body) = binary_body(&header, &[&f32_bytes(&[5., 6.])]);
    let a = infer_binary(&t, &len, body).await;
    assert_eq!(
        a.json["outputs"][0]["data"],
        json!([10.0, 12.0]),
        "{}",
        a.text
    );
}

#[tokio::test]
async fn malformed_binary_bodies_get_v2_errors_that_say_what_to_fix() {
    let t = TestApp::open();
    load(&t, None, "echo").await.ok();
    let input = |size: u64| {
        json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2],
                           "parameters": {"binary_data_size": size}}]})
    };
    let send = |len: String, body: Vec<u8>| {
        let t = &t;
        async move { infer_binary(t, &len, body).await }
    };
    let raw = f32_bytes(&[1., 2.]);
    let (len, body) = binary_body(&input(8), &[&raw[..7]]);
    assert!(v2_error(&send(len, body).await, 400).contains("only 7 bytes of binary data remain"));
    let (len, body) = binary_body(&input(4), &[&raw]);
    let e = v2_error(&send(len, body).await, 400);
    assert!(e.contains("needs 8 bytes but its binary data has 4"), "{e}");
    let (len, body) = binary_body(&input(8), &[&raw, b"extra"]);
    assert!(v2_error(&send(len, body).await, 400).contains("5 bytes follow the last binary input"));
    let (_, body) = binary_body(&input(8), &[&raw]);
    assert!(v2_error(&send("99999".into(), body.clone()).await, 400).contains("the body has only"));
    assert!(
        v2_error(&send("-1".into(), body.clone()).await, 400).contains("the JSON header's length")
    );
    let (len, body) = binary_body(&input(u64::MAX), &[&raw]);
    let e = v2_error(&send(len, body).await, 400);
    assert!(e.contains("binary_data_size 18446744073709551615"), "{e}");
    // After every refusal, a good request still works.
    let (len, body) = binary_body(&input(8), &[&raw]);
    assert_eq!(send(len, body).await.status, 200);
}

#[tokio::test]
async fn every_refusal_on_v2_paths_has_the_v2_shape() {
    let t = TestApp::tokens();
    let admin = t.admin.clone();
    let e = v2_error(
        &t.call(On::Inference, "GET", "/v2/models/echo", None, Body::empty())
            .await,
        401,
    );
    assert!(e.contains("requires a token"), "{e}");
    let nope = t
        .call(
            On::Inference,
            "GET",
            "/v2/models/nope",
            admin.as_deref(),
            Body::empty(),
        )
        .await;
    assert!(v2_error(&nope, 404).contains("nope"));
    let route = t
        .call(
            On::Inference,
            "GET",
            "/v2/nothing/here",
            admin.as_deref(),
            Body::empty(),
        )
        .await;
    v2_error(&route, 404);
    let bad = t
        .call(
            On::Inference,
            "POST",
            "/v2/models/nope/infer",
            admin.as_deref(),
            Body::from("{"),
        )
        .await;
    v2_error(&bad, 404);
    // TorchServe's paths keep TorchServe's shape.
    let ts = t
        .call(
            On::Inference,
            "POST",
            "/predictions/nope",
            admin.as_deref(),
            Body::empty(),
        )
        .await;
    ts.error(404, "ModelNotFoundException");
}

#[tokio::test]
async fn config_and_statistics_describe_the_model_and_count_its_requests() {
    let t = TestApp::open();
    load(&t, None, "echo").await.ok();
    let config = t
        .call(
            On::Inference,
            "GET",
            "/v2/models/echo/config",
            None,
            Body::empty(),
        )
        .await;
    let c = config.ok();
    assert_eq!(
        (&c["name"], &c["backend"], &c["max_batch_size"]),
        (&json!("echo"), &json!("pytorch"), &json!(1024))
    );
    let infer =
        json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 1], "data": [1, 2, 3]}]});
    t.call(
        On::Inference,
        "POST",
        "/v2/models/echo/infer",
        None,
        Body::from(infer.to_string()),
    )
    .await
    .ok();
    let bad = json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1], "data": [-1]}]});
    let failed = t
        .call(
            On::Inference,
            "POST",
            "/v2/models/echo/infer",
            None,
            Body::from(bad.to_string()),
        )
        .await;
    assert_eq!(failed.status, 500);
    for uri in [
        "/v2/models/echo/stats",
        "/v2/models/echo/versions/1.0/stats",
        "/v2/models/stats",
    ] {
        let a = t.call(On::Inference, "GET", uri, None, Body::empty()).await;
        let s = &a.ok()["model_stats"][0];
        assert_eq!(
            (&s["name"], &s["version"]),
            (&json!("echo"), &json!("1.0")),
            "{uri}"
        );
        // The failed sample never came back from the model: not an inference.
        assert_eq!(s["inference_count"], 3, "{uri}: {}", a.text);
        assert_eq!(s["inference_stats"]["success"]["count"], 3, "{uri}");
        assert_eq!(s["inference_stats"]["fail"]["count"], 1, "{uri}");
        assert!(
            s["inference_stats"]["compute_infer"]["ns"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
    let missing = t
        .call(
            On::Inference,
            "GET",
            "/v2/models/echo/versions/9/stats",
            None,
            Body::empty(),
        )
        .await;
    v2_error(&missing, 404);
}

#[tokio::test]
async fn the_repository_loads_and_unloads_as_management_and_per_tenant() {
    let t = TestApp::tokens();
    let admin = t.admin.clone();
    let tenant = t.tenant("acme", "{}").await;
    load(&t, Some(&tenant), "echo").await.ok();
    // Loading what is loaded is nothing to do.
    load(&t, Some(&tenant), "echo").await.ok();
    let index = |token: Option<String>| {
        let t = &t;
        async move {
            let a = t
                .call(
                    On::Inference,
                    "POST",
                    "/v2/repository/index",
                    token.as_deref(),
                    Body::from("{\"ready\": true}"),
                )
                .await;
            a.ok().clone()
        }
    };
    assert_eq!(
        index(Some(tenant.clone())).await,
        json!([{"name": "echo", "version": "1.0", "state": "READY", "reason": ""}])
    );
    assert_eq!(
        index(admin.clone()).await,
        json!([]),
        "the shared namespace has none"
    );
    let missing = load(&t, Some(&tenant), "nope").await;
    assert!(
        v2_error(&missing, 404).contains("nope.mar"),
        "{}",
        missing.text
    );
    // Names that try to leave the model store are refused by name; a long one is not found.
    for (hostile, status) in [
        ("..%2F..%2Fetc%2Fpasswd", 400),
        ("%2Fetc%2Fpasswd", 400),
        (&*"a".repeat(5000), 404),
    ] {
        let a = load(&t, Some(&tenant), hostile).await;
        let e = v2_error(&a, status);
        assert!(e.contains("model store"), "{hostile:.40}: {e}");
    }
    let unload = |token: Option<String>, model: &'static str| {
        let t = &t;
        async move {
            let uri = format!("/v2/repository/models/{model}/unload");
            t.call(On::Inference, "POST", &uri, token.as_deref(), Body::empty())
                .await
        }
    };
    v2_error(&unload(admin.clone(), "echo").await, 404);
    unload(Some(tenant.clone()), "echo").await.ok();
    assert_eq!(index(Some(tenant.clone())).await, json!([]));
    v2_error(&unload(Some(tenant), "echo").await, 404);
}

#[tokio::test]
async fn repository_changes_are_refused_when_the_model_api_is_off() {
    let t = TestApp::with(|c| c.model_api = false);
    let e = v2_error(&load(&t, None, "echo").await, 405);
    assert!(e.contains("--enable-model-api"), "{e}");
    let index = t
        .call(
            On::Inference,
            "POST",
            "/v2/repository/index",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(index.ok(), &json!([]));
}
