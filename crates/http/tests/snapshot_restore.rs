//! A restart in process: build an app, register and change models, drop it, build another
//! on the same state directory: every registration comes back with its settings, its
//! default version and its namespace.

mod common;

use axum::body::Body;
use common::app::{On, TestApp};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_survive_a_restart() {
    let t = TestApp::tokens();
    let a = t.tenant("a", "{}").await;
    t.register(t.admin.as_deref(), "echo.mar", "&batch_size=3")
        .await
        .ok();
    t.register(t.admin.as_deref(), "echo-2.0.mar", "")
        .await
        .ok();
    t.call(
        On::Management,
        "PUT",
        "/models/echo/2.0/set-default",
        t.admin.as_deref(),
        Body::empty(),
    )
    .await
    .ok();
    t.call(
        On::Management,
        "PUT",
        "/models/echo/1.0?min_worker=2&max_worker=2&synchronous=true",
        t.admin.as_deref(),
        Body::empty(),
    )
    .await
    .ok();
    let upload = std::fs::read(t.store.join("spin.mar")).unwrap();
    t.call(On::Management, "POST", "/models", Some(&a), upload)
        .await
        .ok();
    let admin = t.admin.clone();

    let t = t.restart().await;
    assert_eq!(t.admin, admin, "the admin token is kept");
    let all = t
        .call(
            On::Management,
            "GET",
            "/models/echo/all",
            admin.as_deref(),
            Body::empty(),
        )
        .await;
    let v1 = &all.ok()[0];
    assert_eq!(
        (&v1["modelVersion"], &v1["batchSize"], &v1["minWorkers"]),
        (&json!("1.0"), &json!(3), &json!(2))
    );
    assert_eq!(v1["isDefault"], false);
    assert_eq!(all.ok()[1]["isDefault"], true, "2.0 stays the default");
    let d = t
        .call(
            On::Management,
            "GET",
            "/models/spin",
            Some(&a),
            Body::empty(),
        )
        .await;
    assert!(
        d.ok()[0]["modelUrl"]
            .as_str()
            .unwrap()
            .starts_with("upload:")
    );
    t.call(
        On::Management,
        "GET",
        "/models/spin",
        admin.as_deref(),
        Body::empty(),
    )
    .await
    .error(404, "ModelNotFoundException");
    assert_eq!(
        t.predict(admin.as_deref(), "echo", "[2]").await.ok()["outputs"]["output"],
        json!([4.0])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_tenants_models_do_not_come_back() {
    let t = TestApp::tokens();
    let a = t.tenant("a", "{}").await;
    t.register(Some(&a), "echo.mar", "").await.ok();
    // The tenant is removed from the tenant store alone, as a crash between the two
    // removals would leave it.
    t.app.core.manager.tenants().remove("a").unwrap();
    let t = t.restart().await;
    assert!(t.app.core.manager.registry().all().is_empty());
}
