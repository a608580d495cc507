//! The listener stack (`layers::apply`) around the real inference router plus a few test
//! routes, driven with `oneshot`: request ids, the JSON access log and its span, the body
//! limit (declared and streamed), the timeout, the in-flight cap and panics.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::{get, post};
use common::*;
use ferroserve_core::Registry;
use ferroserve_http::inference;
use ferroserve_http::layers::{self, HttpLimits};
use ferroserve_test_fixtures as fx;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::Notify;
use tower::ServiceExt;

const LIMIT: usize = 64;

fn limits() -> HttpLimits {
    HttpLimits {
        max_body_bytes: LIMIT,
        request_timeout: Duration::from_secs(5),
        max_concurrent: 8,
        ..HttpLimits::default()
    }
}

/// The inference router with an `echo` model, plus test routes; `hold` parks `/hold`.
fn app(sandbox: &ferroserve_sandbox::Sandbox, hold: Arc<Hold>, limits: &HttpLimits) -> Router {
    let registry = Registry::default();
    let echo = pipeline(sandbox, fx::OK, Duration::from_secs(2));
    registry.insert(model("echo", "1.0", echo)).unwrap();
    let test_routes = Router::new()
        .route("/echo", post(|body: Bytes| async move { body }))
        .route("/log", get(log_inside))
        .route("/slow", get(slow))
        .route("/panic", get(panics))
        .route("/hold", get(move || hold_open(hold.clone())));
    layers::apply(
        inference::router(registry).merge(test_routes),
        "inference",
        limits,
    )
}

#[derive(Default)]
struct Hold {
    entered: Notify,
    release: Notify,
}

async fn hold_open(hold: Arc<Hold>) -> &'static str {
    hold.entered.notify_one();
    hold.release.notified().await;
    "released"
}

async fn log_inside() -> &'static str {
    tracing::info!("inside the handler");
    "logged"
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late"
}

