//! The limits table and the name rule through the management and inference routers, in
//! process: every number a registration or a scale can set is refused out of range with a
//! 400 naming it, a refusal changes nothing, workers come out of a bounded budget, and
//! names that could never be registered are refused without being echoed whole.

mod common;

use axum::body::Body;
use common::app::{On, TestApp};
use serde_json::Value;

async fn models(t: &TestApp) -> Value {
    t.call(On::Management, "GET", "/models", None, Body::empty())
        .await
        .ok()["models"]
        .clone()
}

async fn min_workers(t: &TestApp, model: &str) -> (Value, Value) {
    let d = t
        .call(
            On::Management,
            "GET",
            &format!("/models/{model}"),
            None,
            Body::empty(),
        )
        .await;
    let d = &d.ok()[0];
    (d["minWorkers"].clone(), d["maxWorkers"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_numbers_out_of_range_are_400s_that_register_nothing() {
    let t = TestApp::open();
    let cases = [
        ("&batch_size=0", "batch_size = 0 (asked in the request)"),
        ("&batch_size=1000000000000", "batch_size = 1000000000000"),
        ("&batch_size=101", "(this server's job_queue_size)"),
        (
            "&max_batch_delay=18446744073709551615",
            "limit_batch_delay_ms",
        ),
        (
            "&response_timeout=18446744073709551615",
            "response_timeout = 18446744073709551615",
        ),
        ("&response_timeout=0", "response_timeout = 0"),
        ("&initial_workers=100000", "min_workers = 100000"),
        ("&initial_workers=33", "limit_workers_per_model"),
    ];
    for (extra, says) in cases {
        let a = t.register(None, "echo.mar", extra).await;
        let message = a.error(400, "OutOfRange");
        assert!(message.contains(says), "{extra}: {message}");
        assert!(message.contains("expected "), "{extra}: {message}");
    }
    // Numbers that do not even parse are TorchServe's BadRequest, as before.
    let a = t
        .register(None, "echo.mar", "&batch_size=99999999999999999999999")
        .await;
    assert_eq!(a.status.as_u16(), 400, "{}", a.text);
    assert_eq!(models(&t).await, serde_json::json!([]));
    t.register(None, "echo.mar", "&batch_size=100&initial_workers=32")
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_scale_changes_nothing() {
    let t = TestApp::open();
    t.register(None, "echo.mar", "&initial_workers=2")
        .await
        .ok();
    let before = min_workers(&t, "echo").await;
    for (q, kind) in [
        ("min_worker=100000", "OutOfRange"),
        ("min_worker=33", "OutOfRange"),
        ("min_worker=5&max_worker=3", "InvalidWorkerSettings"),
        ("min_worker=1&max_worker=18446744073709551615", "OutOfRange"),
        ("max_worker=0&min_worker=0", "OutOfRange"),
    ] {
        let a = t
            .call(
                On::Management,
                "PUT",
                &format!("/models/echo?{q}&synchronous=true"),
                None,
                Body::empty(),
            )
            .await;
        let message = a.error(400, kind);
        assert!(message.contains("_worker"), "{q}: {message}");
        assert_eq!(
            min_workers(&t, "echo").await,
            before,
            "{q} changed the model"
        );
    }
    assert_eq!(t.predict(None, "echo", "[1]").await.status.as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_come_out_of_the_server_budget() {
    let t = TestApp::with(|c| c.limit_workers_total = 4);
    t.register(None, "echo.mar", "&initial_workers=3")
        .await
        .ok();
    let a = t.register(None, "echo-2.0.mar", "&initial_workers=2").await;
    let message = a.error(503, "WorkerBudgetExceeded");
    assert!(message.contains("limit_workers_total"), "{message}");
    assert!(a.headers.contains_key("retry-after"), "{:?}", a.headers);
    // Scaling within the budget works; past it is refused and leaves the bounds alone.
    let scale = |q: &'static str| {
        let t = &t;
        async move {
            t.call(
                On::Management,
                "PUT",
                &format!("/models/echo?{q}&synchronous=true"),
                None,
                Body::empty(),
            )
            .await
        }
    };
    scale("min_worker=1&max_worker=4").await.ok();
    scale("min_worker=5")
        .await
        .error(503, "WorkerBudgetExceeded");
    assert_eq!(
        min_workers(&t, "echo").await,
        (serde_json::json!(1), serde_json::json!(4))
    );
    // Unregistering gives its workers back.
    t.call(
        On::Management,
        "DELETE",
        "/models/echo",
        None,
        Body::empty(),
    )
    .await
    .ok();
    t.register(None, "echo-2.0.mar", "&initial_workers=4")
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_take_more_than_its_share_of_workers() {
    let t = TestApp::with(|c| {
        c.auth = "tokens".into();
        c.limit_workers_per_tenant = 3;
    });
    let (a, b) = (t.tenant("a", "{}").await, t.tenant("b", "{}").await);
    t.register(Some(&a), "echo.mar", "&initial_workers=3")
        .await
        .ok();
    let refused = t
        .register(Some(&a), "echo-2.0.mar", "&initial_workers=1")
        .await;
    let message = refused.error(429, "WorkerBudgetExceeded");
    assert!(message.contains("tenant a has 3 of its 3"), "{message}");
    // The other tenant's share is its own.
    t.register(Some(&b), "echo.mar", "&initial_workers=3")
        .await
        .ok();
    assert_eq!(
        t.predict(Some(&b), "echo", "[1]").await.status.as_u16(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_follow_one_rule_on_every_route() {
    let t = TestApp::open();
    let long = "n".repeat(10_000);
    for name in [
        "x%2Fy",
        "a%2Fshadow",
        "%0A",
        "a%0Ab",
        "a%22b",
        "a%00b",
        "-x",
        "a%20b",
        &long,
    ] {
        let a = t
            .register(None, "echo.mar", &format!("&model_name={name}"))
            .await;
        let message = a.error(400, "InvalidModelName");
        assert!(message.len() < 300, "{name}: the name is echoed whole");
        for (on, method, path) in [
            (On::Inference, "POST", format!("/predictions/{name}")),
            (On::Inference, "POST", format!("/predictions/echo/{name}")),
            (On::Management, "GET", format!("/models/{name}")),
            (On::Management, "DELETE", format!("/models/{name}")),
            (
                On::Management,
                "PUT",
                format!("/models/{name}?min_worker=1"),
            ),
            (On::Inference, "GET", format!("/v2/models/{name}")),
            (On::Inference, "POST", format!("/v1/models/{name}:predict")),
        ] {
            let a = t.call(on, method, &path, None, "[1]").await;
            assert_eq!(a.status.as_u16(), 400, "{method} {path}: {}", a.text);
            assert!(a.text.len() < 400, "{method} {path}: {}", a.text.len());
            assert!(a.text.contains("not valid"), "{method} {path}: {}", a.text);
        }
    }
    assert_eq!(models(&t).await, serde_json::json!([]));
    t.register(None, "echo.mar", "&model_name=echo.v1_x-2")
        .await
        .ok();
    assert_eq!(
        t.predict(None, "echo.v1_x-2", "[1]").await.status.as_u16(),
        200
    );
}

/// A request body that sends `first` and then nothing, for as long as the sender lives.
fn stalled(first: &'static [u8]) -> (Body, http_body_util::channel::Sender<bytes::Bytes>) {
    let (mut tx, body) = http_body_util::channel::Channel::<bytes::Bytes>::new(1);
    tx.try_send(hyper::body::Frame::data(bytes::Bytes::from_static(first)))
        .ok()
        .unwrap();
    (Body::new(body), tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_costs_its_own_tenant_a_slot_for_seconds() {
    let t = TestApp::with(|c| {
        c.auth = "tokens".into();
        c.body_read_timeout_s = 1;
    });
    let hostile = t
        .tenant("hostile", r#"{"max_concurrent_requests": 2}"#)
        .await;
    let victim = t.tenant("victim", "{}").await;
    t.register(Some(&hostile), "echo.mar", "").await.ok();
    t.register(Some(&victim), "echo.mar", "").await.ok();
    let started = std::time::Instant::now();
    let mut held = Vec::new();
    for _ in 0..2 {
        let (body, tx) = stalled(b"[1");
        let (t2, token) = (t.app.inference.clone(), hostile.clone());
        held.push((
            tx,
            tokio::spawn(async move {
                use tower::ServiceExt;
                let r = axum::http::Request::post("/predictions/echo")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-length", "1000")
                    .body(body)
                    .unwrap();
                t2.oneshot(r).await.unwrap()
            }),
        ));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The hostile tenant's third request finds its own slots taken, before sending a body.
    let third = t.predict(Some(&hostile), "echo", "[1]").await;
    let message = third.error(429, "QuotaExceeded");
    assert!(message.contains("max_concurrent_requests"), "{message}");
    // Another tenant is untouched.
    for _ in 0..20 {
        assert_eq!(
            t.predict(Some(&victim), "echo", "[1]")
                .await
                .status
                .as_u16(),
            200
        );
    }
    for (_tx, task) in held {
        let response = task.await.unwrap();
        assert_eq!(response.status().as_u16(), 408);
        assert_eq!(response.headers()["connection"], "close");
    }
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(30),
        "held for {took:?}"
    );
    // Its slots are back.
    assert_eq!(
        t.predict(Some(&hostile), "echo", "[1]")
            .await
            .status
            .as_u16(),
        200
    );
}

fn kept_archives(t: &TestApp) -> usize {
    std::fs::read_dir(t.state.path().join("archives")).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_uploads_leave_nothing_on_disk() {
    let t = TestApp::open();
    let echo = std::fs::read(t.store.join("echo.mar")).unwrap();
    let mut truncated = echo.clone();
    truncated.truncate(echo.len() / 2);
    for i in 0..20u8 {
        let junk = if i % 2 == 0 {
            vec![i; 100_000]
        } else {
            truncated.clone()
        };
        let a = t.call(On::Management, "POST", "/models", None, junk).await;
        assert_eq!(a.status.as_u16(), 400, "{}", a.text);
        assert_eq!(kept_archives(&t), 0, "upload {i} was kept");
    }
    t.call(On::Management, "POST", "/models", None, echo.clone())
        .await
        .ok();
    // The same bytes again: refused (the version exists), but the registered model's
    // archive stays.
    let again = t.call(On::Management, "POST", "/models", None, echo).await;
    again.error(409, "ConflictStatusException");
    assert_eq!(kept_archives(&t), 1);
    assert_eq!(t.predict(None, "echo", "[1]").await.status.as_u16(), 200);
    t.call(
        On::Management,
        "DELETE",
        "/models/echo",
        None,
        Body::empty(),
    )
    .await
    .ok();
    assert_eq!(kept_archives(&t), 0);
    let metrics = t
        .call(On::Metrics, "GET", "/metrics", None, Body::empty())
        .await;
    assert!(
        metrics
            .text
            .contains("ferroserve_state_dir_bytes{part=\"archives\"} 0"),
        "{}",
        metrics.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_keeps_no_more_archive_bytes_than_its_storage_quota() {
    let t = TestApp::tokens();
    let echo = std::fs::read(t.store.join("echo.mar")).unwrap();
    let echo2 = std::fs::read(t.store.join("echo-2.0.mar")).unwrap();
    let quota = echo.len() + echo2.len() / 2;
    let a = t
        .tenant("a", &format!(r#"{{"max_storage_bytes": {quota}}}"#))
        .await;
    t.call(On::Management, "POST", "/models", Some(&a), echo.clone())
        .await
        .ok();
    let over = t
        .call(On::Management, "POST", "/models", Some(&a), echo2)
        .await;
    let message = over.error(429, "QuotaExceeded");
    assert!(message.contains("max_storage_bytes"), "{message}");
    assert_eq!(kept_archives(&t), 1, "the refused upload was kept");
    // Registering the same bytes under another name costs nothing more.
    t.call(
        On::Management,
        "POST",
        "/models?model_name=twin",
        Some(&a),
        echo,
    )
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_shows_a_tenant_its_own_models_only() {
    let t = TestApp::tokens();
    let (a, b) = (t.tenant("a", "{}").await, t.tenant("b", "{}").await);
    t.register(Some(&a), "echo.mar", "").await.ok();
    t.register(Some(&b), "echo.mar", "&model_name=fine")
        .await
        .ok();
    // A's model falls below its minimum of workers (its workers have exited).
    let key = ferroserve_core::ModelKey::new(Some("a"), "echo");
    let sick = t.app.core.manager.registry().get(&key, None).unwrap();
    sick.pipeline.batcher().shutdown().await;
    let ping = |token: Option<String>| {
        let t = &t;
        async move {
            t.call(
                On::Inference,
                "GET",
                "/ping",
                token.as_deref(),
                Body::empty(),
            )
            .await
        }
    };
    let seen_by_b = ping(Some(b)).await;
    assert_eq!(seen_by_b.status.as_u16(), 200, "{}", seen_by_b.text);
    assert!(!seen_by_b.text.contains("echo"), "{}", seen_by_b.text);
    let seen_by_a = ping(Some(a)).await;
    assert_eq!(seen_by_a.status.as_u16(), 500);
    assert_eq!(
        seen_by_a.json["modelsBelowMinWorkers"],
        serde_json::json!(["echo:1.0"])
    );
    let seen_by_admin = ping(t.admin.clone()).await;
    assert_eq!(
        seen_by_admin.json["modelsBelowMinWorkers"],
        serde_json::json!(["a/echo:1.0"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_url_are_never_echoed_or_logged() {
    let t = TestApp::with(|c| {
        c.auth = "tokens".into();
        c.allowed_urls = vec!["https://models.internal/".into()];
    });
    let a = t.tenant("a", "{}").await;
    for url in [
        "https://alice:s3cret@evil.example/m.mar",
        "https://evil.example/m.mar?token=s3cret",
    ] {
        let r = t.register(Some(&a), url, "").await;
        assert_eq!(r.status.as_u16(), 403, "{}", r.text);
        assert!(!r.text.contains("s3cret"), "{}", r.text);
        assert!(r.text.contains("evil.example/m.mar"), "{}", r.text);
    }
    let mut logged = String::new();
    for entry in walk(t.state.path()) {
        logged.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    assert!(
        logged.contains("evil.example"),
        "the audit log names the URL"
    );
    assert!(
        !logged.contains("s3cret"),
        "a secret reached the state directory"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_store_is_the_operators_unless_shared() {
    let t = TestApp::with(|c| {
        c.auth = "tokens".into();
        c.tenants_use_model_store = false;
    });
    let a = t.tenant("a", "{}").await;
    let r = t.register(Some(&a), "echo.mar", "").await;
    let message = r.error(403, "Forbidden");
    assert!(message.contains("tenants_use_model_store"), "{message}");
    // The operator may, and the tenant may upload the same archive itself.
    t.register(t.admin.as_deref(), "echo.mar", "").await.ok();
    let bytes = std::fs::read(t.store.join("echo.mar")).unwrap();
    t.call(On::Management, "POST", "/models", Some(&a), bytes)
        .await
        .ok();
}
