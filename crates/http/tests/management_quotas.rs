//! A tenant's management quotas in process: the rate of its changes (registrations,
//! scale, unregister, set-default; `max_management_changes_per_minute`) and its management
//! requests in flight (`max_concurrent_management`). Each refusal is a 429 naming the quota,
//! changes nothing, reads no upload, and leaves other tenants and the operator alone.

mod common;

use std::time::Duration;

use axum::body::{Body, Bytes};
use common::app::{On, TestApp};

async fn scale(t: &TestApp, token: &str, model: &str, workers: u32) -> common::app::Answer {
    let uri = format!("/models/{model}?min_worker={workers}&max_worker={workers}&synchronous=true");
    t.call(On::Management, "PUT", &uri, Some(token), Body::empty())
        .await
}

fn kept_files(t: &TestApp) -> usize {
    std::fs::read_dir(t.state.path().join("archives"))
        .map_or(0, |d| d.filter_map(Result::ok).count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_past_the_rate_are_429s_that_change_nothing() {
    let t = TestApp::tokens();
    let a = t
        .tenant("a", r#"{"max_management_changes_per_minute": 3}"#)
        .await;
    let b = t.tenant("b", "{}").await;
    t.register(Some(&a), "echo.mar", "").await.ok();
    assert_eq!(scale(&t, &a, "echo", 2).await.status, 200);
    assert_eq!(scale(&t, &a, "echo", 1).await.status, 200);
    // The fourth change within the minute, whatever it is.
    let over = scale(&t, &a, "echo", 3).await;
    let message = over.error(429, "QuotaExceeded");
    assert!(
        message.contains("max_management_changes_per_minute = 3"),
        "{message}"
    );
    let wait: u64 = over.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (15..=20).contains(&wait),
        "3 a minute: one every 20 s ({wait})"
    );
    let described = t
        .call(
            On::Management,
            "GET",
            "/models/echo",
            Some(&a),
            Body::empty(),
        )
        .await;
    assert_eq!(
        described.ok()[0]["minWorkers"],
        1,
        "the refused scale changed nothing"
    );
    // An upload is refused before its body is read: one that never ends is answered.
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes>::new(1);
    tx.try_send(hyper::body::Frame::data(Bytes::from_static(b"PK")))
        .ok()
        .unwrap();
    let upload = t.call(On::Management, "POST", "/models", Some(&a), Body::new(body));
    let upload = tokio::time::timeout(Duration::from_secs(30), upload)
        .await
        .expect("the refusal waited for the body");
    upload.error(429, "QuotaExceeded");
    drop(tx);
    let bytes = std::fs::read(t.store.join("echo-2.0.mar")).unwrap();
    let upload = t
        .call(On::Management, "POST", "/models", Some(&a), bytes)
        .await;
    upload.error(429, "QuotaExceeded");
    assert_eq!(kept_files(&t), 0, "a refused upload is never kept");
    for refused in [
        t.call(
            On::Management,
            "DELETE",
            "/models/echo",
            Some(&a),
            Body::empty(),
        )
        .await,
        t.call(
            On::Management,
            "PUT",
            "/models/echo/1.0/set-default",
            Some(&a),
            Body::empty(),
        )
        .await,
        t.call(
            On::Inference,
            "POST",
            "/v2/repository/models/echo/unload",
            Some(&a),
            Body::empty(),
        )
        .await,
    ] {
        assert_eq!(refused.status, 429, "{}", refused.text);
    }
    // Reading is not a change, and inference goes on.
    assert_eq!(t.predict(Some(&a), "echo", "[1]").await.status, 200);
    // Another tenant and the operator change what they like.
    t.register(Some(&b), "echo.mar", "").await.ok();
    for w in [2, 1, 2, 1, 2] {
        assert_eq!(scale(&t, &b, "echo", w).await.status, 200);
    }
    let admin = t.admin.as_deref().unwrap();
    t.register(Some(admin), "echo.mar", "").await.ok();
    for w in 1..=12 {
        assert_eq!(scale(&t, admin, "echo", w % 3 + 1).await.status, 200, "{w}");
    }
    // a's models are where a left them.
    assert_eq!(t.predict(Some(&a), "echo", "[1]").await.status, 200);
}

async fn register_for(t: &TestApp, tenant: &str) {
    let admin = t.admin.as_deref();
    let acting = [("x-ferroserve-tenant", tenant)];
    let uri = "/models?url=echo.mar";
    t.send(On::Management, "POST", uri, admin, &acting, Body::empty())
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_burst_is_ten_and_zero_means_the_operator_alone() {
    let t = TestApp::tokens();
    // 12 a minute: the burst of 10, then one every 5 s (slow enough not to refill here).
    let a = t
        .tenant("a", r#"{"max_management_changes_per_minute": 12}"#)
        .await;
    t.register(Some(&a), "echo.mar", "").await.ok();
    let mut answered = Vec::new();
    for i in 0..12 {
        answered.push(scale(&t, &a, "echo", i % 2 + 1).await.status.as_u16());
    }
    // 1 registration + 9 scales, then the rate applies.
    assert_eq!(answered[..9], [200; 9], "{answered:?}");
    assert_eq!(answered[9..], [429; 3], "{answered:?}");

    // Out-of-range scales are changes too: a loop of refused ones costs the same. The
    // operator acting for a tenant spends none of its changes.
    let c = t
        .tenant("c", r#"{"max_management_changes_per_minute": 1}"#)
        .await;
    register_for(&t, "c").await;
    scale(&t, &c, "echo", 100_000)
        .await
        .error(400, "OutOfRange");
    scale(&t, &c, "echo", 1).await.error(429, "QuotaExceeded");

    let frozen = t
        .tenant("frozen", r#"{"max_management_changes_per_minute": 0}"#)
        .await;
    let refused = t.register(Some(&frozen), "echo.mar", "").await;
    let message = refused.error(429, "QuotaExceeded");
    assert!(!message.contains("retry in"), "{message}");
    assert!(
        refused.headers.get("retry-after").is_none(),
        "waiting does not help"
    );
    register_for(&t, "frozen").await;
    assert_eq!(t.predict(Some(&frozen), "echo", "[1]").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_holds_only_its_tenants_management_slot() {
    let t = TestApp::tokens();
    let a = t.tenant("a", r#"{"max_concurrent_management": 1}"#).await;
    let b = t.tenant("b", r#"{"max_concurrent_management": 1}"#).await;
    // An upload whose body never ends, sent as a: it holds a's one slot.
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes>::new(1);
    tx.try_send(hyper::body::Frame::data(Bytes::from_static(b"PK")))
        .ok()
        .unwrap();
    let app = &t;
    let stalled = async {
        app.call(On::Management, "POST", "/models", Some(&a), Body::new(body))
            .await
    };
    let checks = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = app
            .call(On::Management, "GET", "/models", Some(&a), Body::empty())
            .await;
        let message = second.error(429, "QuotaExceeded");
        assert!(
            message.contains("max_concurrent_management = 1"),
            "{message}"
        );
        assert_eq!(second.headers["retry-after"], "1");
        // b's slot is its own.
        app.register(Some(&b), "echo.mar", "").await.ok();
        let listed = app
            .call(On::Management, "GET", "/models", Some(&b), Body::empty())
            .await;
        assert_eq!(listed.ok()["models"][0]["modelName"], "echo");
        drop(tx); // the body ends: a's upload is answered and its slot comes back
    };
    let (upload, ()) = tokio::join!(stalled, checks);
    assert_eq!(upload.status.as_u16() / 100, 4, "{}", upload.text);
    let after = t
        .call(On::Management, "GET", "/models", Some(&a), Body::empty())
        .await;
    after.ok();
    assert_eq!(kept_files(&t), 0, "the stalled upload is not kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_out_of_range_are_refused_at_creation() {
    let t = TestApp::tokens();
    let admin = t.admin.as_deref();
    for (quotas, field) in [
        (
            r#"{"max_concurrent_requests": 4611686018427387904}"#,
            "max_concurrent_requests",
        ),
        (
            r#"{"max_concurrent_management": 1000000000}"#,
            "max_concurrent_management",
        ),
        (
            r#"{"max_management_changes_per_minute": 18446744073709551615}"#,
            "max_management_changes_per_minute",
        ),
        (
            r#"{"max_handler_deadline_ms": 0}"#,
            "max_handler_deadline_ms",
        ),
        (r#"{"max_handler_memory_mib": 0}"#, "max_handler_memory_mib"),
    ] {
        let body = format!(r#"{{"name": "x", "quotas": {quotas}}}"#);
        let refused = t
            .send(
                On::Management,
                "POST",
                "/tenants",
                admin,
                &[("content-type", "application/json")],
                body,
            )
            .await;
        let message = refused.error(400, "OutOfRange");
        assert!(message.starts_with(field), "{message}");
    }
    let listed = t
        .call(On::Management, "GET", "/tenants", admin, Body::empty())
        .await;
    assert_eq!(
        listed.ok()["tenants"].as_array().map(Vec::len),
        Some(0),
        "{}",
        listed.text
    );
}
