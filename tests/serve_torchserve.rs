//! TorchServe's users arriving unchanged: the binary started the way KServe starts its
//! TorchServe runtime (`torchserve --start --model-store=… --ts-config=…`, a
//! `config.properties` with `model_snapshot`, inference and management on one address,
//! token authorization on by default), then `torchserve --stop`; bad TorchServe configs
//! refused by name. The edge semantics and metric names are in `serve_torchserve_edge.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::archives;
use common::server::{Server, free_port, get, send};
use serde_json::json;

/// A KServe-style layout: `model-store/mlp.mar`, `config/config.properties`, a working
/// directory (TorchServe writes `key_file.json` there) and a private TMPDIR (the pid file).
struct Layout {
    root: tempfile::TempDir,
    port: u16,
}

impl Layout {
    fn new(extra_properties: &str) -> Layout {
        let root = tempfile::tempdir().unwrap();
        let store = root.path().join("model-store");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::copy(archives::store().join("mlp.mar"), store.join("mlp.mar")).unwrap();
        for dir in ["config", "work", "tmp"] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        let port = free_port();
        // KServe's sample (tests/fixtures/kserve-config.properties) with ports and names
        // adjusted: the metrics port is picked by the OS.
        let snapshot = json!({"name": "startup.cfg", "modelCount": 1, "models": {"mlp": {"1.0": {
            "defaultVersion": true, "marName": "mlp.mar", "minWorkers": 1, "maxWorkers": 5,
            "batchSize": 2, "maxBatchDelay": 20, "responseTimeout": 60}}}});
        let config = format!(
            "inference_address=http://127.0.0.1:{port}\n\
             management_address=http://127.0.0.1:{port}\n\
             metrics_address=http://127.0.0.1:0\n\
             grpc_inference_port=7070\n\
             grpc_management_port=7071\n\
             enable_metrics_api=true\n\
             metrics_format=prometheus\n\
             number_of_netty_threads=4\n\
             job_queue_size=10\n\
             enable_envvars_config=true\n\
             install_py_dep_per_model=false\n\
             model_store={}\n\
             model_snapshot={snapshot}\n{extra_properties}",
            store.display()
        );
        std::fs::write(root.path().join("config/config.properties"), config).unwrap();
        Layout { root, port }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// `torchserve ARGS` through a symlink named `torchserve`, as a container image ships it.
    fn torchserve(&self, args: &[&str]) -> Command {
        let link = self.path("bin/torchserve");
        if !link.exists() {
            std::fs::create_dir_all(self.path("bin")).unwrap();
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ferroserve"), &link).unwrap();
        }
        let mut command = Command::new(link);
        command
            .args(args)
            .current_dir(self.path("work"))
            .env_clear()
            .env("TMPDIR", self.path("tmp"))
            .env("RUST_LOG", "info")
            // KServe's runtime sets it; with enable_envvars_config it reaches the config.
            .env("TS_SERVICE_ENVELOPE", "kserve");
        command
    }

    fn start_args(&self) -> Vec<String> {
        vec![
            "--start".into(),
            format!("--model-store={}", self.path("model-store").display()),
            format!(
                "--ts-config={}",
                self.path("config/config.properties").display()
            ),
        ]
    }

    fn pid_file(&self) -> PathBuf {
        self.path("tmp/.model_server.pid")
    }

    fn daemon_pid(&self) -> i32 {
        std::fs::read_to_string(self.pid_file())
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

/// Stops a daemon left behind by a failing test.
impl Drop for Layout {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.pid_file())
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            // SAFETY: kill(2) on the daemon this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// The same numbers up to float noise (a batch of two may round differently from one).
fn assert_close(a: &serde_json::Value, b: &serde_json::Value) {
    let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-5,
            "{a:?} vs {b:?}"
        );
    }
}

fn key_file(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("key_file.json")).unwrap()).unwrap()
}

