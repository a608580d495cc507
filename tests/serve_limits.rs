//! The limits against the real binary: slow and silent clients cost their own slots and
//! are closed in seconds, the connection cap holds, numbers and names out of range are
//! refused by every protocol's front door, and after each attack the server has the same
//! PID, its descriptors and threads come back, and another tenant's predictions succeed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::archives;
use common::server::{Reply, Server, send};
use serde_json::json;

fn call(method: &str, url: &str, token: &str, body: &[u8]) -> Reply {
    let bearer = format!("Bearer {token}");
    send(
        method,
        url,
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        body,
    )
}

/// How many descriptors and threads the server holds.
fn footprint(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(dir).map_or(0, |d| d.count());
    (
        count(format!("/proc/{pid}/fd")),
        count(format!("/proc/{pid}/task")),
    )
}

/// Descriptors and threads come back to `before` within 10 s (a little slack for what the
/// OS is still closing).
fn footprint_returns(pid: u32, before: (usize, usize)) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = footprint(pid);
        if now.0 <= before.0 + 8 && now.1 <= before.1 + 8 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "before {before:?}, after {now:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Tenants {
    _state: tempfile::TempDir,
    server: Server,
    hostile: String,
    victim: String,
}

fn tenants(extra: &[&str]) -> Tenants {
    tenants_with(extra, json!({}))
}

/// [`tenants`], the hostile one under `hostile_quotas`.
fn tenants_with(extra: &[&str], hostile_quotas: serde_json::Value) -> Tenants {
    let state = tempfile::tempdir().unwrap();
    let store = archives::store().to_str().unwrap().to_owned();
    let mut args = vec![
        "--model-store",
        &store,
        "--auth",
        "tokens",
        "--tenants-use-model-store",
        "true",
    ];
    args.extend_from_slice(extra);
    let server = Server::start(state.path(), &args);
    let admin = std::fs::read_to_string(state.path().join("admin.token")).unwrap();
    let m = &server.management;
    let mut tokens = Vec::new();
    for (name, quotas) in [("hostile", hostile_quotas), ("victim", json!({}))] {
        let body = json!({ "name": name, "quotas": quotas }).to_string();
        let reply = call("POST", &format!("{m}/tenants"), &admin, body.as_bytes());
        assert_eq!(reply.status, 201, "{}", reply.text());
        let token = reply.json()["token"].as_str().unwrap().to_owned();
        let reply = call("POST", &format!("{m}/models?url=mlp.mar"), &token, b"");
        assert_eq!(reply.status, 200, "{}", reply.text());
        tokens.push(token);
    }
    Tenants {
        _state: state,
        server,
        victim: tokens.pop().unwrap(),
        hostile: tokens.pop().unwrap(),
    }
}

fn victim_predicts(t: &Tenants, n: usize) {
    let url = format!("{}/predictions/mlp", t.server.inference);
    for i in 0..n {
        let r = call("POST", &url, &t.victim, b"[1, 2, 3, 4]");
        assert_eq!(r.status, 200, "victim request {i}: {}", r.text());
    }
}

/// A prediction head promising a 1000-byte body, and its first byte.
fn stalled_head(token: &str) -> String {
    format!(
        "POST /predictions/mlp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n["
    )
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Whether the server closed `s` (EOF or a reset) within `within`, reading what it sent.
fn closed_within(s: &mut TcpStream, within: Duration) -> Option<String> {
    s.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&got).into_owned());
            }
            Err(_) => return None,
        }
    }
}

