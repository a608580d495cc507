//! Tenants through the real binary with `--auth tokens`: the isolation matrix (tenant A's
//! token against every operation on tenant B's model is denied exactly as for a model that
//! does not exist), 401 without a valid token, the admin's powers, quotas as 429 naming the
//! quota, the audit log, and tenants surviving a restart.

mod common;

use common::archives;
use common::server::{Reply, Server, get, send};
use serde_json::{Value, json};

/// The fair-share test measures who gets throttled, which only means something while no
/// other server of this file competes for the 2 cores: it takes this for writing, the
/// others for reading.
static CPU: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shares_the_cpu() -> std::sync::RwLockReadGuard<'static, ()> {
    CPU.read().unwrap_or_else(|e| e.into_inner())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn call(method: &str, url: &str, token: &str, body: &[u8]) -> Reply {
    send(
        method,
        url,
        &[
            ("authorization", &bearer(token)),
            ("content-type", "application/json"),
        ],
        body,
    )
}

/// The `mlp` model in `token`'s namespace, with a valid input.
fn predict_mlp_as(inference: &str, token: &str) -> Reply {
    call(
        "POST",
        &format!("{inference}/predictions/mlp"),
        token,
        b"[1, 2, 3, 4]",
    )
}

struct World {
    _state: tempfile::TempDir,
    server: Server,
    admin: String,
    a: String,
    b: String,
}

