//! Tenancy in process: the tenant admin API with its error paths, bearer auth on all
//! three listeners, namespaces (the isolation matrix), quotas, per-principal metrics and
//! the audit log.

mod common;

use axum::body::Body;
use common::app::{On, TestApp};
use serde_json::json;

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_api_and_its_errors() {
    let t = TestApp::tokens();
    let admin = t.admin.as_deref();
    let token = t.tenant("acme", "{}").await;
    assert!(token.starts_with("fs_"));
    let post =
        |body: &'static str| t.send(On::Management, "POST", "/tenants", admin, &[JSON], body);
    post(r#"{"name": "acme"}"#).await.error(409, "TenantExists");
    post(r#"{"name": "a/b"}"#)
        .await
        .error(400, "InvalidTenantName");
    let bad = post(r#"{"name": 7}"#).await;
    assert!(
        bad.error(400, "BadRequestException")
            .contains("\"name\": \"acme\"")
    );
    post(r#"{"name": "q", "quotas": {"max_modles": 1}}"#)
        .await
        .error(400, "BadRequestException");
    let list = t
        .call(On::Management, "GET", "/tenants", admin, Body::empty())
        .await;
    let listed = &list.ok()["tenants"][0];
    assert_eq!(listed["name"], "acme");
    assert!(
        !list.text.contains("sha256"),
        "hashes never leave the server"
    );
    let one = t
        .call(On::Management, "GET", "/tenants/acme", admin, Body::empty())
        .await;
    assert_eq!(one.ok()["quotas"]["max_models"], 10);
    t.call(On::Management, "GET", "/tenants/nope", admin, Body::empty())
        .await
        .error(404, "TenantNotFound");
    let issued = t
        .call(
            On::Management,
            "POST",
            "/tenants/acme/tokens",
            admin,
            Body::empty(),
        )
        .await;
    assert_eq!(issued.status.as_u16(), 201);
    let (id, second) = (
        issued.json["id"].as_str().unwrap(),
        issued.json["token"].as_str().unwrap(),
    );
    assert_eq!(
        t.call(
            On::Management,
            "GET",
            "/models",
            Some(second),
            Body::empty()
        )
        .await
        .status,
        200
    );
    let uri = format!("/tenants/acme/tokens/{id}");
    t.call(On::Management, "DELETE", &uri, admin, Body::empty())
        .await
        .ok();
    t.call(
        On::Management,
        "GET",
        "/models",
        Some(second),
        Body::empty(),
    )
    .await
    .error(401, "Unauthorized");
    t.call(On::Management, "DELETE", &uri, admin, Body::empty())
        .await
        .error(404, "TokenNotFound");
    t.call(
        On::Management,
        "POST",
        "/tenants/nope/tokens",
        admin,
        Body::empty(),
    )
    .await
    .error(404, "TenantNotFound");
    // A tenant, or the admin acting for one, may not manage tenants.
    t.call(
        On::Management,
        "GET",
        "/tenants",
        Some(&token),
        Body::empty(),
    )
    .await
    .error(403, "Forbidden");
    let acting = t
        .send(
            On::Management,
            "DELETE",
            "/tenants/acme",
            admin,
            &[("x-ferroserve-tenant", "acme")],
            Body::empty(),
        )
        .await;
    acting.error(403, "Forbidden");
    // Removing a tenant removes its models and its tokens.
    t.register(Some(&token), "echo.mar", "").await.ok();
    t.register(Some(&token), "echo-2.0.mar", "").await.ok();
    t.call(
        On::Management,
        "DELETE",
        "/tenants/acme",
        admin,
        Body::empty(),
    )
    .await
    .ok();
    assert!(t.app.core.manager.registry().all().is_empty());
    t.call(
        On::Inference,
        "POST",
        "/predictions/echo",
        Some(&token),
        "[1]",
    )
    .await
    .error(401, "Unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_needs_a_token() {
    let t = TestApp::tokens();
    let token = t.tenant("a", "{}").await;
    for (on, uri) in [
        (On::Inference, "/ping"),
        (On::Inference, "/v2/health/ready"),
        (On::Management, "/models"),
        (On::Metrics, "/metrics"),
    ] {
        let none = t.call(on, "GET", uri, None, Body::empty()).await;
        none.error_at(uri, 401, "Unauthorized");
        assert_eq!(none.headers["www-authenticate"], "Bearer", "{uri}");
        t.call(on, "GET", uri, Some("fs_forged"), Body::empty())
            .await
            .error_at(uri, 401, "Unauthorized");
        assert!(
            t.call(on, "GET", uri, Some(&token), Body::empty())
                .await
                .status
                .is_success(),
            "{uri}"
        );
        assert!(
            t.call(on, "GET", uri, t.admin.as_deref(), Body::empty())
                .await
                .status
                .is_success(),
            "{uri}"
        );
    }
    let unknown = t
        .send(
            On::Management,
            "GET",
            "/models",
            t.admin.as_deref(),
            &[("x-ferroserve-tenant", "ghost")],
            Body::empty(),
        )
        .await;
    assert!(
        unknown
            .error(404, "TenantNotFound")
            .contains("x-ferroserve-tenant")
    );
    let open = TestApp::with(|c| {
        c.auth = "tokens".into();
        c.metrics_auth = false;
    });
    assert_eq!(
        open.call(On::Metrics, "GET", "/metrics", None, Body::empty())
            .await
            .status,
        200
    );
}

const V2: &str = r#"{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}"#;

/// Every cell that names a model: listener, method, path (`NAME` for the model), body.
const CELLS: &[(On, &str, &str, &str)] = &[
    (On::Inference, "POST", "/predictions/NAME", "[1]"),
    (On::Inference, "POST", "/predictions/NAME/1.0", "[1]"),
    (On::Inference, "POST", "/v2/models/NAME/infer", V2),
    (
        On::Inference,
        "POST",
        "/v2/models/NAME/versions/1.0/infer",
        V2,
    ),
    (On::Inference, "GET", "/v2/models/NAME", ""),
    (On::Inference, "GET", "/v2/models/NAME/versions/1.0", ""),
    (On::Inference, "GET", "/v2/models/NAME/ready", ""),
    (
        On::Inference,
        "GET",
        "/v2/models/NAME/versions/1.0/ready",
        "",
    ),
    (On::Management, "GET", "/models/NAME", ""),
    (On::Management, "GET", "/models/NAME/all", ""),
    (On::Management, "GET", "/models/NAME/1.0", ""),
    (On::Management, "PUT", "/models/NAME?min_worker=2", ""),
    (On::Management, "PUT", "/models/NAME/1.0/set-default", ""),
    (On::Management, "DELETE", "/models/NAME/1.0", ""),
    (On::Management, "DELETE", "/models/NAME", ""),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_reach_each_others_models_nor_tell_they_exist() {
    let t = TestApp::tokens();
    let (a, b) = (t.tenant("a", "{}").await, t.tenant("b", "{}").await);
    t.register(Some(&a), "echo.mar", "").await.ok();
    t.register(Some(&b), "echo.mar", "").await.ok();
    t.register(Some(&b), "spin.mar", "&model_name=secret")
        .await
        .ok();
    let json_body = [JSON];
    for (on, method, path, body) in CELLS {
        let theirs = t
            .send(
                *on,
                method,
                &path.replace("NAME", "secret"),
                Some(&a),
                &json_body,
                *body,
            )
            .await;
        let ghost = t
            .send(
                *on,
                method,
                &path.replace("NAME", "ghost"),
                Some(&a),
                &json_body,
                *body,
            )
            .await;
        assert_eq!(
            theirs.status.as_u16(),
            404,
            "{method} {path}: {}",
            theirs.text
        );
        assert_eq!(
            theirs.text,
            ghost.text.replace("ghost", "secret"),
            "{method} {path}: another tenant's model answers as a missing one"
        );
        let anonymous = t
            .send(
                *on,
                method,
                &path.replace("NAME", "secret"),
                None,
                &json_body,
                *body,
            )
            .await;
        anonymous.error_at(path, 401, "Unauthorized");
        assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
        let forged = t
            .send(
                *on,
                method,
                &path.replace("NAME", "secret"),
                Some("fs_forged"),
                &json_body,
                *body,
            )
            .await;
        forged.error_at(path, 401, "Unauthorized");
    }
    // The admin, acting for b, reaches b's model on every read and inference cell (it is
    // the spin fixture: its predictions stop at the handler deadline, 504).
    let as_b = [("x-ferroserve-tenant", "b"), JSON];
    for (on, method, path, body) in CELLS {
        if *method != "GET" && !matches!(on, On::Inference) {
            continue;
        }
        let path = path.replace("NAME", "secret");
        let reply = t
            .send(*on, method, &path, t.admin.as_deref(), &as_b, *body)
            .await;
        if path.contains("/predictions/") {
            reply.error(504, "HandlerDeadlineExceeded");
        } else {
            assert_eq!(
                reply.status.as_u16(),
                200,
                "admin {method} {path}: {}",
                reply.text
            );
        }
    }
    let list = t
        .call(On::Management, "GET", "/models", Some(&a), Body::empty())
        .await;
    assert_eq!(
        list.ok()["models"],
        json!([{"modelName": "echo", "modelUrl": "echo.mar"}])
    );
    // Each tenant's metrics are its own; the admin sees all.
    let mine = t
        .call(On::Metrics, "GET", "/metrics", Some(&a), Body::empty())
        .await
        .text;
    assert!(mine.contains(r#"model_name="a/echo""#), "{mine}");
    assert!(!mine.contains(r#"model_name="b/"#), "{mine}");
    let all = t
        .call(
            On::Metrics,
            "GET",
            "/metrics",
            t.admin.as_deref(),
            Body::empty(),
        )
        .await
        .text;
    assert!(all.contains(r#"model_name="a/echo""#) && all.contains(r#"model_name="b/secret""#));
    // Tenant administration is the admin's.
    for (method, path) in [
        ("GET", "/tenants"),
        ("DELETE", "/tenants/b"),
        ("POST", "/tenants/b/tokens"),
        ("GET", "/tenants/b"),
    ] {
        t.call(On::Management, method, path, Some(&a), Body::empty())
            .await
            .error(403, "Forbidden");
    }
    // Both own an `echo` and reach their own; b's secret survived every attempt.
    assert_eq!(
        t.predict(Some(&a), "echo", "[1]").await.ok()["outputs"]["output"],
        json!([2.0])
    );
    assert_eq!(
        t.predict(Some(&b), "echo", "[3]").await.ok()["outputs"]["output"],
        json!([6.0])
    );
    let secret = t
        .call(
            On::Management,
            "GET",
            "/models/secret",
            Some(&b),
            Body::empty(),
        )
        .await;
    assert_eq!(
        secret.ok()[0]["minWorkers"],
        1,
        "a's scale did not reach it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_are_429s_that_name_the_quota() {
    let t = TestApp::tokens();
    let quotas = r#"{"max_models": 1, "max_concurrent_requests": 1, "max_handler_memory_mib": 16}"#;
    let a = t.tenant("a", quotas).await;
    let b = t.tenant("b", "{}").await;
    let c = t.tenant("c", r#"{"max_archive_bytes": 1000}"#).await;
    t.register(Some(&a), "slow.mar", "").await.ok();
    let more = t.register(Some(&a), "echo.mar", "").await;
    assert!(more.error(429, "QuotaExceeded").contains("max_models = 1"));
    let d = t
        .call(
            On::Management,
            "GET",
            "/models/slow",
            Some(&a),
            Body::empty(),
        )
        .await;
    assert_eq!(
        d.ok()[0]["handlerLimits"]["memoryBytes"],
        16 << 20,
        "capped by the quota"
    );
    let bytes = std::fs::read(t.store.join("echo.mar")).unwrap();
    let up = t
        .call(On::Management, "POST", "/models", Some(&c), bytes)
        .await;
    assert!(
        up.error(429, "QuotaExceeded")
            .contains("max_archive_bytes = 1000")
    );
    let named = t.register(Some(&c), "echo.mar", "").await;
    assert!(
        named
            .error(429, "QuotaExceeded")
            .contains("max_archive_bytes = 1000")
    );
    // Two requests at once to the slow model: the second is over max_concurrent_requests.
    let (first, second) = tokio::join!(t.predict(Some(&a), "slow", "[1]"), async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        t.predict(Some(&a), "slow", "[1]").await
    });
    assert_eq!(first.ok()["outputs"]["output"], json!([2.0]));
    assert!(
        second
            .error(429, "QuotaExceeded")
            .contains("max_concurrent_requests = 1")
    );
    assert_eq!(second.headers["retry-after"], "1");
    // Another tenant is untouched by a's quotas.
    t.register(Some(&b), "echo.mar", "").await.ok();
    assert_eq!(t.predict(Some(&b), "echo", "[1]").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_audited_with_who_what_and_outcome() {
    let t = TestApp::tokens();
    let a = t.tenant("a", "{}").await;
    t.register(Some(&a), "echo.mar", "").await.ok();
    t.call(
        On::Management,
        "DELETE",
        "/models/nope",
        Some(&a),
        Body::empty(),
    )
    .await;
    t.call(
        On::Management,
        "PUT",
        "/models/echo?min_worker=2&synchronous=true",
        Some(&a),
        Body::empty(),
    )
    .await
    .ok();
    let lines = t.audit();
    let has = |who: &str, action: &str, target: &str, result: &str| {
        lines.iter().any(|l| {
            l["who"] == who
                && l["action"] == action
                && l["target"] == target
                && l["result"] == result
        })
    };
    assert!(has("admin", "create-tenant", "a", "ok"), "{lines:?}");
    assert!(has("tenant a", "register", "echo.mar", "ok"), "{lines:?}");
    assert!(
        has("tenant a", "scale min=2 max=2", "echo", "ok"),
        "{lines:?}"
    );
    let failed = lines.iter().find(|l| l["action"] == "unregister").unwrap();
    assert_eq!(
        (&failed["result"], &failed["class"], &failed["type"]),
        (
            &json!("error"),
            &json!("not_found"),
            &json!("ModelNotFoundException")
        )
    );
    assert!(
        lines
            .iter()
            .all(|l| l["time"].as_str().is_some_and(|s| s.ends_with('Z')))
    );
}