#[test]
fn a_thousand_stalled_bodies_cost_the_hostile_tenant_alone_and_end_in_seconds() {
    let mut t = tenants(&["--body-read-timeout-s", "2", "--header-read-timeout-s", "3"]);
    let pid = t.server.pid();
    victim_predicts(&t, 5);
    let before = footprint(pid);
    let addr = host_port(&t.server.inference);
    // 1,100 connections each send a prediction head promising 1000 bytes, and one byte.
    let head = stalled_head(&t.hostile);
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..1100)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    // Silent connections and half-sent heads too.
    let mut silent: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut half: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"POST /predictions/mlp HTTP/1.1\r\nhost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // Meanwhile the other tenant is served, every time.
    victim_predicts(&t, 50);
    let mut statuses = std::collections::BTreeMap::new();
    for s in &mut stalled {
        let answer =
            closed_within(s, Duration::from_secs(20)).expect("a stalled body was never closed");
        let status = answer.split(' ').nth(1).unwrap_or("none").to_owned();
        *statuses.entry(status).or_insert(0) += 1;
    }
    // Each is either refused over the tenant's in-flight quota (429) or timed out (408).
    assert_eq!(
        statuses.keys().cloned().collect::<Vec<_>>(),
        ["408", "429"],
        "{statuses:?}"
    );
    // At most 16 (the tenant's quota) are held at a time, each for the 2 s pause limit;
    // the 1,100 arrive over a few seconds, so a few rounds of 16 may be admitted.
    assert!(
        statuses["408"] <= 16 * 4,
        "{statuses:?}: more than the tenant's 16 slots held"
    );
    for s in silent.iter_mut().chain(half.iter_mut()) {
        assert!(
            closed_within(s, Duration::from_secs(20)).is_some(),
            "a silent connection was never closed"
        );
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "{took:?}");
    drop((stalled, silent, half));
    victim_predicts(&t, 5);
    assert!(t.server.is_running());
    assert_eq!(t.server.pid(), pid);
    footprint_returns(pid, before);
}

#[test]
fn refusals_waiting_out_their_hold_leave_the_listener_to_other_tenants() {
    // A listener of 8 in-flight slots, and a hostile tenant allowed one request at a time.
    let t = tenants_with(
        &[
            "--max-concurrent-requests",
            "8",
            "--body-read-timeout-s",
            "10",
        ],
        json!({ "max_concurrent_requests": 1 }),
    );
    let pid = t.server.pid();
    let addr = host_port(&t.server.inference);
    let head = stalled_head(&t.hostile);
    // Its one slot held by a stalled body, then 20 more requests: each refused over its
    // quota, and each held back 250 ms to 2 s before its 429 is sent.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut refused: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // While they wait, more than the listener's 8, the other tenant is served.
    victim_predicts(&t, 5);
    for s in &mut refused {
        let answer = closed_within(s, Duration::from_secs(10)).expect("a refusal never came");
        assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    }
    drop(stalled);
    victim_predicts(&t, 2);
    assert_eq!(t.server.pid(), pid);
}

/// Files in the state directory's archives folder (kept uploads and fetches).
fn kept(t: &Tenants) -> usize {
    std::fs::read_dir(t._state.path().join("archives")).map_or(0, |d| d.count())
}

#[test]
fn a_loop_of_scales_and_junk_uploads_is_held_to_the_tenants_change_rate() {
    let mut t = tenants(&[]);
    let pid = t.server.pid();
    victim_predicts(&t, 5);
    let (before, kept_before) = (footprint(pid), kept(&t));
    let started = Instant::now();
    // Four loops at once, as the hostile tenant (default quotas: 4 management requests in
    // flight, 60 changes a minute after a burst of 10): scale in range, scale far out of
    // range, a 100 KB junk upload; never waiting for Retry-After.
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let (m, token) = (t.server.management.clone(), t.hostile.clone());
            std::thread::spawn(move || {
                let junk = vec![7u8; 100_000];
                let mut answers = Vec::new();
                for round in 0..8 {
                    let w = round % 2 + 1;
                    for (method, url, body) in [
                        (
                            "PUT",
                            format!("{m}/models/mlp?min_worker={w}&max_worker={w}"),
                            &[][..],
                        ),
                        ("PUT", format!("{m}/models/mlp?min_worker=100000"), &[][..]),
                        ("POST", format!("{m}/models?model_name=junk"), &junk[..]),
                    ] {
                        let r = call(method, &url, &token, body);
                        let wait = r.header("retry-after").map(str::to_owned);
                        answers.push((r.status, wait, r.text()));
                    }
                }
                answers
            })
        })
        .collect();
    victim_predicts(&t, 50);
    let answers: Vec<_> = loops.into_iter().flat_map(|l| l.join().unwrap()).collect();
    let elapsed = started.elapsed().as_secs_f64();
    let spent = answers.iter().filter(|a| a.0 != 429).count();
    // The registration at setup took one change of the burst; then one a second.
    assert!(
        (9..=(10.0 + elapsed) as usize).contains(&spent),
        "{spent} changes in {elapsed:.1} s"
    );
    for (status, wait, text) in answers.iter().filter(|a| a.0 == 429) {
        let quota = [
            "max_management_changes_per_minute = 60",
            "max_concurrent_management = 4",
        ];
        assert!(quota.iter().any(|q| text.contains(q)), "{status} {text}");
        assert!(wait.is_some(), "a 429 says when to retry: {text}");
    }
    for (status, _, text) in answers.iter().filter(|a| a.0 != 429) {
        assert!([200, 202, 400].contains(status), "{status} {text}");
    }
    victim_predicts(&t, 5);
    assert!(t.server.is_running());
    assert_eq!(t.server.pid(), pid);
    footprint_returns(pid, before);
    assert_eq!(kept(&t), kept_before, "no junk upload is kept");
}

