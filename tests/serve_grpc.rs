//! The gRPC edge of the real binary, driven by real Python clients: stubs that grpcio-tools
//! generates at test time from ferroserve's TorchServe .proto files, tritonclient.grpc and
//! KServe's InferenceGRPCClient (each in its own process: both register the protobuf package
//! `inference`). After every refusal the same server process is still running and answers.

mod common;

use common::examples::{examples, run_client as client};
use common::server::{Server, get, send};
use serde_json::{Value, json};
use std::path::Path;

fn proto_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../grpc/proto")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The server is the same process and still answers a good request.
fn still_serving(server: &mut Server, pid: u32) {
    assert!(server.is_running(), "the server exited:\n{}", server.log());
    assert_eq!(server.pid(), pid);
    let probe = client(
        "triton_probe.py",
        &[&server.grpc_inference, "-", "mlp", "mlp", "4"],
    );
    assert_eq!(probe["ok"].as_array().map(|r| r.len()), Some(1), "{probe}");
}

#[test]
fn torchserve_stubs_generated_from_our_protos_manage_and_predict() {
    let (_state, server) = Server::with_store("", &[]);
    let out_dir = tempfile::tempdir().unwrap();
    let out = client(
        "torchserve_grpc.py",
        &[
            &proto_dir(),
            out_dir.path().to_str().unwrap(),
            &server.grpc_inference,
            &server.grpc_management,
        ],
    );
    assert_eq!(out["ping"], json!({"status": "Healthy"}), "{out}");
    assert_eq!(
        out["register"],
        "Model \"mlp\" Version: 1.0 registered with 1 initial workers"
    );
    assert_eq!(
        out["predict"]["outputs"]["output"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "{out}"
    );
    assert_eq!(out["request_id"], "ts-grpc-1");
    // The same answer as REST's /predictions for the same body.
    let rest = common::server::post_json(
        &format!("{}/predictions/mlp/2.0", server.inference),
        "[1, 2, 3, 4]",
    )
    .json();
    assert_eq!(out["stream"], json!([rest]), "{out}");
    let described = out["describe"].as_array().unwrap();
    assert_eq!(described.len(), 2, "{out}");
    assert_eq!(described[0]["modelName"], "mlp");
    assert_eq!(out["list"]["models"][0]["modelName"], "mlp");
    assert_eq!(out["scale"], "Workers scaled to 2 for model: mlp");
    assert_eq!(
        out["set_default"],
        "Default version successfully updated for model \"mlp\" to \"2.0\""
    );
    assert_eq!(out["unregister"], "Model \"mlp\" version: 1.0 unregistered");
    assert_eq!(out["unknown_model"]["code"], "NOT_FOUND", "{out}");
    assert!(
        out["unknown_model"]["details"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    assert_eq!(out["bad_input"]["code"], "INVALID_ARGUMENT", "{out}");
    // REST sees what gRPC did.
    let d = get(&format!("{}/models/mlp/all", server.management)).json();
    assert_eq!(d.as_array().unwrap().len(), 1, "{d}");
    assert_eq!(
        (d[0]["modelVersion"].as_str(), d[0]["isDefault"].as_bool()),
        (Some("2.0"), Some(true)),
        "{d}"
    );
}

#[test]
fn tritonclient_on_the_digits_example() {
    let state = tempfile::tempdir().unwrap();
    let store = examples().to_str().unwrap().to_owned();
    // async_infer sends all 450 images at once: a queue deeper than the default 100.
    let mut server = Server::start(
        state.path(),
        &[
            "--model-store",
            &store,
            "--models",
            "digits.mar",
            "--job-queue-size",
            "1024",
        ],
    );
    let pid = server.pid();
    let test_json = examples().join("digits_test.json");
    let out = client(
        "triton_grpc.py",
        &[&server.grpc_inference, test_json.to_str().unwrap()],
    );
    assert_eq!(
        (out["live"].as_bool(), out["ready"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(out["model_ready"], true);
    assert_eq!(out["server_metadata"]["name"], "ferroserve", "{out}");
    let meta = &out["model_metadata"];
    assert_eq!(meta["name"], "digits");
    assert_eq!(meta["versions"], json!(["1.0"]));
    assert_eq!(meta["inputs"][0]["datatype"], "FP32", "{meta}");
    assert_eq!(
        meta["inputs"][0]["shape"],
        json!(["-1", "1", "8", "8"]),
        "{meta}"
    );
    let config = &out["model_config"]["config"];
    assert_eq!(config["name"], "digits", "{config}");
    // The most samples a request may carry; the model's own batch size is preferred.
    assert_eq!(config["max_batch_size"], 1024, "{config}");
    assert_eq!(
        config["dynamic_batching"]["preferred_batch_size"],
        json!([8]),
        "{config}"
    );
    assert_eq!(config["output"][0]["dims"], json!(["10"]), "{config}");
    assert_eq!(config["input"][0]["data_type"], "TYPE_FP32", "{config}");
    // The HTTP test's threshold (tests/examples.rs), on every held-out image.
    assert_eq!(out["n"], 450);
    assert!(out["accuracy"].as_f64().unwrap() >= 0.95, "{out}");
    assert_eq!(out["async_accuracy"], out["accuracy"]);
    let stats = &out["statistics"]["model_stats"][0];
    assert_eq!(stats["name"], "digits", "{stats}");
    // Each image is one inference (the batcher batches them): 450 twice.
    assert!(
        stats["inference_count"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 900,
        "{stats}"
    );
    assert!(
        stats["inference_stats"]["success"]["count"]
            .as_str()
            .is_some(),
        "{stats}"
    );

    let refused = |case: &str, status: &str, says: &str| {
        let r = &out[case];
        assert_eq!(r["status"], status, "{case}: {r}");
        let message = r["message"].as_str().unwrap();
        assert!(message.contains(says), "{case}: {message}");
    };
    refused("malformed", "StatusCode.INVALID_ARGUMENT", "input");
    refused("unknown_model", "StatusCode.NOT_FOUND", "nope");
    refused("bytes", "StatusCode.INVALID_ARGUMENT", "numeric");
    refused("wrong_dtype", "StatusCode.INVALID_ARGUMENT", "input");
    refused("wrong_shape", "StatusCode.INVALID_ARGUMENT", "input");
    refused("huge_shape", "StatusCode.INVALID_ARGUMENT", "too large");
    assert_eq!(out["no_token"], Value::Null, "auth is off: {out}");
    assert_eq!(out["after"], out["after_label"], "{out}");
    assert!(server.is_running());
    assert_eq!(server.pid(), pid);
}

#[test]
fn kserves_grpc_client_predicts_digits() {
    let state = tempfile::tempdir().unwrap();
    let store = examples().to_str().unwrap().to_owned();
    let server = Server::start(
        state.path(),
        &["--model-store", &store, "--models", "digits.mar"],
    );
    let test_json = examples().join("digits_test.json");
    let out = client(
        "kserve_grpc.py",
        &[&server.grpc_inference, test_json.to_str().unwrap()],
    );
    assert_eq!(
        (out["live"].as_bool(), out["ready"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(out["id"], "kserve-1", "{out}");
    assert_eq!(out["name"], "output");
    assert_eq!(out["shape"], json!([40, 10]));
    assert!(out["accuracy"].as_f64().unwrap() >= 0.9, "{out}");
}

#[test]
fn an_oversized_message_is_refused_naming_the_limit() {
    let (_state, mut server) = Server::with_store("mlp.mar", &["--max-request-size", "2000"]);
    let pid = server.pid();
    let r = client(
        "triton_probe.py",
        &[&server.grpc_inference, "-", "mlp", "mlp", "1000"],
    );
    assert_eq!(r["status"], "StatusCode.RESOURCE_EXHAUSTED", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("2000") && message.contains("--max-request-size"),
        "{message}"
    );
    still_serving(&mut server, pid);
    // A shape the model cannot take is the model's refusal, and the server survives it.
    let r = client(
        "triton_probe.py",
        &[&server.grpc_inference, "-", "mlp", "mlp", "5"],
    );
    assert!(r["status"].as_str().is_some(), "{r}");
    still_serving(&mut server, pid);
}

#[test]
fn tokens_and_tenants_over_grpc() {
    let (state, mut server) = Server::with_store(
        "",
        &["--auth", "tokens", "--tenants-use-model-store", "true"],
    );
    let pid = server.pid();
    let admin = std::fs::read_to_string(state.path().join("admin.token")).unwrap();
    let admin = admin.trim();
    let bearer = format!("Bearer {admin}");
    let tenant = |name: &str| -> String {
        let r = send(
            "POST",
            &format!("{}/tenants", server.management),
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            json!({"name": name}).to_string().as_bytes(),
        );
        assert!(r.status < 300, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_owned()
    };
    let (a, b) = (tenant("a"), tenant("b"));
    // Tenant a registers mlp over REST; over gRPC it is a's and nobody else's.
    let r = send(
        "POST",
        &format!("{}/models?url=mlp.mar&initial_workers=1", server.management),
        &[("authorization", &format!("Bearer {a}"))],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let addr = server.grpc_inference.clone();
    let probe = |token: &str| client("triton_probe.py", &[&addr, token, "mlp", "mlp", "4"]);
    assert!(probe(&a)["ok"].is_array(), "tenant a predicts");
    let other = probe(&b);
    assert_eq!(other["status"], "StatusCode.NOT_FOUND", "{other}");
    let none = probe("-");
    assert_eq!(none["status"], "StatusCode.UNAUTHENTICATED", "{none}");
    assert!(
        none["message"].as_str().unwrap().contains("Bearer"),
        "{none}"
    );
    let wrong = probe("not-a-token");
    assert_eq!(wrong["status"], "StatusCode.UNAUTHENTICATED", "{wrong}");
    assert!(server.is_running());
    assert_eq!(server.pid(), pid);
    assert!(probe(&a)["ok"].is_array(), "still serving tenant a");
    // The TorchServe stubs with the admin token: the shared namespace.
    let out_dir = tempfile::tempdir().unwrap();
    let out = client(
        "torchserve_grpc.py",
        &[
            &proto_dir(),
            out_dir.path().to_str().unwrap(),
            &server.grpc_inference,
            &server.grpc_management,
            admin,
        ],
    );
    assert_eq!(out["no_token"]["code"], "UNAUTHENTICATED", "{out}");
    assert_eq!(out["unregister"], "Model \"mlp\" version: 1.0 unregistered");
    assert!(
        probe(&a)["ok"].is_array(),
        "tenant a's mlp is another model"
    );
}

#[test]
fn grpc_can_be_turned_off() {
    let (_state, server) = Server::with_store("", &["--grpc-api", "false"]);
    assert_eq!(
        (
            server.grpc_inference.as_str(),
            server.grpc_management.as_str()
        ),
        ("off", "off")
    );
    assert_eq!(get(&format!("{}/ping", server.inference)).status, 200);
}
