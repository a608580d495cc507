//! The contract's versions: a 0.1.0 component keeps loading and working beside 0.2.0 ones,
//! 0.2.0's multipart fields and response headers cross the boundary, refused headers fail
//! the response, and the WIT copies the SDKs build against are the repository's.

mod common;

use common::*;
use ferroserve_sandbox::{FormField, HandlerRequest, Runtime};
use ferroserve_test_fixtures as fx;

fn field(name: &str, data: &str) -> FormField {
    FormField {
        name: name.into(),
        filename: Some(format!("{name}.txt")),
        content_type: Some("text/plain".into()),
        data: data.as_bytes().to_vec().into(),
    }
}

#[test]
fn a_0_1_0_component_still_loads_and_runs() {
    let sandbox = sandbox(None);
    let old = load(&sandbox, fx::V0_1_0, None, limits());
    assert_eq!(old.world_version(), "0.1.0");
    assert_eq!(old.runtime(), Runtime::Compiled);
    let (prepared, _) = old.preprocess_blocking(body("[1.5, 2.5]"));
    let prepared = prepared.unwrap();
    assert_eq!(prepared.inputs[0].to_f32().unwrap(), vec![1.5, 2.5]);
    let (response, _) = old.postprocess_blocking(&prepared.inputs, &prepared.context);
    let response = response.unwrap();
    assert!(response.headers.is_empty());
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(json["context"], "v0.1.0");
    assert_eq!(json["outputs"], serde_json::json!([1.5, 2.5]));
    // The 0.2.0 handlers of the same sandbox are unaffected.
    assert_eq!(
        load(&sandbox, fx::OK, None, limits()).world_version(),
        "0.2.0"
    );
    assert_well_behaved_works(&sandbox);
}

#[test]
fn a_0_1_0_component_gets_a_400_for_a_form_it_cannot_read() {
    let sandbox = sandbox(None);
    let old = load(&sandbox, fx::V0_1_0, None, limits());
    let request = HandlerRequest {
        fields: vec![field("image", "a"), field("question", "b")],
        ..HandlerRequest::default()
    };
    let (result, _) = old.preprocess_blocking(request);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), "HandlerBadInput");
    assert!(
        err.to_string().contains(r#"["image", "question"]"#),
        "{err}"
    );
}

#[test]
fn every_form_field_reaches_a_0_2_0_handler_and_its_headers_come_back() {
    let sandbox = sandbox(None);
    let echo = load(&sandbox, fx::FORM_ECHO, None, limits());
    let request = HandlerRequest {
        body: b"payload".to_vec().into(),
        fields: vec![field("data", "payload"), field("question", "why?")],
        ..HandlerRequest::default()
    };
    let (prepared, _) = echo.preprocess_blocking(request);
    let prepared = prepared.unwrap();
    let (response, _) = echo.postprocess_blocking(&prepared.inputs, &prepared.context);
    let response = response.unwrap();
    assert_eq!(
        response.headers,
        vec![("x-fields".to_string(), "2".to_string())]
    );
    let seen: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(seen["body"], "payload");
    assert_eq!(seen["fields"][1]["name"], "question");
    assert_eq!(seen["fields"][1]["filename"], "question.txt");
    assert_eq!(seen["fields"][1]["content_type"], "text/plain");
    assert_eq!(seen["fields"][1]["text"], "why?");
}

#[test]
fn refused_response_headers_fail_the_response() {
    let sandbox = sandbox(None);
    let echo = load(&sandbox, fx::FORM_ECHO, None, limits());
    for (name, ok) in [
        ("x-trace", true),
        ("Set-Cookie", false),
        ("content-length", false),
        ("transfer-encoding", false),
    ] {
        let request = HandlerRequest {
            body: b"x".to_vec().into(),
            parameters: vec![("header".into(), name.into())],
            ..HandlerRequest::default()
        };
        let prepared = echo.preprocess_blocking(request).0.unwrap();
        let (response, _) = echo.postprocess_blocking(&prepared.inputs, &prepared.context);
        match response {
            Ok(r) => assert!(
                ok && r.headers.iter().any(|(n, _)| n == name),
                "{name}: {:?}",
                r.headers
            ),
            Err(e) => {
                assert!(!ok, "{name}: {e}");
                assert_eq!(e.kind(), "HandlerInvalidResponse");
                assert!(e.to_string().contains("may not set"), "{e}");
            }
        }
    }
}

#[test]
fn the_sdk_builds_against_the_repositorys_contract() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let original = std::fs::read(root.join("wit/handler-0.2.0.wit")).unwrap();
    let copy = std::fs::read(root.join("handlers-sdk/wit/handler-0.2.0.wit")).unwrap();
    assert!(
        original == copy,
        "handlers-sdk/wit/handler-0.2.0.wit differs from wit/: copy it over"
    );
}
