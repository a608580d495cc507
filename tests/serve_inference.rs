//! The inference API of the real binary: routes, statuses and the exact error JSON, with
//! real handlers, a real TorchScript model, real sockets.

mod common;

use common::server::{Server, get, post_json, send};

fn start(extra: &[&str]) -> (tempfile::TempDir, Server) {
    Server::with_store(
        "mlp=mlp.mar,spin.mar,membomb.mar,panic.mar,malformed.mar",
        extra,
    )
}

#[test]
fn ping_predict_and_versions() {
    let (_state, server) = start(&[]);
    let ping = get(&format!("{}/ping", server.inference));
    assert_eq!(
        (ping.status, ping.json()),
        (200, serde_json::json!({"status": "Healthy"}))
    );

    let reply = server.predict_mlp();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let out = reply.json()["outputs"]["output"].as_array().unwrap().len();
    assert_eq!(out, 3, "the MLP maps 4 inputs to 3 outputs");

    let same = post_json(
        &format!("{}/predictions/mlp/1.0", server.inference),
        "[1, 2, 3, 4]",
    );
    assert_eq!(same.json(), reply.json(), "the default version is 1.0");

    let missing = post_json(&format!("{}/predictions/nope", server.inference), "[1]");
    let message = missing.assert_error(404, "ModelNotFoundException");
    assert!(message.contains("nope"), "{message}");
    let missing = post_json(&format!("{}/predictions/mlp/9.9", server.inference), "[1]");
    missing.assert_error(404, "ModelVersionNotFoundException");
    let route = get(&format!("{}/no/such/route", server.inference));
    route.assert_error(404, "ResourceNotFoundException");
}

#[test]
fn a_multipart_form_reaches_the_handler_like_a_raw_body() {
    let (_state, server) = start(&[]);
    let boundary = "XyZ123";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"x.json\"\r\nContent-Type: application/json\r\n\r\n[1, 2, 3, 4]\r\n--{boundary}--\r\n"
    );
    let ct = format!("multipart/form-data; boundary={boundary}");
    let form = send(
        "POST",
        &format!("{}/predictions/mlp", server.inference),
        &[("content-type", &ct)],
        body.as_bytes(),
    );
    let raw = server.predict_mlp();
    assert_eq!(form.status, 200, "{}", form.text());
    assert_eq!(form.json(), raw.json());
}

#[test]
fn bad_input_is_a_400_with_the_handlers_message() {
    let (_state, server) = start(&[]);
    let reply = post_json(&format!("{}/predictions/mlp", server.inference), "[]");
    let message = reply.assert_error(400, "HandlerBadInput");
    assert!(message.contains("non-empty JSON array"), "{message}");
    let reply = post_json(
        &format!("{}/predictions/mlp", server.inference),
        "{not json",
    );
    reply.assert_error(400, "HandlerBadInput");
    // Wrong shape for the model: libtorch's complaint, as a 500 from the forward... or a 400?
    let reply = post_json(&format!("{}/predictions/mlp", server.inference), "[1, 2]");
    let message = reply.assert_error(500, "ModelForwardError");
    assert!(
        message.contains("mat1 and mat2") || message.contains("shape"),
        "{message}"
    );
}

#[test]
fn hostile_handlers_get_their_5xx_and_the_next_request_succeeds() {
    let (_state, server) = start(&[]);
    let cases = [
        ("spin", 504, "HandlerDeadlineExceeded"),
        ("membomb", 500, "HandlerMemoryLimitExceeded"),
        ("panic", 500, "HandlerPanicked"),
        ("malformed", 500, "HandlerMalformedTensor"),
    ];
    for (model, code, kind) in cases {
        let reply = post_json(
            &format!("{}/predictions/{model}", server.inference),
            "[1, 2, 3, 4]",
        );
        reply.assert_error(code, kind);
        let ok = server.predict_mlp();
        assert_eq!(ok.status, 200, "after {model}: {}", ok.text());
    }
    let ping = get(&format!("{}/ping", server.inference));
    assert_eq!(ping.status, 200);
}

#[test]
fn a_body_over_the_limit_is_a_413() {
    let (_state, server) = start(&["--max-request-size", "1024"]);
    let big = format!("[{}1]", "1, ".repeat(1000));
    let reply = post_json(&format!("{}/predictions/mlp", server.inference), &big);
    let message = reply.assert_error(413, "RequestEntityTooLarge");
    assert!(message.contains("1024"), "{message}");
    let ok = server.predict_mlp();
    assert_eq!(ok.status, 200);
}

#[test]
fn overload_is_a_503_with_retry_after() {
    // One sandbox thread and no waiting room: while `spin` holds the thread, the next
    // handler call is refused at once.
    let (_state, server) = start(&["--sandbox-threads", "1", "--sandbox-queue-depth", "0"]);
    let spinning = server.hold_spin();
    let reply = server.predict_mlp();
    reply.assert_error(503, "SandboxPoolExhausted");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(spinning.join().unwrap().status, 504);
    let ok = server.predict_mlp();
    assert_eq!(ok.status, 200);
}

#[test]
fn every_response_carries_a_request_id() {
    let (_state, server) = start(&[]);
    let given = send(
        "GET",
        &format!("{}/ping", server.inference),
        &[("x-request-id", "abc-123")],
        b"",
    );
    assert_eq!(given.header("x-request-id"), Some("abc-123"));
    let error = post_json(&format!("{}/predictions/nope", server.inference), "[1]");
    let id = error
        .header("x-request-id")
        .expect("an id on errors too")
        .to_owned();
    assert!(!id.is_empty());
    // The access log line names it.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("ferroserve::access") && l.contains(&id) && l.contains("404")),
        "{log}"
    );
}