#[test]
fn started_as_kserve_starts_torchserve_it_serves_v1_v2_and_torchserve_rest() {
    let layout = Layout::new("");
    let args = layout.start_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // `--start` without `--foreground`: the launcher returns, the server stays.
    let mut server = Server::spawn(layout.torchserve(&args), &layout.path("work"));
    let launcher = server.pid() as i32;
    let daemon = layout.daemon_pid();
    assert_ne!(daemon, launcher, "the server runs in its own process");
    let until = Instant::now() + Duration::from_secs(10);
    while server.is_running() {
        assert!(Instant::now() < until, "the launcher did not return");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Inference and management share the configured address.
    let base = format!("http://127.0.0.1:{}", layout.port);
    assert_eq!(server.inference, base);
    assert_eq!(server.management, base);

    // Token authorization is on (TorchServe's default): fresh keys, mode 0600, in the cwd.
    let keys = key_file(&layout.path("work"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(layout.path("work/key_file.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let inference = bearer(keys["inference"]["key"].as_str().unwrap());
    let management = bearer(keys["management"]["key"].as_str().unwrap());
    let with = |key: &str| vec![("authorization", key.to_owned())];
    let call = |method: &str, path: &str, key: &str, body: &[u8]| {
        let headers = with(key);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut all = headers;
        all.push(("content-type", "application/json"));
        send(method, &format!("{base}{path}"), &all, body)
    };

    let refused = send(
        "POST",
        &format!("{base}/predictions/mlp"),
        &[],
        b"[1,2,3,4]",
    );
    assert_eq!(refused.status, 401, "{}", refused.text());
    // The API descriptions need no key, as in TorchServe.
    assert_eq!(get(&format!("{base}/api-description")).status, 200);
    assert_eq!(send("OPTIONS", &format!("{base}/"), &[], b"").status, 200);
    let wrong_api = call("POST", "/predictions/mlp", &management, b"[1,2,3,4]");
    assert_eq!(
        wrong_api.status, 401,
        "the management key is not an inference key"
    );

    // TorchServe's REST, POST and `curl -T` (PUT).
    let post = call("POST", "/predictions/mlp", &inference, b"[1,2,3,4]");
    assert_eq!(post.status, 200, "{}", post.text());
    let expected = post.json()["outputs"]["output"].clone();
    assert_eq!(expected.as_array().unwrap().len(), 3);
    let put = call("PUT", "/predictions/mlp", &inference, b"[1,2,3,4]");
    assert_close(&put.json()["outputs"]["output"], &expected);

    // KServe v1 through the handler, one instance per request.
    let v1 = call(
        "POST",
        "/v1/models/mlp:predict",
        &inference,
        br#"{"instances": [[1,2,3,4], [1,2,3,4]]}"#,
    );
    assert_eq!(v1.status, 200, "{}", v1.text());
    let predictions = v1.json()["predictions"].clone();
    assert_eq!(predictions.as_array().unwrap().len(), 2);
    assert_close(&predictions[1]["outputs"]["output"], &expected);
    assert_eq!(
        call("GET", "/v1/models/mlp", &inference, b"").json(),
        json!({"name": "mlp", "ready": true})
    );

    // KServe v2, tensors straight to the model: the same numbers.
    let v2 = call(
        "POST",
        "/v2/models/mlp/infer",
        &inference,
        json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(v2.status, 200, "{}", v2.text());
    assert_close(&v2.json()["outputs"][0]["data"], &expected);

    // The snapshot's settings, on the shared address, with the management key.
    let d = call("GET", "/models/mlp", &management, b"").json();
    assert_eq!(
        (
            &d[0]["batchSize"],
            &d[0]["maxBatchDelay"],
            &d[0]["minWorkers"],
            &d[0]["maxWorkers"]
        ),
        (&json!(2), &json!(20), &json!(1), &json!(5)),
        "{d}"
    );
    assert_eq!(d[0]["loadedAtStartup"], true);
    // The model API is off, as TorchServe has it by default: 405, with what to do.
    let register = call(
        "POST",
        "/models?url=mlp.mar&model_name=again",
        &management,
        b"",
    );
    let message = register.assert_error(405, "MethodNotAllowedException");
    assert!(message.contains("--enable-model-api"), "{message}");
    let delete = call("DELETE", "/models/mlp", &management, b"");
    assert_eq!(delete.status, 405);

    // /metrics needs no key (TorchServe's rule) and has TorchServe's names.
    let metrics = get(&format!("{}/metrics", server.metrics));
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(text.contains("Requests2XX{"), "{text}");
    assert!(
        text.contains(r#"ts_inference_latency_microseconds{hostname="#),
        "{text}"
    );

    // `torchserve --stop`: SIGTERM, the keys and the pid file go, the server exits.
    let out = layout.torchserve(&["--stop"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("TorchServe has stopped."));
    let until = Instant::now() + Duration::from_secs(30);
    while alive(daemon) {
        assert!(
            Instant::now() < until,
            "the server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!layout.pid_file().exists());
    assert!(!layout.path("work/key_file.json").exists());
    let again = layout.torchserve(&["--stop"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("TorchServe is not currently running.")
    );
}

/// KServe's samples append `--disable-token-auth --enable-model-api` to the runtime's
/// arguments; `--foreground` keeps the server in this process's child.
#[test]
fn kserves_appended_flags_open_the_apis() {
    let layout = Layout::new("");
    let mut args = layout.start_args();
    args.extend(["--disable-token-auth", "--enable-model-api", "--foreground"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::spawn(layout.torchserve(&args), &layout.path("work"));
    let base = server.inference.clone();
    assert!(!layout.path("work/key_file.json").exists());
    let reply = send(
        "POST",
        &format!("{base}/predictions/mlp"),
        &[("content-type", "application/json")],
        b"[1,2,3,4]",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Registering works now; synchronous by default, as TorchServe's code has it.
    let reply = send(
        "POST",
        &format!("{base}/models?url=mlp.mar&model_name=twin"),
        &[],
        b"",
    );
    assert_eq!(
        reply.json()["status"],
        "Model \"twin\" Version: 1.0 registered with 1 initial workers"
    );
    assert_eq!(
        send("DELETE", &format!("{base}/models/twin/"), &[], b"").status,
        200
    );
    assert_eq!(server.terminate().code(), Some(0));
}

/// What cannot be honoured stops the start with the key named; what means nothing here
/// never does.
#[test]
fn torchserve_configs_that_cannot_be_honoured_are_refused_by_name() {
    for (extra, named) in [
        (
            "inference_address=https://127.0.0.1:8443\n",
            "inference_address",
        ),
        (
            "allowed_urls=https://(a|b).example.com/.*\n",
            "allowed_urls",
        ),
        ("job_queue_size=lots\n", "job_queue_size"),
        ("model_store=$$NO_SUCH_VARIABLE$$\n", "NO_SUCH_VARIABLE"),
    ] {
        let layout = Layout::new(extra);
        let mut args = layout.start_args();
        args.push("--foreground".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = layout.torchserve(&args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra}: {text}");
        assert!(text.contains(named), "{extra}: {text}");
    }
}

/// `TS_CONFIG_FILE` wins over `--ts-config`, unknown keys are logged and ignored, and
/// `TS_*` variables override the file under `enable_envvars_config`.
#[test]
fn the_environment_as_torchserve_reads_it() {
    let layout = Layout::new("no_such_key=1\nvmargs=-Xmx4g\n");
    std::fs::write(layout.path("config/other.properties"), "job_queue_size=1\n").unwrap();
    let mut args = layout.start_args();
    args[2] = format!(
        "--ts-config={}",
        layout.path("config/other.properties").display()
    );
    args.extend(["--disable-token-auth", "--foreground"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = layout.torchserve(&args);
    command
        .env("TS_CONFIG_FILE", layout.path("config/config.properties"))
        .env("TS_JOB_QUEUE_SIZE", "3");
    let server = Server::spawn(command, &layout.path("work"));
    let d = get(&format!("{}/models/mlp", server.management)).json();
    assert_eq!(d[0]["jobQueueStatus"]["remainingCapacity"], 3, "{d}");
    let log = server.log();
    assert!(
        log.contains("no_such_key") && log.contains("not a TorchServe key"),
        "{log}"
    );
    assert!(
        log.contains("vmargs") && log.contains("TorchServe key ignored"),
        "{log}"
    );
}

/// `ferroserve serve --ts-config` reads KServe's own sample, and ferroserve's flags still
/// win over it.
#[test]
fn serve_reads_kserves_sample_config_under_its_own_flags() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/kserve-config.properties"
    );
    let (code, out) = common::ferroserve(&[
        "serve",
        "--ts-config",
        sample,
        "--job-queue-size",
        "7",
        "--ncs",
        "--print-config",
    ]);
    assert_eq!(code, 0, "{out}");
    let config: toml::Table = toml::from_str(&out).unwrap();
    assert_eq!(config["inference_address"].as_str(), Some("0.0.0.0:8085"));
    assert_eq!(config["management_address"].as_str(), Some("0.0.0.0:8085"));
    assert_eq!(
        config["model_store"].as_str(),
        Some("/mnt/models/model-store")
    );
    assert_eq!(
        config["job_queue_size"].as_integer(),
        Some(7),
        "the flag wins"
    );
    assert_eq!(config["snapshot"].as_bool(), Some(false));
    assert_eq!(config["metrics_names"].as_str(), Some("torchserve"));
    let startup = config["startup_models"].as_array().unwrap();
    assert_eq!(startup[0]["name"].as_str(), Some("mnist"));
    assert_eq!(startup[0]["max_batch_delay_ms"].as_integer(), Some(500));
}

/// As a container's entrypoint (PID 1), `torchserve --start` stays in the foreground:
/// returning would end the container. Run in a fresh PID namespace where unshare(1) may.
#[test]
fn as_pid_1_start_stays_in_the_foreground() {
    let may = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !may {
        eprintln!("skipped: this machine does not let unshare(1) make a PID namespace");
        return;
    }
    let layout = Layout::new("disable_token_authorization=true\n");
    let link = {
        drop(layout.torchserve(&[]));
        layout.path("bin/torchserve")
    };
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc", "--kill-child=SIGTERM"])
        .arg(link)
        .args(layout.start_args())
        .current_dir(layout.path("work"))
        .env_clear()
        .env("TMPDIR", layout.path("tmp"));
    let mut server = Server::spawn(command, &layout.path("work"));
    std::thread::sleep(Duration::from_secs(1));
    assert!(server.is_running(), "the launcher returned as PID 1");
    assert!(
        !layout.pid_file().exists(),
        "no background server, so no pid file"
    );
    let reply = send(
        "POST",
        &format!("{}/predictions/mlp", server.inference),
        &[("content-type", "application/json")],
        b"[1,2,3,4]",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// A stale pid file naming another live process: `--stop` signals nothing, `--start`
/// replaces the file.
#[test]
fn a_stale_pid_file_never_gets_another_process_signalled() {
    let layout = Layout::new("disable_token_authorization=true\n");
    // Named like the server, so only its executable tells it apart.
    let mut bystander = Command::new("bash")
        .args(["-c", "exec -a ferroserve sleep 60"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(layout.pid_file(), bystander.id().to_string()).unwrap();
    let out = layout.torchserve(&["--stop"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("TorchServe is not currently running."),
        "{out:?}"
    );
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander was signalled"
    );
    let args = layout.start_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::spawn(layout.torchserve(&args), &layout.path("work"));
    assert!(
        String::from_utf8_lossy(&std::fs::read(layout.pid_file()).unwrap())
            != bystander.id().to_string()
    );
    assert_eq!(get(&format!("{}/ping", server.inference)).status, 200);
    assert!(
        layout
            .torchserve(&["--stop"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
}