#[test]
fn the_connection_cap_makes_newcomers_wait_for_a_slot_not_fail() {
    let t = tenants(&["--max-connections", "32", "--header-read-timeout-s", "2"]);
    let addr = host_port(&t.server.inference);
    let mut idle: Vec<TcpStream> = (0..32)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Every slot is held by a silent socket: the next client waits in the backlog until
    // the header read timeout frees slots, then is served.
    let started = Instant::now();
    victim_predicts(&t, 3);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "served at once: {waited:?}, no cap"
    );
    for s in &mut idle {
        assert!(closed_within(s, Duration::from_secs(10)).is_some());
    }
}

#[test]
fn numbers_and_names_out_of_range_are_refused_at_every_front_door() {
    let t = tenants(&[]);
    let m = &t.server.management;
    for (query, kind) in [
        ("url=mlp.mar&model_name=big&batch_size=0", "OutOfRange"),
        (
            "url=mlp.mar&model_name=big&batch_size=1000000000000",
            "OutOfRange",
        ),
        (
            "url=mlp.mar&model_name=big&initial_workers=100000",
            "OutOfRange",
        ),
        (
            "url=mlp.mar&model_name=big&response_timeout=18446744073709551615",
            "OutOfRange",
        ),
        ("url=mlp.mar&model_name=x%2Fy", "InvalidModelName"),
        ("url=mlp.mar&model_name=a%0Ab", "InvalidModelName"),
    ] {
        let r = call("POST", &format!("{m}/models?{query}"), &t.hostile, b"");
        r.assert_error(400, kind);
    }
    let r = call(
        "PUT",
        &format!("{m}/models/mlp?min_worker=100000"),
        &t.hostile,
        b"",
    );
    r.assert_error(400, "OutOfRange");
    let long = "n".repeat(10_000);
    let url = format!("{}/v2/models/{long}/infer", t.server.inference);
    let r = call("POST", &url, &t.hostile, b"{}");
    let message = r.assert_v2_error(400);
    assert!(message.len() < 300, "{message}");
    // The hostile tenant's model still serves at its old bounds, as does the victim's.
    let r = call("GET", &format!("{m}/models/mlp"), &t.hostile, b"");
    assert_eq!(r.json()[0]["minWorkers"], 1, "{}", r.text());
    victim_predicts(&t, 3);
}

