//! TorchServe's edge semantics on the real binary (any method on /predictions, per-model
//! OPTIONS, /explanations, /api-description, trailing slashes, asynchronous scale,
//! tolerated and empty parameters, its status codes), and TorchServe's metric names read
//! by a real Prometheus with the queries a TorchServe dashboard runs.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::archives;
use common::server::{Server, free_port, get, post_json, send};
use serde_json::{Value, json};

fn start(extra: &[&str]) -> (tempfile::TempDir, Server) {
    Server::with_store("mlp.mar", extra)
}

#[test]
fn predictions_answer_any_method_and_describe_the_model_on_options() {
    let (_state, server) = start(&[]);
    let i = &server.inference;
    let json_body = [("content-type", "application/json")];
    for method in ["POST", "PUT", "GET", "PATCH", "DELETE"] {
        let reply = send(
            method,
            &format!("{i}/predictions/mlp"),
            &json_body,
            b"[1,2,3,4]",
        );
        assert_eq!(reply.status, 200, "{method}: {}", reply.text());
        assert_eq!(
            reply.json()["outputs"]["output"].as_array().unwrap().len(),
            3
        );
    }
    // A trailing slash is ignored, with and without the version.
    for path in ["/predictions/mlp/", "/predictions/mlp/1.0/"] {
        let reply = post_json(&format!("{i}{path}"), "[1,2,3,4]");
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    }
    let doc = send("OPTIONS", &format!("{i}/predictions/mlp"), &[], b"").json();
    assert_eq!(doc["info"]["title"], "RESTful API for: mlp");
    assert!(
        doc["paths"]["/v1/models/mlp:predict"]["post"].is_object(),
        "{doc}"
    );
    send("OPTIONS", &format!("{i}/predictions/nope"), &[], b"")
        .assert_error(404, "ModelNotFoundException");

    // Explanations: the model is looked up, then 501 says why.
    let m = send(
        "POST",
        &format!("{i}/explanations/mlp"),
        &json_body,
        b"[1,2,3,4]",
    )
    .assert_error(501, "ExplanationsNotSupported");
    assert!(m.contains("/predictions/mlp"), "{m}");
    send("POST", &format!("{i}/explanations/nope"), &[], b"")
        .assert_error(404, "ModelNotFoundException");
    send("POST", &format!("{i}/v1/models/mlp:explain"), &[], b"")
        .assert_error(501, "ExplanationsNotSupported");
    // /api-description, any method, on both APIs; /ping answers any method too.
    for base in [i, &server.management] {
        for method in ["GET", "POST"] {
            let doc = send(method, &format!("{base}/api-description"), &[], b"").json();
            assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
        }
    }
    assert_eq!(
        send("POST", &format!("{i}/ping"), &[], b"").json()["status"],
        "Healthy"
    );

    // KServe v1 errors a client can cause.
    send(
        "POST",
        &format!("{i}/v1/models/mlp:predict"),
        &json_body,
        b"{\"rows\": []}",
    )
    .assert_error(400, "BadRequestException");
    send(
        "POST",
        &format!("{i}/v1/models/nope:predict"),
        &json_body,
        b"{\"instances\": []}",
    )
    .assert_error(404, "ModelNotFoundException");
    send(
        "POST",
        &format!("{i}/v1/models/mlp:train"),
        &json_body,
        b"{}",
    )
    .assert_error(404, "ResourceNotFoundException");
    let bad = send(
        "POST",
        &format!("{i}/v1/models/mlp:predict"),
        &json_body,
        br#"{"instances": [[1,2,3,4], "not numbers"]}"#,
    );
    assert_eq!(
        bad.status,
        400,
        "one bad instance fails the request: {}",
        bad.text()
    );
    assert_eq!(
        send(
            "POST",
            &format!("{i}/v1/models/mlp:predict"),
            &json_body,
            br#"{"instances": []}"#
        )
        .json(),
        json!({"predictions": []})
    );
    assert_eq!(
        get(&format!("{i}/v1/models")).json(),
        json!({"models": ["mlp"]})
    );
    // A million tiny instances in one body: refused before any reaches a handler.
    let many = format!("{{\"instances\": [{}[]]}}", "[],".repeat(1_000_000));
    let m = send(
        "POST",
        &format!("{i}/v1/models/mlp:predict"),
        &json_body,
        many.as_bytes(),
    )
    .assert_error(400, "InvalidInferenceRequest");
    assert!(m.contains("at most 1024"), "{m}");
    assert_eq!(
        post_json(&format!("{i}/predictions/mlp"), "[1,2,3,4]").status,
        200
    );
}

