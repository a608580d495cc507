//! The real `ferroserve serve` on port 0: started with an empty environment, its bound
//! addresses read from the line it prints, stopped with SIGTERM (graceful) or SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub inference: String,
    pub management: String,
    pub metrics: String,
    /// `host:port` of the gRPC listeners (no scheme, as gRPC clients take them), or `off`.
    pub grpc_inference: String,
    pub grpc_management: String,
    pub state_dir: PathBuf,
    /// Everything the server wrote to stderr (its JSON log), collected as it runs.
    pub log: Arc<Mutex<String>>,
}

/// A response, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Asserts TorchServe's error shape exactly: the three keys and nothing else.
    pub fn assert_error(&self, code: u16, kind: &str) -> String {
        let json = self.json();
        assert_eq!(self.status, code, "{json}");
        let obj = json.as_object().expect("an object");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["code", "message", "type"], "{json}");
        assert_eq!(json["code"], code, "{json}");
        assert_eq!(json["type"], kind, "{json}");
        let message = json["message"].as_str().unwrap().to_owned();
        assert!(!message.is_empty());
        message
    }

    /// The error in the shape `url`'s protocol uses: v2's under `/v2`, TorchServe's
    /// (with `kind`) elsewhere; returns the message.
    pub fn assert_error_at(&self, url: &str, code: u16, kind: &str) -> String {
        let path = url.splitn(4, '/').nth(3).unwrap_or_default();
        if path == "v2" || path.starts_with("v2/") {
            self.assert_v2_error(code)
        } else {
            self.assert_error(code, kind)
        }
    }

    /// Asserts KServe v2's error shape exactly: `{"error": "..."}`; returns the message.
    pub fn assert_v2_error(&self, code: u16) -> String {
        let json = self.json();
        assert_eq!(self.status, code, "{json}");
        let obj = json.as_object().expect("an object");
        assert_eq!(obj.keys().collect::<Vec<_>>(), ["error"], "{json}");
        let message = json["error"].as_str().unwrap().to_owned();
        assert!(!message.is_empty());
        message
    }
}

impl Server {
    /// Starts the server with `args` after the listener and state flags.
    pub fn start(state_dir: &Path, args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferroserve"));
        command
            .arg("serve")
            .args(["--inference-address", "127.0.0.1:0"])
            .args(["--management-address", "127.0.0.1:0"])
            .args(["--metrics-address", "127.0.0.1:0"])
            .args(["--grpc-inference-address", "127.0.0.1:0"])
            .args(["--grpc-management-address", "127.0.0.1:0"])
            .arg("--state-dir")
            .arg(state_dir)
            .args(args)
            .env_clear()
            .env("RUST_LOG", "info");
        Server::spawn(command, state_dir)
    }

    /// A fresh state directory, the test archives' model store, `--models MODELS` (none
    /// when empty), then `extra`.
    pub fn with_store(models: &str, extra: &[&str]) -> (tempfile::TempDir, Server) {
        let state = tempfile::tempdir().unwrap();
        let store = super::archives::store().to_str().unwrap().to_owned();
        let mut args = vec!["--model-store", store.as_str()];
        if !models.is_empty() {
            args.extend(["--models", models]);
        }
        args.extend_from_slice(extra);
        let server = Server::start(state.path(), &args);
        (state, server)
    }

    /// Runs `command` (which must end up printing the listening line on stdout) and waits
    /// for the server to listen. The gRPC listeners get free ports unless the command
    /// names them (TorchServe's 7070 and 7071 would collide between tests).
    pub fn spawn(mut command: Command, state_dir: &Path) -> Server {
        for key in [
            "FERROSERVE_GRPC_INFERENCE_ADDRESS",
            "FERROSERVE_GRPC_MANAGEMENT_ADDRESS",
        ] {
            if !command.get_envs().any(|(k, _)| k == key) {
                command.env(key, "127.0.0.1:0");
            }
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("ferroserve listening:") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not start; its log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let addr = |key: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{key}=")))
                .unwrap()
                .to_owned()
        };
        Server {
            inference: addr("inference"),
            management: addr("management"),
            metrics: addr("metrics"),
            grpc_inference: addr("grpc_inference"),
            grpc_management: addr("grpc_management"),
            child,
            state_dir: state_dir.to_owned(),
            log,
        }
    }

    /// One request to the `mlp` model (from `archives::store`) with a valid input.
    pub fn predict_mlp(&self) -> Reply {
        post_json(
            &format!("{}/predictions/mlp", self.inference),
            "[1, 2, 3, 4]",
        )
    }

    /// Starts a request to the `spin` model (a handler that loops until its deadline) on
    /// another thread, and gives it half a second to be running.
    pub fn hold_spin(&self) -> std::thread::JoinHandle<Reply> {
        let url = format!("{}/predictions/spin", self.inference);
        let spinning = std::thread::spawn(move || post_json(&url, "[1]"));
        std::thread::sleep(Duration::from_millis(500));
        spinning
    }

    /// The pid of the process started (for a daemonizing launcher: the launcher's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process started is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then wait (at most 60 s) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "no exit 60 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// One request; any status comes back as a [`Reply`].
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(body.to_vec()).unwrap();
    let mut response = agent()
        .run(request)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn get(url: &str) -> Reply {
    send("GET", url, &[], b"")
}

pub fn post_json(url: &str, body: &str) -> Reply {
    send(
        "POST",
        url,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

/// A port nothing listens on right now (for configs that need a fixed one, such as two
/// APIs sharing an address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