async fn panics() -> &'static str {
    panic!("deliberate test panic")
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, json)
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// Exactly TorchServe's three keys, with `code` equal to the status.
fn assert_api_error(status: StatusCode, json: &Value, kind: &str) {
    let object = json
        .as_object()
        .unwrap_or_else(|| panic!("not JSON: {json}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["code", "message", "type"], "{json}");
    assert_eq!(json["code"], status.as_u16(), "{json}");
    assert_eq!(json["type"], kind, "{json}");
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && id.matches('-').count() == 4
}

#[tokio::test]
async fn request_ids_are_kept_or_generated_and_returned_on_every_response() {
    let sandbox = setup();
    let router = app(&sandbox, Arc::default(), &limits());
    let with_id = |uri: &str, id: &str| {
        Request::get(uri)
            .header("x-request-id", id)
            .body(Body::empty())
            .unwrap()
    };
    let (status, headers, _) = send(&router, with_id("/log", "client-id.7:a_b")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-request-id"], "client-id.7:a_b");

    // Unusable client ids are replaced; errors (404, 405) carry the id too.
    let (status, headers, json) = send(&router, with_id("/nowhere", "has spaces")).await;
    assert_api_error(status, &json, "ResourceNotFoundException");
    assert!(is_uuid(headers["x-request-id"].to_str().unwrap()));
    let (status, headers, json) =
        send(&router, Request::post("/log").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_api_error(status, &json, "MethodNotAllowedException");
    assert!(is_uuid(headers["x-request-id"].to_str().unwrap()));

    let (_, first, _) = send(&router, get_req("/ping")).await;
    let (_, second, _) = send(&router, get_req("/ping")).await;
    assert_ne!(first["x-request-id"], second["x-request-id"]);
}

/// A `MakeWriter` into a shared buffer, for reading back the JSON log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON log lines of this whole test binary. A global subscriber, installed before any
/// test sends a request: thread-local ones (`set_default`) lose events at random when other
/// tests' threads register the same callsites first.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    })
}

/// Every test starts here, so the log capture is in place before anything logs.
fn setup() -> ferroserve_sandbox::Sandbox {
    logs();
    sandbox()
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn each_request_logs_one_json_access_line_and_handler_logs_carry_its_id() {
    let sandbox = setup();
    let router = app(&sandbox, Arc::default(), &limits());

    let request = Request::get("/log")
        .header("x-request-id", "log-test-1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, request).await.0, StatusCode::OK);
    let request = Request::post("/echo")
        .header("x-request-id", "log-test-2")
        .header(header::CONTENT_LENGTH, "5")
        .body(Body::from("hello"))
        .unwrap();
    assert_eq!(send(&router, request).await.0, StatusCode::OK);

    let lines = logs().lines();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == layers::ACCESS_TARGET)
        .filter(|l| {
            ["log-test-1", "log-test-2"].contains(&l["fields"]["request_id"].as_str().unwrap())
        })
        .collect();
    assert_eq!(access.len(), 2, "{lines:#?}");
    let first = &access[0]["fields"];
    assert_eq!(access[0]["level"], "INFO");
    assert_eq!(first["api"], "inference");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/log");
    assert_eq!(first["status"], 200);
    assert_eq!(first["request_id"], "log-test-1");
    assert!(first["latency_us"].is_u64(), "{first}");
    assert!(
        first.get("bytes_in").is_none(),
        "no Content-Length: {first}"
    );
    let second = &access[1]["fields"];
    assert_eq!(
        (&second["method"], &second["bytes_in"]),
        (&"POST".into(), &5.into())
    );

    let inside = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "inside the handler"
                && l["span"]["request_id"] == "log-test-1"
        })
        .expect("the handler's log line");
    assert_eq!(inside["span"]["api"], "inference", "{inside}");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_json_before_the_handler_runs() {
    let sandbox = setup();
    let router = app(&sandbox, Arc::default(), &limits());
    let body = vec![b'1'; LIMIT + 1];
    let request = Request::post("/predictions/echo")
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, headers, json) = send(&router, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_api_error(status, &json, "RequestEntityTooLarge");
    let message = json["message"].as_str().unwrap();
    assert!(message.contains(&format!("{LIMIT} bytes")), "{message}");
    assert!(message.contains("--max-request-size"), "{message}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(headers.contains_key("x-request-id"));
}

/// A body with no declared length: `chunks` frames of `size` bytes.
async fn streamed(chunks: usize, size: usize) -> Body {
    let (mut tx, body) = http_body_util::Channel::<Bytes, std::convert::Infallible>::new(chunks);
    for _ in 0..chunks {
        tx.send_data(Bytes::from(vec![b'1'; size])).await.unwrap();
    }
    Body::new(body)
}

#[tokio::test]
async fn a_streamed_body_that_grows_over_the_limit_is_413_json() {
    let sandbox = setup();
    let router = app(&sandbox, Arc::default(), &limits());
    for uri in ["/predictions/echo", "/echo"] {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(streamed(10, 16).await)
            .unwrap();
        assert!(!request.headers().contains_key(header::CONTENT_LENGTH));
        let (status, _, json) = send(&router, request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{uri}: {json}");
        assert_api_error(status, &json, "RequestEntityTooLarge");
    }
    // Under the limit, the same kind of body goes through.
    let request = Request::post("/echo").body(streamed(2, 16).await).unwrap();
    let (status, _, json) = send(&router, request).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

#[tokio::test]
async fn a_request_past_the_timeout_is_504_json() {
    let sandbox = setup();
    let limits = HttpLimits {
        request_timeout: Duration::from_millis(50),
        ..limits()
    };
    let router = app(&sandbox, Arc::default(), &limits);
    let started = std::time::Instant::now();
    let (status, headers, json) = send(&router, get_req("/slow")).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_api_error(status, &json, "RequestTimeout");
    assert!(json["message"].as_str().unwrap().contains("50ms"), "{json}");
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn beyond_max_concurrent_requests_are_refused_at_once_with_503() {
    let sandbox = setup();
    let hold = Arc::new(Hold::default());
    let limits = HttpLimits {
        max_concurrent: 1,
        ..limits()
    };
    let router = app(&sandbox, hold.clone(), &limits);
    let held = tokio::spawn({
        let router = router.clone();
        async move { router.oneshot(get_req("/hold")).await.unwrap().status() }
    });
    hold.entered.notified().await;

    let refused = tokio::time::timeout(Duration::from_secs(2), send(&router, get_req("/ping")))
        .await
        .expect("refused at once, not queued");
    let (status, headers, json) = refused;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_api_error(status, &json, "ServiceUnavailableException");
    assert_eq!(headers[header::RETRY_AFTER], "1");
    assert!(headers.contains_key("x-request-id"));

    hold.release.notify_one();
    assert_eq!(held.await.unwrap(), StatusCode::OK);
    // The slot is free again.
    assert_eq!(send(&router, get_req("/ping")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_panicking_handler_is_500_json_and_the_listener_keeps_serving() {
    let sandbox = setup();
    let router = app(&sandbox, Arc::default(), &limits());
    let request = Request::get("/panic")
        .header("x-request-id", "panic-test")
        .body(Body::empty())
        .unwrap();
    let (status, headers, json) = send(&router, request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_api_error(status, &json, "InternalServerException");
    assert!(
        !json["message"].as_str().unwrap().contains("deliberate"),
        "panic messages stay in the log: {json}"
    );
    assert_eq!(headers["x-request-id"], "panic-test");
    let logged = logs().lines().into_iter().any(|l| {
        l["level"] == "ERROR"
            && l["fields"]["panic"] == "deliberate test panic"
            && l["span"]["request_id"] == "panic-test"
    });
    assert!(logged, "the panic is logged under the request's id");
    assert_eq!(send(&router, get_req("/log")).await.0, StatusCode::OK);
}

#[test]
fn default_limits_are_the_server_configs() {
    let limits = HttpLimits::default();
    assert_eq!(
        limits.max_body_bytes, 6_553_500,
        "TorchServe's max_request_size"
    );
    // One source of defaults: the same as `request_timeout_s` in ServerConfig.
    assert_eq!(limits.request_timeout, Duration::from_secs(300));
    assert_eq!(limits.max_concurrent, 1024);
    let uploads = HttpLimits::for_uploads(&ferroserve_core::ServerConfig::default());
    assert_eq!(uploads.max_body_bytes, 2 << 30, "max_upload_size");
}

#[tokio::test]
async fn bodies_up_to_the_limit_pass_even_above_axums_own_2_mb_default() {
    let sandbox = setup();
    let router = app(&sandbox, Arc::default(), &HttpLimits::default());
    let body = vec![b'1'; 3 << 20];
    let request = Request::post("/echo").body(Body::from(body)).unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(echoed.len(), 3 << 20);
}
