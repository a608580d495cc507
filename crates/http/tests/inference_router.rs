//! The inference router, driven with `oneshot`: routes, statuses, headers and the exact
//! error JSON, with real handlers and a fake model.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use ferroserve_core::Registry;
use ferroserve_http::inference;
use ferroserve_test_fixtures as fx;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn send(
    router: axum::Router,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::json!(String::from_utf8_lossy(&bytes)));
    (status, headers, json)
}

fn registry(sandbox: &ferroserve_sandbox::Sandbox) -> Registry {
    let registry = Registry::default();
    registry
        .insert(model(
            "echo",
            "1.0",
            pipeline(sandbox, fx::OK, Duration::from_secs(2)),
        ))
        .unwrap();
    registry
        .insert(model(
            "echo",
            "2.0",
            pipeline(sandbox, fx::OK, Duration::from_secs(2)),
        ))
        .unwrap();
    registry
        .insert(model(
            "spin",
            "1.0",
            pipeline(sandbox, fx::SPIN, Duration::from_millis(100)),
        ))
        .unwrap();
    registry
}

#[tokio::test]
async fn ping_is_healthy() {
    let sandbox = sandbox();
    let (status, _, json) = send(inference::router(registry(&sandbox)), "GET", "/ping", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, serde_json::json!({ "status": "Healthy" }));
}

#[tokio::test]
async fn ping_is_unhealthy_when_a_model_has_fewer_workers_than_its_minimum() {
    let sandbox = sandbox();
    let registry = registry(&sandbox);
    // A drained model's workers have exited while its minimum is still 1.
    let spin = registry
        .get(&ferroserve_core::ModelKey::shared("spin"), None)
        .unwrap();
    spin.pipeline.batcher().shutdown().await;
    let (status, _, json) = send(inference::router(registry), "GET", "/ping", "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        json,
        serde_json::json!({ "status": "Unhealthy", "modelsBelowMinWorkers": ["spin:1.0"] })
    );
}

#[tokio::test]
async fn predictions_run_the_pipeline_for_default_and_named_versions() {
    let sandbox = sandbox();
    let router = inference::router(registry(&sandbox));
    for uri in ["/predictions/echo", "/predictions/echo/2.0"] {
        let (status, headers, json) = send(router.clone(), "POST", uri, "[1.5]").await;
        assert_eq!(status, StatusCode::OK, "{uri}: {json}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(json["outputs"]["output"], serde_json::json!([3.0]), "{uri}");
    }
}

#[tokio::test]
async fn unknown_models_versions_and_routes_are_404_in_torchserves_shape() {
    let sandbox = sandbox();
    let router = inference::router(registry(&sandbox));
    let (status, _, json) = send(router.clone(), "POST", "/predictions/nope", "[1]").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        json,
        serde_json::json!({"code": 404, "type": "ModelNotFoundException", "message": "Model not found: nope; GET /models lists the registered models"})
    );
    let (status, _, json) = send(router.clone(), "POST", "/predictions/echo/9.9", "[1]").await;
    assert_eq!(
        (status, json["type"].as_str()),
        (StatusCode::NOT_FOUND, Some("ModelVersionNotFoundException"))
    );
    let (status, _, json) = send(router, "GET", "/no/such/route", "").await;
    assert_eq!(
        (status, json["code"].as_u64()),
        (StatusCode::NOT_FOUND, Some(404))
    );
}

#[tokio::test]
async fn handler_errors_keep_their_status_and_message() {
    let sandbox = sandbox();
    let router = inference::router(registry(&sandbox));
    let (status, _, json) = send(router.clone(), "POST", "/predictions/echo", "not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["type"], "HandlerBadInput");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .starts_with("the request body is not the JSON this model expects")
    );
    let (status, _, json) = send(router.clone(), "POST", "/predictions/spin", "[1]").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(json["type"], "HandlerDeadlineExceeded");
    // The hostile model left the other one working.
    let (status, _, _) = send(router, "POST", "/predictions/echo", "[1]").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn registering_a_version_twice_is_a_conflict() {
    let sandbox = sandbox();
    let registry = registry(&sandbox);
    let err = registry
        .insert(model(
            "echo",
            "1.0",
            pipeline(&sandbox, fx::OK, Duration::from_secs(1)),
        ))
        .unwrap_err();
    let err = ferroserve_http::ApiError::from(err);
    assert_eq!(
        (err.code, err.kind.as_str()),
        (409, "ConflictStatusException")
    );
    let names: Vec<String> = registry
        .defaults()
        .iter()
        .map(|m| m.key.to_string())
        .collect();
    assert_eq!(names, vec!["echo".to_string(), "spin".to_string()]);
}
