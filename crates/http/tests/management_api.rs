//! Every management route in process (`App::build`, the fake runtime): each success and
//! each error a client can cause, with TorchServe's bodies and statuses.

mod common;

use axum::body::Body;
use common::app::{On, TestApp};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_describe_list_predict_unregister() {
    let t = TestApp::open();
    let a = t
        .register(None, "echo.mar", "&batch_size=4&max_batch_delay=7")
        .await;
    assert_eq!(
        a.ok()["status"],
        "Model \"echo\" Version: 1.0 registered with 1 initial workers"
    );
    let d = t
        .call(On::Management, "GET", "/models/echo", None, Body::empty())
        .await;
    let d = &d.ok()[0];
    assert_eq!(
        (&d["modelName"], &d["modelVersion"], &d["modelUrl"]),
        (&json!("echo"), &json!("1.0"), &json!("echo.mar"))
    );
    assert_eq!(
        (&d["batchSize"], &d["maxBatchDelay"]),
        (&json!(4), &json!(7))
    );
    assert_eq!(d["isDefault"], true);
    let p = t.predict(None, "echo", "[1.5, 2]").await;
    assert_eq!(
        p.ok()["outputs"]["output"],
        json!([3.0, 4.0]),
        "the fake model doubles"
    );
    let l = t
        .call(On::Management, "GET", "/models", None, Body::empty())
        .await;
    assert_eq!(
        l.ok()["models"],
        json!([{"modelName": "echo", "modelUrl": "echo.mar"}])
    );
    let u = t
        .call(
            On::Management,
            "DELETE",
            "/models/echo",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(u.ok()["status"], "Model \"echo\" unregistered");
    t.predict(None, "echo", "[1]")
        .await
        .error(404, "ModelNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_errors_name_the_problem() {
    let t = TestApp::open();
    t.register(None, "echo.mar", "").await.ok();
    let dup = t.register(None, "echo.mar", "").await;
    assert!(
        dup.error(409, "ConflictStatusException")
            .contains("already registered")
    );
    let missing = t
        .register(None, "nope.mar", "")
        .await
        .error(404, "ArchiveNotFound");
    let store = t.store.to_str().unwrap();
    assert!(
        !missing.contains(store),
        "the store's path is shown: {missing}"
    );
    t.register(None, "..%2Fecho.mar", "")
        .await
        .error(400, "InvalidArchiveName");
    let remote = t.register(None, "http://127.0.0.1:1/x.mar", "").await;
    assert!(remote.error(403, "UrlNotAllowed").contains("allowed_urls"));
    let q = t.register(None, "echo.mar", "&batch_size=many").await;
    assert!(q.error(400, "BadRequestException").contains("batch_size"));
    let unknown = t.register(None, "echo.mar", "&colour=red").await;
    unknown.error(400, "BadRequestException");
    let broken = t.register(None, "broken.mar", "").await;
    assert!(
        broken
            .error(400, "ModelLoadError")
            .contains("refuses to load")
    );
    let empty = t
        .call(On::Management, "POST", "/models", None, Body::empty())
        .await;
    empty.error(400, "MissingArchive");
    let junk = t
        .call(On::Management, "POST", "/models", None, "not a zip")
        .await;
    assert_eq!(junk.status.as_u16(), 400, "{}", junk.text);
    let runtime_loads = t.runtime.loads();
    assert_eq!(runtime_loads, 2, "refused archives never reach the runtime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_register_and_are_kept_until_unregistered() {
    let t = TestApp::open();
    let bytes = std::fs::read(t.store.join("echo.mar")).unwrap();
    let a = t
        .call(On::Management, "POST", "/models?model_name=up", None, bytes)
        .await;
    assert!(a.ok()["status"].as_str().unwrap().contains("\"up\""));
    let d = t
        .call(On::Management, "GET", "/models/up", None, Body::empty())
        .await;
    let url = d.ok()[0]["modelUrl"].as_str().unwrap().to_owned();
    let sha = url.strip_prefix("upload:").expect("upload:<sha256>");
    let kept = t.state.path().join("archives").join(format!("{sha}.mar"));
    assert!(kept.is_file());
    t.call(On::Management, "DELETE", "/models/up", None, Body::empty())
        .await
        .ok();
    assert!(!kept.exists(), "the kept archive goes with its last model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_scale_and_default() {
    let t = TestApp::open();
    t.register(None, "echo.mar", "").await.ok();
    t.register(None, "echo-2.0.mar", "").await.ok();
    let all = t
        .call(
            On::Management,
            "GET",
            "/models/echo/all",
            None,
            Body::empty(),
        )
        .await;
    let defaults: Vec<_> = all
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["isDefault"].clone())
        .collect();
    assert_eq!(defaults, vec![json!(true), json!(false)]);
    let s = t
        .call(
            On::Management,
            "PUT",
            "/models/echo/2.0?min_worker=2&max_worker=3&synchronous=true",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(
        s.ok()["status"],
        "Workers scaled to 2 for model: echo, version: 2.0"
    );
    let d = t
        .call(
            On::Management,
            "GET",
            "/models/echo/2.0",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(
        (&d.ok()[0]["minWorkers"], &d.ok()[0]["maxWorkers"]),
        (&json!(2), &json!(3))
    );
    let bad = t
        .call(
            On::Management,
            "PUT",
            "/models/echo?min_worker=3&max_worker=1",
            None,
            Body::empty(),
        )
        .await;
    bad.error(400, "InvalidWorkerSettings");
    let in_use = t
        .call(
            On::Management,
            "DELETE",
            "/models/echo/1.0",
            None,
            Body::empty(),
        )
        .await;
    assert!(
        in_use
            .error(403, "DefaultVersionInUse")
            .contains("set-default")
    );
    let sd = t
        .call(
            On::Management,
            "PUT",
            "/models/echo/2.0/set-default",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(
        sd.ok()["status"],
        "Default version successfully updated for model \"echo\" to \"2.0\""
    );
    t.call(
        On::Management,
        "PUT",
        "/models/echo/9.9/set-default",
        None,
        Body::empty(),
    )
    .await
    .error(404, "ModelVersionNotFoundException");
    let u = t
        .call(
            On::Management,
            "DELETE",
            "/models/echo/1.0",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(u.ok()["status"], "Model \"echo\" version: 1.0 unregistered");
    t.call(
        On::Management,
        "DELETE",
        "/models/echo/1.0",
        None,
        Body::empty(),
    )
    .await
    .error(404, "ModelVersionNotFoundException");
    t.call(
        On::Management,
        "GET",
        "/models/nope/all",
        None,
        Body::empty(),
    )
    .await
    .error(404, "ModelNotFoundException");
    t.call(On::Management, "PUT", "/models/nope", None, Body::empty())
        .await
        .error(404, "ModelNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_and_the_api_refuses_what_it_lacks() {
    let t = TestApp::open();
    t.register(None, "echo.mar", "").await.ok();
    t.register(None, "spin.mar", "").await.ok();
    let p1 = t
        .call(
            On::Management,
            "GET",
            "/models?limit=1",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(p1.ok()["models"][0]["modelName"], "echo");
    assert_eq!(p1.ok()["nextPageToken"], "1");
    let p2 = t
        .call(
            On::Management,
            "GET",
            "/models?limit=1&next_page_token=1",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(p2.ok()["models"][0]["modelName"], "spin");
    assert!(p2.ok().get("nextPageToken").is_none());
    let far = format!("/models?limit=1000&next_page_token={}", usize::MAX);
    let far = t
        .call(On::Management, "GET", &far, None, Body::empty())
        .await;
    assert_eq!(far.ok()["models"], json!([]));
    t.call(On::Management, "GET", "/nowhere", None, Body::empty())
        .await
        .error(404, "ResourceNotFoundException");
    t.call(On::Management, "PATCH", "/models", None, Body::empty())
        .await
        .error(405, "MethodNotAllowedException");
    let doc = t
        .call(On::Management, "OPTIONS", "/", None, Body::empty())
        .await;
    assert_eq!(doc.ok()["openapi"].as_str().map(|v| &v[..2]), Some("3."));
}
