//! The real binary's life: registrations survive SIGKILL (the snapshot), SIGTERM finishes
//! what is in flight before exiting, and /metrics is valid Prometheus text.

mod common;

use std::time::{Duration, Instant};

use common::archives;
use common::server::{Server, get, post_json, send};

fn store() -> String {
    archives::store().to_str().unwrap().to_owned()
}

#[test]
fn registrations_survive_sigkill() {
    let state = tempfile::tempdir().unwrap();
    let store = store();
    let server = Server::start(state.path(), &["--model-store", &store]);
    let m = server.management.clone();
    for url in ["mlp.mar", "mlp-2.0.mar"] {
        let reply = send(
            "POST",
            &format!("{m}/models?url={url}&batch_size=2"),
            &[],
            b"",
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let upload = std::fs::read(archives::store().join("panic.mar")).unwrap();
    assert_eq!(
        send("POST", &format!("{m}/models?model_name=up"), &[], &upload).status,
        200
    );
    assert_eq!(
        send("PUT", &format!("{m}/models/mlp/2.0/set-default"), &[], b"").status,
        200
    );
    assert_eq!(
        send(
            "PUT",
            &format!("{m}/models/mlp/1.0?min_worker=2&max_worker=2&synchronous=true"),
            &[],
            b""
        )
        .status,
        200
    );
    let before = get(&format!("{m}/models")).json();
    server.kill9();

    let server = Server::start(state.path(), &["--model-store", &store]);
    let m = &server.management;
    assert_eq!(get(&format!("{m}/models")).json(), before);
    let d = get(&format!("{m}/models/mlp")).json();
    assert_eq!(
        d[0]["modelVersion"], "2.0",
        "the default version came back: {d}"
    );
    assert_eq!(d[0]["batchSize"], 2);
    let v1 = &get(&format!("{m}/models/mlp/1.0")).json()[0];
    assert_eq!(
        (
            v1["minWorkers"].as_u64(),
            v1["workers"].as_array().unwrap().len()
        ),
        (Some(2), 2)
    );
    assert_eq!(server.predict_mlp().status, 200);
    // The uploaded archive was kept by the server, not read from the model store.
    post_json(&format!("{}/predictions/up", server.inference), "[1]")
        .assert_error(500, "HandlerPanicked");
}

#[test]
fn sigterm_finishes_in_flight_requests_then_exits() {
    let state = tempfile::tempdir().unwrap();
    let store = store();
    let mut server = Server::start(state.path(), &["--model-store", &store, "--no-snapshot"]);
    let reply = send(
        "POST",
        &format!(
            "{}/models?url=mlp.mar&batch_size=8&max_batch_delay=1500",
            server.management
        ),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    // This request waits up to 1.5 s for a batch that never fills.
    let url = format!("{}/predictions/mlp", server.inference);
    let started = Instant::now();
    let in_flight = std::thread::spawn(move || post_json(&url, "[1, 2, 3, 4]"));
    std::thread::sleep(Duration::from_millis(300));
    let status = server.terminate();
    let reply = in_flight.join().unwrap();
    assert_eq!(
        reply.status,
        200,
        "the in-flight request finished: {}",
        reply.text()
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(status.success(), "clean exit: {status:?}\n{}", server.log());
    let log = server.log();
    assert!(log.contains("SIGTERM"), "{log}");
    // Nothing listens any more.
    assert!(std::net::TcpStream::connect(server.inference.trim_start_matches("http://")).is_err());
}

#[test]
fn metrics_are_valid_prometheus_text_with_torchserve_names() {
    let state = tempfile::tempdir().unwrap();
    let store = store();
    let server = Server::start(
        state.path(),
        &["--model-store", &store, "--models", "mlp.mar,panic.mar"],
    );
    for _ in 0..3 {
        assert_eq!(server.predict_mlp().status, 200);
    }
    assert_eq!(
        post_json(&format!("{}/predictions/mlp", server.inference), "[]").status,
        400
    );
    assert_eq!(
        post_json(&format!("{}/predictions/panic", server.inference), "[1]").status,
        500
    );
    let reply = get(&format!("{}/metrics", server.metrics));
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = reply.text();
    for line in [
        r#"ts_inference_requests_total{model_name="mlp",model_version="1.0"} 4"#,
        r#"ts_responses_total{class="2XX",model_name="mlp",model_version="1.0"} 3"#,
        r#"ts_responses_total{class="4XX",model_name="mlp",model_version="1.0"} 1"#,
        r#"ts_responses_total{class="5XX",model_name="panic",model_version="1.0"} 1"#,
        r#"ferroserve_request_duration_seconds_count{model_name="mlp",model_version="1.0",stage="inference"} 3"#,
        r#"ferroserve_workers{model_name="mlp",model_version="1.0"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    for family in [
        "ts_queue_latency_seconds_total",
        "ts_inference_latency_seconds_total",
        "ferroserve_queue_depth",
    ] {
        assert!(text.contains(&format!("# TYPE {family}")), "{family}");
    }
    // Debian's promtool (package `prometheus`; scripts/test.sh installs it).
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool on PATH (apt-get install prometheus; scripts/test.sh does)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "promtool: {said}\n{text}");
    assert!(said.trim().is_empty(), "no lint findings either: {said}");
}