fn world(quota_a: Value) -> World {
    let state = tempfile::tempdir().unwrap();
    let store = archives::store().to_str().unwrap().to_owned();
    let server = Server::start(
        state.path(),
        &[
            "--model-store",
            &store,
            "--auth",
            "tokens",
            "--tenants-use-model-store",
            "true",
        ],
    );
    let admin = std::fs::read_to_string(state.path().join("admin.token")).unwrap();
    let m = &server.management;
    let mut tokens = Vec::new();
    for (name, quotas) in [("a", quota_a), ("b", json!({}))] {
        let body = json!({ "name": name, "quotas": quotas }).to_string();
        let reply = call("POST", &format!("{m}/tenants"), &admin, body.as_bytes());
        assert_eq!(reply.status, 201, "{}", reply.text());
        tokens.push(reply.json()["token"].as_str().unwrap().to_owned());
    }
    let (a, b) = (tokens[0].clone(), tokens[1].clone());
    for (token, url) in [
        (&a, "mlp.mar"),
        (&b, "mlp.mar"),
        (&b, "spin.mar&model_name=secret"),
    ] {
        let reply = call("POST", &format!("{m}/models?url={url}"), token, b"");
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    World {
        _state: state,
        server,
        admin,
        a,
        b,
    }
}

/// The body for a model that exists nowhere, with its name swapped for `secret`: what A
/// must get for B's model, so A cannot tell the two apart.
fn as_if_absent(reply: &Reply, ghost: &Reply) -> bool {
    reply.status == ghost.status && reply.text() == ghost.text().replace("ghost", "secret")
}

#[test]
fn tenant_a_cannot_reach_tenant_bs_models_and_cannot_tell_they_exist() {
    let _cpu = shares_the_cpu();
    let w = world(json!({}));
    let (i, m, x) = (&w.server.inference, &w.server.management, &w.server.metrics);
    // A smoke test over real sockets: one cell per route family. The whole matrix (every
    // cell, the admin acting for B on each) runs in process: crates/http/tests/tenancy_api.rs.
    let cases: Vec<(&str, String, &[u8])> = vec![
        ("POST", format!("{i}/predictions/NAME"), b"[1]"),
        (
            "POST",
            format!("{i}/v2/models/NAME/infer"),
            br#"{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}"#,
        ),
        ("GET", format!("{i}/v2/models/NAME/ready"), b""),
        ("GET", format!("{m}/models/NAME/all"), b""),
        ("PUT", format!("{m}/models/NAME?min_worker=2"), b""),
        ("DELETE", format!("{m}/models/NAME"), b""),
    ];
    for (method, url, body) in &cases {
        let reply = call(method, &url.replace("NAME", "secret"), &w.a, body);
        let ghost = call(method, &url.replace("NAME", "ghost"), &w.a, body);
        assert_eq!(reply.status, 404, "{method} {url}: {}", reply.text());
        assert!(
            as_if_absent(&reply, &ghost),
            "{method} {url}: {} vs {}",
            reply.text(),
            ghost.text()
        );
        // Without a token: 401, and nothing about the model either.
        let anonymous = send(method, &url.replace("NAME", "secret"), &[], body);
        anonymous.assert_error_at(url, 401, "Unauthorized");
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
        let forged = call(method, &url.replace("NAME", "secret"), "fs_forged", body);
        forged.assert_error_at(url, 401, "Unauthorized");
    }
    // The admin, acting for B, reaches B's model on every read and inference cell (B's
    // `secret` is the spin fixture: its calls stop at the deadline, 504).
    for (method, url, body) in cases
        .iter()
        .filter(|(m, u, _)| *m == "GET" || u.starts_with(i.as_str()))
    {
        let url = url.replace("NAME", "secret");
        let reply = send(
            method,
            &url,
            &[
                ("authorization", &bearer(&w.admin)),
                ("x-ferroserve-tenant", "b"),
                ("content-type", "application/json"),
            ],
            body,
        );
        if url.contains("/predictions/") {
            reply.assert_error(504, "HandlerDeadlineExceeded");
        } else {
            assert_eq!(reply.status, 200, "admin {method} {url}: {}", reply.text());
        }
    }
    // A's list shows A's models only; B's metrics series are not in A's scrape.
    let list = call("GET", &format!("{m}/models"), &w.a, b"").json();
    assert_eq!(
        list["models"],
        json!([{"modelName": "mlp", "modelUrl": "mlp.mar"}])
    );
    let metrics = call("GET", &format!("{x}/metrics"), &w.a, b"").text();
    assert!(metrics.contains(r#"model_name="a/mlp""#), "{metrics}");
    assert!(!metrics.contains(r#"model_name="b/"#), "{metrics}");
    get(&format!("{x}/metrics")).assert_error(401, "Unauthorized");
    let everything = call("GET", &format!("{x}/metrics"), &w.admin, b"").text();
    assert!(
        everything.contains(r#"model_name="b/secret""#),
        "{everything}"
    );
    assert!(everything.contains(r#"model_name="a/mlp""#), "{everything}");
    // Tenant administration is the admin's.
    for (method, path) in [
        ("GET", "/tenants"),
        ("DELETE", "/tenants/b"),
        ("POST", "/tenants/b/tokens"),
        ("GET", "/tenants/b"),
    ] {
        call(method, &format!("{m}{path}"), &w.a, b"").assert_error(403, "Forbidden");
    }
    // Both tenants own an `mlp`; each reaches its own. B's secret survived every attempt.
    assert_eq!(predict_mlp_as(i, &w.a).status, 200);
    assert_eq!(predict_mlp_as(i, &w.b).status, 200);
    let secret = call("GET", &format!("{m}/models/secret"), &w.b, b"");
    assert_eq!(secret.status, 200, "{}", secret.text());
    assert_eq!(
        secret.json()[0]["minWorkers"],
        1,
        "A's scale did not reach it"
    );
}

#[test]
fn the_admin_manages_tenants_and_acts_in_their_namespaces() {
    let _cpu = shares_the_cpu();
    let w = world(json!({}));
    let m = &w.server.management;
    call("DELETE", &format!("{m}/models/secret"), &w.a, b"")
        .assert_error(404, "ModelNotFoundException");
    let tenants = call("GET", &format!("{m}/tenants"), &w.admin, b"").json();
    let names: Vec<&str> = tenants["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(
        !tenants.to_string().contains(&w.a),
        "tokens are never shown again"
    );
    let as_b = send(
        "GET",
        &format!("{m}/models/secret"),
        &[
            ("authorization", &bearer(&w.admin)),
            ("x-ferroserve-tenant", "b"),
        ],
        b"",
    );
    assert_eq!(as_b.status, 200, "{}", as_b.text());
    // Rotation: a new token works, the revoked one stops at once.
    let issued = call("POST", &format!("{m}/tenants/a/tokens"), &w.admin, b"").json();
    let fresh = issued["token"].as_str().unwrap().to_owned();
    let first_id = call("GET", &format!("{m}/tenants/a"), &w.admin, b"").json()["tokens"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        call(
            "DELETE",
            &format!("{m}/tenants/a/tokens/{first_id}"),
            &w.admin,
            b""
        )
        .status,
        200
    );
    call("GET", &format!("{m}/models"), &w.a, b"").assert_error(401, "Unauthorized");
    assert_eq!(call("GET", &format!("{m}/models"), &fresh, b"").status, 200);
    // Removing a tenant removes its models and tokens.
    assert_eq!(
        call("DELETE", &format!("{m}/tenants/b"), &w.admin, b"").status,
        200
    );
    call("GET", &format!("{m}/models"), &w.b, b"").assert_error(401, "Unauthorized");
    // The audit log has who did what.
    let audit = std::fs::read_to_string(w.server.state_dir.join("audit.log")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["who"] == "admin"
        && l["action"] == "create-tenant"
        && l["target"] == "a"
        && l["result"] == "ok"));
    assert!(
        lines.iter().any(|l| l["who"] == "tenant b"
            && l["action"] == "register"
            && l["target"] == "spin.mar")
    );
    assert!(lines.iter().any(|l| l["who"] == "tenant a"
        && l["action"] == "unregister"
        && l["result"] == "error"
        // The audit log is the core's: a class, not a protocol's status (an operation may
        // arrive over REST or gRPC).
        && l["class"] == "not_found"
        && l["type"] == "ModelNotFoundException"));
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "remove-tenant" && l["target"] == "b")
    );
    assert!(
        lines
            .iter()
            .all(|l| l["time"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
}

#[test]
fn quotas_answer_429_naming_the_quota_and_its_limit() {
    let _cpu = shares_the_cpu();
    let w = world(
        json!({ "max_models": 1, "max_concurrent_requests": 1, "max_handler_deadline_ms": 300, "max_archive_bytes": 100000 }),
    );
    let (i, m) = (&w.server.inference, &w.server.management);
    let msg = call("POST", &format!("{m}/models?url=panic.mar"), &w.a, b"")
        .assert_error(429, "QuotaExceeded");
    assert!(msg.contains("max_models = 1"), "{msg}");
    // An upload over the tenant's archive quota (the server's own limit is far higher) is
    // refused while it streams, before anything parses it.
    let bytes = vec![0u8; 150_000];
    let msg = call("POST", &format!("{m}/models?model_name=big"), &w.a, &bytes)
        .assert_error(429, "QuotaExceeded");
    assert!(msg.contains("max_archive_bytes = 100000"), "{msg}");
    // In flight: one at a time. The MLP's handler deadline is capped at 300 ms by the quota.
    assert_eq!(
        call("DELETE", &format!("{m}/models/mlp"), &w.a, b"").status,
        200
    );
    assert_eq!(
        call("POST", &format!("{m}/models?url=spin.mar"), &w.a, b"").status,
        200
    );
    let d = call("GET", &format!("{m}/models/spin"), &w.a, b"").json();
    assert_eq!(d[0]["handlerLimits"]["deadlineMs"], 300);
    let (url, token) = (format!("{i}/predictions/spin"), w.a.clone());
    let spinning = std::thread::spawn(move || call("POST", &url, &token, b"[1]"));
    std::thread::sleep(std::time::Duration::from_millis(100));
    let busy = call("POST", &format!("{i}/predictions/spin"), &w.a, b"[1]");
    let msg = busy.assert_error(429, "QuotaExceeded");
    assert!(msg.contains("max_concurrent_requests = 1"), "{msg}");
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert_eq!(spinning.join().unwrap().status, 504);
    // B is not limited by A's quotas.
    assert_eq!(predict_mlp_as(i, &w.b).status, 200);
}

#[test]
fn tenants_tokens_and_their_models_survive_a_restart() {
    let _cpu = shares_the_cpu();
    let state = tempfile::tempdir().unwrap();
    let store = archives::store().to_str().unwrap().to_owned();
    let args = [
        "--model-store",
        store.as_str(),
        "--auth",
        "tokens",
        "--tenants-use-model-store",
        "true",
    ];
    let server = Server::start(state.path(), &args);
    let admin = std::fs::read_to_string(state.path().join("admin.token")).unwrap();
    let created = call(
        "POST",
        &format!("{}/tenants", server.management),
        &admin,
        br#"{"name": "a"}"#,
    )
    .json();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(
            "POST",
            &format!("{}/models?url=mlp.mar", server.management),
            &token,
            b""
        )
        .status,
        200
    );
    server.kill9();
    let server = Server::start(state.path(), &args);
    assert_eq!(predict_mlp_as(&server.inference, &token).status, 200);
    let on_disk = std::fs::read_to_string(state.path().join("tenants.json")).unwrap();
    assert!(!on_disk.contains(&token), "only the hash is stored");
    // A crash between a tenant's removal and its models' leaves them in the snapshot: they
    // are not brought back into a namespace no token reaches.
    server.kill9();
    let mut tenants: serde_json::Value = serde_json::from_str(&on_disk).unwrap();
    tenants["tenants"] = json!([]);
    std::fs::write(state.path().join("tenants.json"), tenants.to_string()).unwrap();
    let server = Server::start(state.path(), &args);
    let metrics = call("GET", &format!("{}/metrics", server.metrics), &admin, b"").text();
    assert!(!metrics.contains(r#"model_name="a/mlp""#), "{metrics}");
    assert!(
        server.log().contains("whose tenant no longer exists"),
        "{}",
        server.log()
    );
}

#[test]
fn torchserve_key_files_are_accepted() {
    let _cpu = shares_the_cpu();
    let state = tempfile::tempdir().unwrap();
    let keys = state.path().join("key_file.json");
    std::fs::write(&keys, r#"{"management": {"key": "mgmt-key", "expiration time": "2099-01-01T00:00:00Z"},
        "inference": {"key": "inf-key", "expiration time": "2099-01-01T00:00:00Z"}, "API": {"key": "api-key"}}"#).unwrap();
    let store = archives::store().to_str().unwrap().to_owned();
    let server = Server::start(
        state.path(),
        &[
            "--model-store",
            &store,
            "--key-file",
            keys.to_str().unwrap(),
            "--models",
            "mlp.mar",
        ],
    );
    let (i, m) = (&server.inference, &server.management);
    assert_eq!(predict_mlp_as(i, "inf-key").status, 200);
    predict_mlp_as(i, "mgmt-key").assert_error(401, "Unauthorized");
    assert_eq!(
        call("GET", &format!("{m}/models"), "mgmt-key", b"").status,
        200
    );
    call("GET", &format!("{m}/models"), "inf-key", b"").assert_error(401, "Unauthorized");
    server.predict_mlp().assert_error(401, "Unauthorized");
}

#[test]
fn the_tenant_command_creates_lists_and_removes_tenants() {
    let _cpu = shares_the_cpu();
    let state = tempfile::tempdir().unwrap();
    let server = Server::start(state.path(), &["--auth", "tokens"]);
    let token_file = state.path().join("admin.token");
    let cli = |args: &[&str]| {
        let mut all = vec![
            "tenant",
            "--management",
            server.management.as_str(),
            "--admin-token-file",
            token_file.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        common::ferroserve(&all)
    };
    let (code, out) = cli(&["create", "acme", "--quotas", r#"{"max_models": 3}"#]);
    assert_eq!(code, 0, "{out}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["quotas"]["max_models"], 3);
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call("GET", &format!("{}/models", server.management), &token, b"").status,
        200
    );
    let (code, out) = cli(&["list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"acme\"") && !out.contains(&token), "{out}");
    let (code, out) = cli(&["create", "acme"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TenantExists"), "{out}");
    let (code, out) = cli(&["remove", "acme"]);
    assert_eq!(code, 0, "{out}");
    call("GET", &format!("{}/models", server.management), &token, b"")
        .assert_error(401, "Unauthorized");
}

/// `ferroserve_handler_throttled_seconds_total` for `model` in `token`'s scrape.
fn throttled_seconds(metrics: &str, token: &str, model: &str) -> f64 {
    let text = call("GET", &format!("{metrics}/metrics"), token, b"").text();
    let prefix = format!("ferroserve_handler_throttled_seconds_total{{model_name=\"{model}\"");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_looping_tenant_is_throttled_while_another_is_busy_and_not_alone() {
    let _alone = CPU.write().unwrap_or_else(|e| e.into_inner());
    let w = world(json!({ "max_handler_deadline_ms": 300 }));
    let (i, m, x) = (&w.server.inference, &w.server.management, &w.server.metrics);
    let reply = call("POST", &format!("{m}/models?url=spin.mar"), &w.a, b"");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let spin_as_a = |n: usize| {
        let calls: Vec<_> = (0..n)
            .map(|_| {
                let (url, token) = (format!("{i}/predictions/spin"), w.a.clone());
                std::thread::spawn(move || call("POST", &url, &token, b"[1]"))
            })
            .collect();
        for c in calls {
            c.join()
                .unwrap()
                .assert_error(504, "HandlerDeadlineExceeded");
        }
    };
    // Alone: A's looping calls are not throttled (they only lose priority).
    spin_as_a(2);
    assert_eq!(throttled_seconds(x, &w.a, "a/spin"), 0.0);
    // While B sends steady traffic, every one of B's requests succeeds and A's looping
    // calls take turns and rest.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let b = {
        let (i, token, done) = (i.clone(), w.b.clone(), done.clone());
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                statuses.push(predict_mlp_as(&i, &token).status);
            }
            statuses
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    spin_as_a(3);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = b.join().unwrap();
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let (a, b) = (
        throttled_seconds(x, &w.a, "a/spin"),
        throttled_seconds(x, &w.b, "b/mlp"),
    );
    assert!(a > 0.1, "{a}");
    // On a quiet machine B is never throttled. On a loaded one (CI's, with other test
    // binaries' leftovers) a B call can stall past its 10 ms slice and rest once; the looper
    // must still carry nearly all of it.
    assert!(b < a / 4.0, "B throttled {b} s, A {a} s");
}

#[test]
fn concurrent_registrations_cannot_exceed_max_models() {
    let _cpu = shares_the_cpu();
    // A owns `mlp` already; one more fits.
    let w = world(json!({ "max_models": 2 }));
    let m = &w.server.management;
    let racers: Vec<_> = ["one", "two", "three"]
        .into_iter()
        .map(|name| {
            let (url, token) = (
                format!("{m}/models?url=mlp.mar&model_name={name}"),
                w.a.clone(),
            );
            std::thread::spawn(move || call("POST", &url, &token, b""))
        })
        .collect();
    let replies: Vec<Reply> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let won: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        replies.iter().map(Reply::text).collect::<Vec<_>>()
    );
    for lost in replies.iter().filter(|r| r.status != 200) {
        let msg = lost.assert_error(429, "QuotaExceeded");
        assert!(msg.contains("max_models = 2"), "{msg}");
    }
    let list = call("GET", &format!("{m}/models"), &w.a, b"").json();
    assert_eq!(list["models"].as_array().unwrap().len(), 2, "{list}");
}