#[test]
fn a_token_issued_without_auth_is_refused_once_auth_is_on() {
    let state = tempfile::tempdir().unwrap();
    let mut open = Server::start(state.path(), &[]);
    let body = json!({ "name": "early" }).to_string();
    let r = send(
        "POST",
        &format!("{}/tenants", open.management),
        &[("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let early = r.json()["token"].as_str().unwrap().to_owned();
    assert!(open.terminate().success());
    let guarded = Server::start(state.path(), &["--auth", "tokens"]);
    let r = call(
        "GET",
        &format!("{}/models", guarded.management),
        &early,
        b"",
    );
    let message = r.assert_error(401, "Unauthorized");
    assert!(
        message.contains("issued while the server ran without auth"),
        "{message}"
    );
    // The operator issues a new one, which works.
    let admin = std::fs::read_to_string(state.path().join("admin.token")).unwrap();
    let url = format!("{}/tenants/early/tokens", guarded.management);
    let r = call("POST", &url, admin.trim(), b"");
    assert_eq!(r.status, 201, "{}", r.text());
    let fresh = r.json()["token"].as_str().unwrap().to_owned();
    let r = call(
        "GET",
        &format!("{}/models", guarded.management),
        &fresh,
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// One HTTP/2 frame: length, type, flags, stream id, payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A gRPC `ModelInfer` call by hand, over its own connection: the preface, settings, the
/// call's headers (HPACK literals, no Huffman), then the first byte of a message whose
/// 5-byte prefix promises 1,000; then nothing. It answers no pings.
fn stalled_grpc_call(addr: &str, token: &str) -> TcpStream {
    let mut block = Vec::new();
    let bearer = format!("Bearer {token}");
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/inference.GRPCInferenceService/ModelInfer"),
        (":authority", addr),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("authorization", &bearer),
    ] {
        // Literal without indexing, new name; both lengths fit HPACK's 7-bit prefix.
        assert!(name.len() < 127 && value.len() < 127);
        block.push(0);
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    let mut s = TcpStream::connect(addr).unwrap();
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(h2_frame(0x4, 0, 0, &[])); // SETTINGS
    out.extend(h2_frame(0x1, 0x4, 1, &block)); // HEADERS, END_HEADERS
    out.extend(h2_frame(0x0, 0, 1, &[0, 0, 0, 0x03, 0xe8, 0x0a])); // DATA: 1 of 1,000
    s.write_all(&out).unwrap();
    s
}

fn grpc_probe(t: &Tenants, token: &str) -> serde_json::Value {
    let addr = t.server.grpc_inference.clone();
    common::examples::run_client("triton_probe.py", &[&addr, token, "mlp", "mlp", "4"])
}

#[test]
fn stalled_grpc_messages_cost_the_hostile_tenant_alone_and_dead_connections_close() {
    let mut t = tenants(&["--header-read-timeout-s", "2"]);
    let pid = t.server.pid();
    assert!(grpc_probe(&t, &t.victim)["ok"].is_array());
    let before = footprint(pid);
    let addr = host_port(&t.server.grpc_inference);
    // As many stalled calls as the hostile tenant's in-flight quota (16), then more.
    let mut stalled: Vec<TcpStream> = (0..24)
        .map(|_| stalled_grpc_call(&addr, &t.hostile))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // Its quota was taken before the messages were read: its next call is refused...
    let refused = grpc_probe(&t, &t.hostile);
    assert_eq!(
        refused["status"], "StatusCode.RESOURCE_EXHAUSTED",
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("max_concurrent_requests"),
        "{refused}"
    );
    // ...and the other tenant's are not, over gRPC and REST.
    for _ in 0..5 {
        assert!(grpc_probe(&t, &t.victim)["ok"].is_array());
    }
    victim_predicts(&t, 5);
    // They answer no keep-alive ping: closed within the 2 s interval + 2 s timeout.
    for s in &mut stalled {
        assert!(
            closed_within(s, Duration::from_secs(20)).is_some(),
            "a stalled gRPC connection was never closed"
        );
    }
    // Connections that never send the preface are closed at the first-byte timeout.
    let mut silent: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    for s in &mut silent {
        assert!(
            closed_within(s, Duration::from_secs(10)).is_some(),
            "a silent gRPC connection was never closed"
        );
    }
    drop((stalled, silent));
    // The hostile tenant's slots came back with its connections.
    assert!(grpc_probe(&t, &t.hostile)["ok"].is_array());
    assert!(t.server.is_running());
    assert_eq!(t.server.pid(), pid);
    footprint_returns(pid, before);
}