#[test]
fn management_edge_cases_answer_as_torchserve_does() {
    let (_state, server) = start(&[]);
    let m = &server.management;
    let put = |path: &str| send("PUT", &format!("{m}{path}"), &[], b"");

    // Scale: asynchronous by default (202), synchronous on request (200), scale to zero,
    // TorchServe's extra parameters tolerated, empty values meaning the default.
    let reply = put("/models/mlp?min_worker=2&number_gpu=0&timeout=-1");
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.json()["status"], "Processing worker updates...");
    let d = &get(&format!("{m}/models/mlp")).json()[0];
    assert_eq!(
        d["workers"].as_array().unwrap().len(),
        2,
        "the 202 came after the scale"
    );
    let reply = put("/models/mlp/1.0?min_worker=0&synchronous=true");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["status"],
        "Workers scaled to 0 for model: mlp, version: 1.0"
    );
    let reply = put("/models/mlp/?min_worker=&max_worker=&synchronous=TRUE");
    assert_eq!(reply.json()["status"], "Workers scaled to 1 for model: mlp");
    let message =
        put("/models/mlp?min_worker=3&max_worker=1").assert_error(400, "InvalidWorkerSettings");
    assert!(message.contains('3'), "{message}");
    // The stricter answer kept: a value that is there and is not a number.
    let message = put("/models/mlp?min_worker=dd").assert_error(400, "BadRequestException");
    assert!(message.contains("\"dd\""), "{message}");

    // Register: synchronous by default; false answers 202; TorchServe's extra parameters;
    // the parameters as a JSON body; zero workers says how to add them.
    let post = |query: &str| send("POST", &format!("{m}/models?{query}"), &[], b"");
    let reply = post("url=mlp.mar&model_name=a&startup_timeout=60&s3_sse_kms=false&runtime=python");
    assert_eq!(
        reply.json()["status"],
        "Model \"a\" Version: 1.0 registered with 1 initial workers"
    );
    let reply = post("url=mlp.mar&model_name=b&synchronous=false");
    assert_eq!(
        (reply.status, reply.json()["status"].clone()),
        (202, json!("Processing worker updates..."))
    );
    let reply = post("url=mlp.mar&model_name=c&initial_workers=0&batch_size=");
    assert_eq!(
        reply.json()["status"],
        "Model \"c\" Version: 1.0 registered with 0 initial workers. Use scale workers API to add workers for the model."
    );
    let reply = send(
        "POST",
        &format!("{m}/models"),
        &[("content-type", "application/json")],
        br#"{"url": "mlp.mar", "model_name": "d", "batch_size": 4}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(get(&format!("{m}/models/d/")).json()[0]["batchSize"], 4);
    send(
        "POST",
        &format!("{m}/models"),
        &[("content-type", "application/json")],
        br#"{"url": "mlp.mar", "bogus": 1}"#,
    )
    .assert_error(400, "BadRequestException");
    post("url=mlp.mar&model_name=a").assert_error(409, "ConflictStatusException");
    // A JSON body past 64 KiB is refused without being kept.
    let huge = format!("{{\"url\": \"{}\"}}", "a".repeat(100 << 10));
    let message = send(
        "POST",
        &format!("{m}/models"),
        &[("content-type", "application/json")],
        huge.as_bytes(),
    )
    .assert_error(400, "BadRequestException");
    assert!(message.contains("64 KiB"), "{message}");
    // An archive sent with a JSON content type is still an upload.
    let archive = std::fs::read(archives::store().join("mlp.mar")).unwrap();
    let reply = send(
        "POST",
        &format!("{m}/models?model_name=e"),
        &[("content-type", "application/json")],
        &archive,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        send("DELETE", &format!("{m}/models/e"), &[], b"").status,
        200
    );

    // List: empty parameters mean the defaults; past 100 means 100; 0 an empty page.
    let names = |v: &Value| -> Vec<String> {
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["modelName"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = get(&format!("{m}/models?limit=&next_page_token=")).json();
    assert_eq!(names(&all), ["a", "b", "c", "d", "mlp"]);
    assert_eq!(
        names(&get(&format!("{m}/models?limit=1000")).json()).len(),
        5
    );
    assert!(names(&get(&format!("{m}/models?limit=0")).json()).is_empty());
    let page = get(&format!("{m}/models/?limit=2&next_page_token=2")).json();
    assert_eq!(
        (names(&page), page["nextPageToken"].clone()),
        (vec!["c".into(), "d".into()], json!("4"))
    );

    // Unregister: the default version while another remains is TorchServe's 403;
    // its tolerated parameters; a trailing slash.
    let two = send("POST", &format!("{m}/models?url=mlp-2.0.mar"), &[], b"");
    assert_eq!(two.status, 200, "{}", two.text());
    send("DELETE", &format!("{m}/models/mlp/1.0"), &[], b"")
        .assert_error(403, "DefaultVersionInUse");
    let reply = send(
        "DELETE",
        &format!("{m}/models/mlp/2.0/?synchronous=true&timeout=30"),
        &[],
        b"",
    );
    assert_eq!(
        reply.json()["status"],
        "Model \"mlp\" version: 2.0 unregistered"
    );
    let reply = send("DELETE", &format!("{m}/models/a/"), &[], b"");
    assert_eq!(reply.json()["status"], "Model \"a\" unregistered");
    send("DELETE", &format!("{m}/models/a"), &[], b"").assert_error(404, "ModelNotFoundException");
}

#[test]
fn the_model_api_switch_refuses_registration_and_nothing_else() {
    let (_state, server) = start(&["--model-api", "false"]);
    let m = &server.management;
    let message = send(
        "POST",
        &format!("{m}/models?url=mlp.mar&model_name=x"),
        &[],
        b"",
    )
    .assert_error(405, "MethodNotAllowedException");
    assert!(message.contains("--enable-model-api"), "{message}");
    send("DELETE", &format!("{m}/models/mlp"), &[], b"")
        .assert_error(405, "MethodNotAllowedException");
    let reply = send(
        "PUT",
        &format!("{m}/models/mlp?min_worker=2&synchronous=true"),
        &[],
        b"",
    );
    assert_eq!(
        reply.status,
        200,
        "scaling is not registration: {}",
        reply.text()
    );
    assert_eq!(
        get(&format!("{m}/models/mlp")).json()[0]["modelName"],
        "mlp"
    );
}

/// Every TorchServe series present with its labels; the default mode has none of them.
#[test]
fn torchserve_metric_names_beside_ferroserves() {
    let (_state, plain) = start(&[]);
    assert_eq!(
        post_json(&format!("{}/predictions/mlp", plain.inference), "[1,2,3,4]").status,
        200
    );
    let text = get(&format!("{}/metrics", plain.metrics)).text();
    assert!(
        !text.contains("Requests2XX{") && !text.contains("CPUUtilization"),
        "{text}"
    );
    drop(plain);

    let (_state, server) = start(&["--metrics-names", "torchserve"]);
    let i = &server.inference;
    for _ in 0..3 {
        assert_eq!(
            post_json(&format!("{i}/predictions/mlp"), "[1,2,3,4]").status,
            200
        );
    }
    assert_eq!(
        post_json(&format!("{i}/predictions/nope"), "[1]").status,
        404
    );
    let text = get(&format!("{}/metrics", server.metrics)).text();
    let value = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("Requests2XX{") >= 3.0);
    assert!(value("Requests4XX{") >= 1.0);
    assert!(text.contains(r#"Requests2XX{Hostname=""#) && text.contains(r#"Level="Host""#));
    assert_eq!(value(r#"ts_inference_requests_total{hostname=""#), 3.0);
    assert!(value("ts_inference_latency_microseconds{") > 0.0);
    assert!(value("ts_queue_latency_microseconds{") >= 0.0);
    for gauge in [
        "CPUUtilization",
        "MemoryUsed",
        "MemoryAvailable",
        "MemoryUtilization",
        "DiskUsage",
        "DiskAvailable",
        "DiskUtilization",
    ] {
        assert!(text.contains(&format!("# TYPE {gauge} gauge")), "{gauge}");
        let v = value(&format!("{gauge}{{"));
        assert!(v > 0.0 || gauge == "CPUUtilization", "{gauge} = {v}");
    }
    // TorchServe's family filter.
    let only = get(&format!(
        "{}/metrics?name[]=Requests2XX&name[]=ts_queue_latency_microseconds",
        server.metrics
    ))
    .text();
    let families: Vec<&str> = only.lines().filter(|l| l.starts_with("# TYPE")).collect();
    assert_eq!(families.len(), 2, "{only}");
}

/// Prometheus (Debian's) scrapes the server; the queries of a TorchServe dashboard
/// (requests per second by class, p99 latency, queue latency per request) return data.
#[test]
fn a_real_prometheus_answers_torchserve_dashboard_queries() {
    let (_state, server) = start(&["--metrics-names", "torchserve"]);
    let dir = tempfile::tempdir().unwrap();
    let target = server.metrics.trim_start_matches("http://");
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ferroserve\n    static_configs:\n      - targets: ['{target}']\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let mut prometheus = Killed(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian's package, installed by scripts/test.sh)"),
    );
    let query = |q: &str| -> Value {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        get(&format!(
            "http://127.0.0.1:{port}/api/v1/query?query={encoded}"
        ))
        .json()
    };
    let queries = [
        r#"sum by (Level) (rate(Requests2XX[10s]))"#,
        r#"sum(rate(ts_inference_requests_total{model_name="mlp"}[10s]))"#,
        r#"histogram_quantile(0.99, sum by (le) (rate(ferroserve_request_duration_seconds_bucket{stage="total",model_name="mlp"}[10s])))"#,
        r#"rate(ts_queue_latency_microseconds[10s]) / rate(ts_inference_requests_total[10s])"#,
        r#"rate(ts_inference_latency_microseconds[10s]) / rate(ts_inference_requests_total[10s])"#,
        r#"CPUUtilization"#,
    ];
    let mut answered = vec![false; queries.len()];
    let until = Instant::now() + Duration::from_secs(60);
    while answered.iter().any(|a| !a) {
        assert!(
            Instant::now() < until,
            "unanswered: {:?}",
            queries
                .iter()
                .zip(&answered)
                .filter(|(_, a)| !**a)
                .map(|(q, _)| query(q))
                .collect::<Vec<_>>()
        );
        assert!(
            prometheus.0.try_wait().unwrap().is_none(),
            "prometheus exited"
        );
        for _ in 0..20 {
            post_json(
                &format!("{}/predictions/mlp", server.inference),
                "[1,2,3,4]",
            );
        }
        std::thread::sleep(Duration::from_millis(500));
        for (q, done) in queries.iter().zip(answered.iter_mut()) {
            if *done {
                continue;
            }
            let reply = query(q);
            let Some(result) = reply["data"]["result"].as_array() else {
                continue;
            };
            // A number, not NaN: the series exist and moved.
            *done = result.iter().any(|r| {
                r["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v.is_finite() && (v > 0.0 || q.starts_with("CPU")))
            });
        }
    }
    let _ = prometheus.0.kill();
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// TorchServe's `enable_metrics_api=false` binds no metrics listener; APIs given one
/// address share it, each still behind its own routes.
#[test]
fn the_metrics_listener_can_be_off_or_share_the_inference_address() {
    let (_state, server) = start(&["--metrics-api", "false"]);
    assert_eq!(server.metrics, "off");
    assert_eq!(
        post_json(
            &format!("{}/predictions/mlp", server.inference),
            "[1,2,3,4]"
        )
        .status,
        200
    );
    drop(server);

    let state = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferroserve"));
    command
        .args([
            "serve",
            "--inference-address",
            &addr,
            "--metrics-address",
            &addr,
        ])
        .args(["--management-address", "127.0.0.1:0", "--state-dir"])
        .arg(state.path())
        .args([
            "--model-store",
            archives::store().to_str().unwrap(),
            "--models",
            "mlp.mar",
        ])
        .env_clear();
    let server = Server::spawn(command, state.path());
    assert_eq!(server.inference, server.metrics);
    let i = &server.inference;
    assert_eq!(
        post_json(&format!("{i}/predictions/mlp"), "[1,2,3,4]").status,
        200
    );
    assert!(
        get(&format!("{i}/metrics"))
            .text()
            .contains("ts_inference_requests_total")
    );
    // Management is elsewhere: its paths are not served here.
    send("GET", &format!("{i}/models"), &[], b"").assert_error(404, "ResourceNotFoundException");
    assert_eq!(get(&format!("{}/models", server.management)).status, 200);
}
