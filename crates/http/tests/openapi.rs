//! `OPTIONS /` on each listener: an OpenAPI 3.0 document that lists every route the
//! listener serves, and lists nothing it does not serve.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use ferroserve_core::Registry;
use ferroserve_http::{inference, kserve, kserve_v1, openapi};
use ferroserve_test_fixtures as fx;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Every route the inference listener serves, as OpenAPI spells it.
const INFERENCE_ROUTES: &[(&str, &str)] = &[
    ("options", "/"),
    ("get", "/ping"),
    ("get", "/api-description"),
    ("post", "/predictions/{model_name}"),
    ("post", "/predictions/{model_name}/{model_version}"),
    ("options", "/predictions/{model_name}"),
    ("options", "/predictions/{model_name}/{model_version}"),
    ("post", "/explanations/{model_name}"),
    ("post", "/explanations/{model_name}/{model_version}"),
    ("get", "/v1/models"),
    ("get", "/v1/models/{model_name}"),
    ("post", "/v1/models/{model_name}:predict"),
    ("post", "/v1/models/{model_name}:explain"),
    ("get", "/v2"),
    ("get", "/v2/health/live"),
    ("get", "/v2/health/ready"),
    ("get", "/v2/models/{model_name}"),
    ("get", "/v2/models/{model_name}/versions/{model_version}"),
    ("get", "/v2/models/{model_name}/ready"),
    (
        "get",
        "/v2/models/{model_name}/versions/{model_version}/ready",
    ),
    ("post", "/v2/models/{model_name}/infer"),
    (
        "post",
        "/v2/models/{model_name}/versions/{model_version}/infer",
    ),
];

const MANAGEMENT_ROUTES: &[(&str, &str)] = &[
    ("options", "/"),
    ("get", "/api-description"),
    ("get", "/models"),
    ("post", "/models"),
    ("get", "/models/{model_name}"),
    ("put", "/models/{model_name}"),
    ("delete", "/models/{model_name}"),
    ("get", "/models/{model_name}/all"),
    ("get", "/models/{model_name}/{model_version}"),
    ("put", "/models/{model_name}/{model_version}"),
    ("delete", "/models/{model_name}/{model_version}"),
    ("put", "/models/{model_name}/{model_version}/set-default"),
];

/// The inference listener's routes as the server merges them.
fn inference_listener(sandbox: &ferroserve_sandbox::Sandbox) -> Router {
    let registry = Registry::default();
    let echo = pipeline(sandbox, fx::OK, Duration::from_secs(2));
    registry.insert(model("echo", "1.0", echo)).unwrap();
    inference::router(registry.clone())
        .merge(kserve::router(registry.clone()))
        .merge(kserve_v1::router(registry))
        .merge(openapi::inference_description())
}

async fn call(router: &Router, method: &str, uri: &str) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The document's (method, path) pairs, sorted.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    ops.sort();
    ops
}

fn sorted(routes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = routes
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    v.sort();
    v
}

fn assert_openapi_3_with_error_schema(doc: &Value) {
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.0."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(
        error["required"],
        serde_json::json!(["code", "type", "message"])
    );
    // Every operation points its errors at that schema.
    for (method, path) in operations(doc) {
        let op = &doc["paths"][&path][&method];
        assert_eq!(
            op["responses"]["default"]["$ref"], "#/components/responses/Error",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn the_inference_document_lists_exactly_the_routes_served() {
    let sandbox = sandbox();
    let router = inference_listener(&sandbox);
    let (status, doc) = call(&router, "OPTIONS", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_openapi_3_with_error_schema(&doc);
    assert_eq!(operations(&doc), sorted(INFERENCE_ROUTES));

    // And each one is served: not the router's 404 or 405, whatever the handler says
    // about an unknown model.
    for (method, path) in INFERENCE_ROUTES {
        let uri = path
            .replace("{model_name}", "nope")
            .replace("{model_version}", "9.9");
        let (status, json) = call(&router, method, &uri).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_ne!(json["type"], "ResourceNotFoundException", "{method} {uri}");
    }
}

#[tokio::test]
async fn the_management_document_lists_its_routes_and_parameters() {
    let router = openapi::management_description();
    let (status, doc) = call(&router, "OPTIONS", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_openapi_3_with_error_schema(&doc);
    assert_eq!(operations(&doc), sorted(MANAGEMENT_ROUTES));

    let params = |method: &str, path: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        params("post", "/models"),
        [
            "url",
            "model_name",
            "batch_size",
            "max_batch_delay",
            "initial_workers",
            "synchronous",
            "response_timeout"
        ]
    );
    assert_eq!(params("get", "/models"), ["limit", "next_page_token"]);
    assert_eq!(
        params("put", "/models/{model_name}/{model_version}"),
        [
            "model_name",
            "model_version",
            "min_worker",
            "max_worker",
            "synchronous"
        ]
    );
    let upload = &doc["paths"]["/models"]["post"]["requestBody"]["content"];
    assert!(
        upload.get("application/octet-stream").is_some() && upload.get("application/zip").is_some()
    );
}
