//! The real clients from PyPI against the real binary over REST: tritonclient.http with
//! its defaults (the binary tensor extension) and KServe's Python SDK (v2 and v1), on the
//! digits example's held-out split. Each client runs in its own process: tritonclient and
//! kserve register the same protobuf package.

mod common;

use common::examples::{examples, run_client, serve};

fn digits_test() -> String {
    examples().join("digits_test.json").display().to_string()
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
}

#[test]
fn tritonclient_http_with_its_defaults_recognises_the_held_out_digits() {
    let (_state, server) = serve("digits.mar", &[]);
    let found = run_client(
        "triton_http.py",
        &[host_port(&server.inference), &digits_test()],
    );
    eprintln!("tritonclient.http: {found}");
    for key in ["sync_accuracy", "async_accuracy"] {
        let accuracy = found[key].as_f64().unwrap();
        assert!(accuracy >= 0.95, "{key} {accuracy}");
    }
    let errors = &found["errors"];
    // The client decoded each refusal's status and v2 message.
    let says = |case: &str, status: &str, text: &str| {
        assert_eq!(errors[case][0], status, "{errors}");
        let message = errors[case][1].as_str().unwrap();
        assert!(message.contains(text), "{case}: {message}");
    };
    says(
        "shape",
        "400",
        "has shape [1, 64] but the model takes [-1, 1, 8, 8]",
    );
    says("unknown", "404", "Model not found: nope");
    says("dtype", "400", "is INT64 but the model takes FP32");
}

#[test]
fn kserve_sdk_v2_and_v1_over_rest_recognise_the_held_out_digits() {
    let (_state, server) = serve("digits.mar", &[]);
    let found = run_client("kserve_rest.py", &[&server.inference, &digits_test()]);
    eprintln!("kserve REST: {found}");
    assert!(found["v2_accuracy"].as_f64().unwrap() >= 0.95, "{found}");
    assert!(found["v1_accuracy"].as_f64().unwrap() >= 0.9, "{found}");
}

/// Triton's perf_analyzer (installed by `scripts/perf-analyzer.sh`) drives the digits
/// model over HTTP and over gRPC with random inputs shaped from the metadata: every
/// request succeeds, and the server-side statistics it reads count them.
#[test]
fn perf_analyzer_runs_against_the_http_and_grpc_endpoints() {
    let (_state, server) = serve("digits.mar", &[]);
    let grpc = server.grpc_inference.clone();
    for (protocol, url) in [
        ("http", host_port(&server.inference)),
        ("grpc", grpc.as_str()),
    ] {
        let report = perf_analyzer(&["-i", protocol, "-u", url]);
        assert!(report.contains("Throughput:"), "{protocol}: {report}");
        assert!(!report.contains("Failed"), "{protocol}: {report}");
    }
}

/// perf_analyzer's output for the digits model with `args`: a short run that checks it
/// works, not how fast (any spread between windows counts as stable: this is a busy
/// machine; `benches/perf_analyzer.sh` measures).
pub(crate) fn perf_analyzer(args: &[&str]) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/perf-analyzer.sh"))
        .args(["-m", "digits", "--concurrency-range", "2"])
        .args([
            "--measurement-mode",
            "count_windows",
            "--measurement-request-count",
            "100",
        ])
        .args(["--stability-percentage", "1000", "--max-trials", "3"])
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "perf_analyzer failed:\n{text}");
    text
}
