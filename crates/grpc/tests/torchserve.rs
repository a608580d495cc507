//! TorchServe's gRPC services in process: management from register to unregister with
//! TorchServe's replies, predictions through the handler, the refusals' codes, tokens and
//! tenants, request ids.

mod common;

use std::collections::HashMap;

use common::{TestGrpc, authed};
use ferroserve_grpc::pb::ts_inference::PredictionsRequest;
use ferroserve_grpc::pb::ts_inference::inference_ap_is_service_client::InferenceApIsServiceClient;
use ferroserve_grpc::pb::ts_management::management_ap_is_service_client::ManagementApIsServiceClient;
use ferroserve_grpc::pb::ts_management::{
    DescribeModelRequest, ListModelsRequest, RegisterModelRequest, ScaleWorkerRequest,
    SetDefaultRequest, UnregisterModelRequest,
};
use tonic::Code;

fn predict(model: &str, version: &str, data: &[u8]) -> PredictionsRequest {
    PredictionsRequest {
        model_name: model.into(),
        model_version: version.into(),
        input: HashMap::from([("data".to_string(), data.to_vec())]),
        sequence_id: None,
    }
}

fn register(url: &str) -> RegisterModelRequest {
    RegisterModelRequest {
        url: url.into(),
        initial_workers: 1,
        synchronous: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn register_predict_describe_scale_set_default_unregister() {
    let t = TestGrpc::open().await;
    let mut m = ManagementApIsServiceClient::new(t.management.clone());
    let mut i = InferenceApIsServiceClient::new(t.inference.clone());

    let msg = m
        .register_model(register("echo.mar"))
        .await
        .unwrap()
        .into_inner()
        .msg;
    assert_eq!(
        msg,
        "Model \"echo\" Version: 1.0 registered with 1 initial workers"
    );
    let msg = m
        .register_model(register("echo-2.0.mar"))
        .await
        .unwrap()
        .into_inner()
        .msg;
    assert!(msg.contains("Version: 2.0"), "{msg}");

    let reply = i.predictions(predict("echo", "", b"[1, 2]")).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&reply.get_ref().prediction).unwrap();
    assert_eq!(body["outputs"]["output"], serde_json::json!([2.0, 4.0]));
    assert!(reply.metadata().get("x-request-id").is_some());
    let reply = i.predictions(predict("echo", "2.0", b"[3]")).await.unwrap();
    assert!(!reply.into_inner().prediction.is_empty());

    let described = m
        .describe_model(DescribeModelRequest {
            model_name: "echo".into(),
            model_version: "all".into(),
            customized: false,
        })
        .await
        .unwrap()
        .into_inner()
        .msg;
    let d: serde_json::Value = serde_json::from_str(&described).unwrap();
    assert_eq!(d.as_array().unwrap().len(), 2, "{d}");
    assert_eq!(
        (d[0]["modelVersion"].as_str(), d[0]["isDefault"].as_bool()),
        (Some("1.0"), Some(true))
    );
    assert!(
        described.contains("\n  "),
        "pretty JSON, as TorchServe's GSON writes it"
    );

    let list = m
        .list_models(ListModelsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .msg;
    let l: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(l["models"][0]["modelName"], "echo", "{l}");

    let scale = |synchronous| ScaleWorkerRequest {
        model_name: "echo".into(),
        min_worker: 2,
        max_worker: 3,
        synchronous,
        ..Default::default()
    };
    let msg = m.scale_worker(scale(false)).await.unwrap().into_inner().msg;
    assert_eq!(msg, "Processing worker updates...");
    let msg = m.scale_worker(scale(true)).await.unwrap().into_inner().msg;
    assert_eq!(msg, "Workers scaled to 2 for model: echo");

    let msg = m
        .set_default(SetDefaultRequest {
            model_name: "echo".into(),
            model_version: "2.0".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .msg;
    assert_eq!(
        msg,
        "Default version successfully updated for model \"echo\" to \"2.0\""
    );

    let gone = m
        .unregister_model(UnregisterModelRequest {
            model_name: "echo".into(),
            model_version: "1.0".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .msg;
    assert_eq!(gone, "Model \"echo\" version: 1.0 unregistered");
    let e = i
        .predictions(predict("echo", "1.0", b"[1]"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    assert_eq!(
        e.metadata().get("x-ferroserve-error-type").unwrap(),
        "ModelVersionNotFoundException"
    );
}

#[tokio::test]
async fn refusals_carry_torchserves_codes_and_say_what_to_do() {
    let t = TestGrpc::open().await;
    let mut m = ManagementApIsServiceClient::new(t.management.clone());
    let mut i = InferenceApIsServiceClient::new(t.inference.clone());
    let e = m.register_model(register("")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("model store"), "{e:?}");
    let e = m.register_model(register("nope.mar")).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    m.register_model(register("echo.mar")).await.unwrap();
    let e = m.register_model(register("echo.mar")).await.unwrap_err();
    assert_eq!(
        e.code(),
        Code::Aborted,
        "a conflict is TorchServe's 409: {e:?}"
    );
    let e = i
        .predictions(predict("nope", "", b"[1]"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = i
        .predictions(predict("echo", "", b"not json"))
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::InvalidArgument,
        "a handler's bad-input: {e:?}"
    );
    assert!(e.message().contains("JSON"), "{e:?}");
    let mut two = predict("echo", "", b"[1]");
    two.input = HashMap::from([("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]);
    let e = i.predictions(two).await.unwrap_err();
    assert!(e.message().contains("\"data\""), "{e:?}");
    // The server still answers.
    i.predictions(predict("echo", "", b"[1]")).await.unwrap();
}

#[tokio::test]
async fn ping_reports_health_as_json() {
    let t = TestGrpc::open().await;
    let mut i = InferenceApIsServiceClient::new(t.inference.clone());
    let health = i.ping(()).await.unwrap().into_inner().health;
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h, serde_json::json!({"status": "Healthy"}));
}

#[tokio::test]
async fn the_model_api_switch_covers_grpc() {
    let t = TestGrpc::with(|c| c.model_api = false).await;
    let mut m = ManagementApIsServiceClient::new(t.management.clone());
    let e = m.register_model(register("echo.mar")).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("--enable-model-api"), "{e:?}");
}

#[tokio::test]
async fn tokens_and_tenants_apply_as_on_rest() {
    let t = TestGrpc::with(|c| c.auth = "tokens".into()).await;
    let admin = t.admin.clone().unwrap();
    let mut m = ManagementApIsServiceClient::new(t.management.clone());
    let mut i = InferenceApIsServiceClient::new(t.inference.clone());
    let e = m
        .list_models(ListModelsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("Bearer"), "{e:?}");
    let e = m
        .list_models(authed(ListModelsRequest::default(), Some("wrong"), None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);

    let manager = &t.core.manager;
    let admin_p = t
        .core
        .auth
        .principal(
            ferroserve_core::tenancy::Api::Management,
            Some(&admin),
            None,
        )
        .unwrap();
    for name in ["a", "b"] {
        manager
            .create_tenant(&admin_p, name, Default::default())
            .unwrap();
    }
    // Admin registers echo for tenant a; tenant b's token cannot see it.
    m.register_model(authed(register("echo.mar"), Some(&admin), Some("a")))
        .await
        .unwrap();
    let token_of = |tenant: &str| {
        let (_, secret) = manager.issue_token(&admin_p, tenant).unwrap();
        secret
    };
    let (ta, tb) = (token_of("a"), token_of("b"));
    i.predictions(authed(predict("echo", "", b"[1]"), Some(&ta), None))
        .await
        .unwrap();
    let e = i
        .predictions(authed(predict("echo", "", b"[1]"), Some(&tb), None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let list = m
        .list_models(authed(ListModelsRequest::default(), Some(&tb), None))
        .await
        .unwrap()
        .into_inner()
        .msg;
    assert!(!list.contains("echo"), "{list}");
}

/// A tenant's management changes past its rate are RESOURCE_EXHAUSTED naming the quota,
/// with `retry-after`, as REST's 429; another tenant still changes its models.
#[tokio::test]
async fn management_changes_past_the_tenants_rate_are_resource_exhausted() {
    let t = TestGrpc::with(|c| c.auth = "tokens".into()).await;
    let admin = t.admin.clone().unwrap();
    let admin_p = t
        .core
        .auth
        .principal(
            ferroserve_core::tenancy::Api::Management,
            Some(&admin),
            None,
        )
        .unwrap();
    let manager = &t.core.manager;
    let slow = ferroserve_core::tenancy::Quotas {
        max_management_changes_per_minute: 2,
        ..Default::default()
    };
    let (_, ta) = manager.create_tenant(&admin_p, "a", slow).unwrap();
    let (_, tb) = manager
        .create_tenant(&admin_p, "b", Default::default())
        .unwrap();
    let mut m = ManagementApIsServiceClient::new(t.management.clone());
    let scale = |token: &str, workers: i32| {
        let r = ScaleWorkerRequest {
            model_name: "echo".into(),
            min_worker: workers,
            max_worker: workers,
            synchronous: true,
            ..Default::default()
        };
        authed(r, Some(token), None)
    };
    for token in [&ta, &tb] {
        m.register_model(authed(register("echo.mar"), Some(token), None))
            .await
            .unwrap();
    }
    m.scale_worker(scale(&ta, 2)).await.unwrap();
    let e = m.scale_worker(scale(&ta, 1)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(
        e.message()
            .contains("max_management_changes_per_minute = 2"),
        "{e:?}"
    );
    let wait: u64 = e
        .metadata()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (20..=30).contains(&wait),
        "2 a minute: one every 30 s ({wait})"
    );
    let e = m
        .unregister_model(authed(
            UnregisterModelRequest {
                model_name: "echo".into(),
                ..Default::default()
            },
            Some(&ta),
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    for w in [2, 1, 2] {
        m.scale_worker(scale(&tb, w)).await.unwrap();
    }
    let described = m
        .describe_model(authed(
            DescribeModelRequest {
                model_name: "echo".into(),
                ..Default::default()
            },
            Some(&ta),
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .msg;
    let d: serde_json::Value = serde_json::from_str(&described).unwrap();
    assert_eq!(
        d[0]["minWorkers"], 2,
        "the refused changes changed nothing: {d}"
    );
}

#[tokio::test]
async fn the_listener_cap_and_the_time_limit_answer_with_their_codes() {
    let t = TestGrpc::with(|c| c.max_concurrent_requests = 0).await;
    let mut i = InferenceApIsServiceClient::new(t.inference.clone());
    let e = i.ping(()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert_eq!(e.metadata().get("retry-after").unwrap(), "1");
    assert!(e.metadata().get("x-request-id").is_some(), "{e:?}");

    // 2 s: under the sleepy model's 2.5 s, and enough for the registration (also under
    // this limit) on a loaded machine.
    let t = TestGrpc::with(|c| c.request_timeout_s = 2).await;
    let mut m = ManagementApIsServiceClient::new(t.management.clone());
    m.register_model(register("sleepy.mar")).await.unwrap();
    let mut i = InferenceApIsServiceClient::new(t.inference.clone());
    let e = i
        .predictions(predict("sleepy", "", b"[1]"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    assert!(e.message().contains("request timeout"), "{e:?}");
}

#[tokio::test]
async fn an_oversized_message_names_the_limit() {
    let t = TestGrpc::with(|c| c.max_request_size = 1000).await;
    let mut m = ManagementApIsServiceClient::new(t.management.clone());
    m.register_model(register("echo.mar")).await.unwrap();
    let mut i = InferenceApIsServiceClient::new(t.inference.clone());
    let big = format!("[{}1]", "1,".repeat(1000));
    let e = i
        .predictions(predict("echo", "", big.as_bytes()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(
        e.message().contains("1000 bytes") && e.message().contains("--max-request-size"),
        "{e:?}"
    );
    i.predictions(predict("echo", "", b"[1]")).await.unwrap();
}

#[tokio::test]
async fn torchserves_host_counters_count_grpc_answers_by_outcome() {
    let t = TestGrpc::with(|c| c.metrics_names = "torchserve".into()).await;
    let mut m = ManagementApIsServiceClient::new(t.management.clone());
    m.register_model(register("echo.mar")).await.unwrap();
    let mut i = InferenceApIsServiceClient::new(t.inference.clone());
    i.predictions(predict("echo", "", b"[1]")).await.unwrap();
    i.predictions(predict("nope", "", b"[1]"))
        .await
        .unwrap_err();
    let text = t.core.manager.metrics().render();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(value("Requests2XX"), 2.0, "register and predict");
    assert_eq!(value("Requests4XX"), 1.0, "the unknown model");
}
