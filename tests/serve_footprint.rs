//! What attacks leave behind, against the real binary: a thousand hostile handler calls
//! leave the server's RSS within 10 % of where it stood once warm, and its descriptors and
//! threads where they were; refused uploads and unregistered models leave the state
//! directory at its baseline. The PID never changes and a well-behaved model answers
//! after each.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::archives;
use common::server::{Server, send};

/// Resident set size in KiB, from `/proc/PID/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn fds_and_threads(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(dir).map_or(0, |d| d.count());
    (
        count(format!("/proc/{pid}/fd")),
        count(format!("/proc/{pid}/task")),
    )
}

/// Each hostile handler with the body that makes it misbehave, and the errors it may get
/// (on a loaded machine a call may reach its deadline before the limit it aims at).
const ATTACKS: &[(&str, &str, &[&str])] = &[
    ("many-outputs", "1000000", &["HandlerMemoryLimitExceeded"]),
    (
        "many-outputs",
        "200000",
        &["HandlerMalformedTensor", "HandlerMemoryLimitExceeded"],
    ),
    ("many-outputs", "2000", &["HandlerMalformedTensor"]),
    ("big-output", "200", &["HandlerMemoryLimitExceeded"]),
    (
        "big-output",
        "100",
        &["HandlerOutputTooLarge", "HandlerMemoryLimitExceeded"],
    ),
    ("membomb", "{}", &["HandlerMemoryLimitExceeded"]),
    // Succeeds (its output captured, bounded); the MLP then refuses the shape.
    (
        "stdout-flood",
        "{}",
        &["\"code\":200", "ModelBadInput", "ModelForwardError"],
    ),
    ("panic", "{}", &["HandlerPanicked"]),
    ("malformed", "{}", &["HandlerMalformedTensor"]),
    ("exit", "{}", &["HandlerTrapped"]),
    ("open-files", "20000", &["HandlerResourceLimitExceeded"]),
    ("spin", "{}", &[]),
    ("sleep", "10", &[]),
];

fn attack(server: &Server, i: usize) {
    let (model, body, kinds) = ATTACKS[i % ATTACKS.len()];
    let url = format!("{}/predictions/{model}", server.inference);
    let r = send(
        "POST",
        &url,
        &[("content-type", "text/plain")],
        body.as_bytes(),
    );
    let text = format!("{{\"code\":{},{}", r.status, r.text());
    assert!(
        kinds
            .iter()
            .chain(&["HandlerDeadlineExceeded"])
            .any(|k| text.contains(k)),
        "{model} {body}: expected one of {kinds:?}, got {text}"
    );
}

/// `n` attacks over 8 client threads, round robin over [`ATTACKS`].
fn attacks(server: &Arc<Server>, n: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (server, next) = (server.clone(), next.clone());
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    attack(&server, i);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn a_thousand_hostile_calls_leave_rss_within_ten_percent() {
    let mut models: Vec<String> = ATTACKS
        .iter()
        .map(|a| format!("{}.mar", a.0))
        .chain(["mlp.mar".to_owned()])
        .collect();
    models.sort();
    models.dedup();
    let (_state, server) = Server::with_store(
        &models.join(","),
        &[
            "--handler-deadline-ms",
            "300",
            "--handler-memory-mib",
            "128",
        ],
    );
    let pid = server.pid();
    let server = Arc::new(server);
    let cold = rss_kib(pid);
    // Warm: the pool's warm slots (up to two per sandbox thread, each keeping up to 16 MiB
    // resident) and the allocator arenas the attacks use have been used. Measured on 2
    // cores: RSS rises ~25 % over the first 1,000 calls, then stays within ~3 % for the
    // next 3,000 (a ~100 MiB step per arena high-water mark before trim.rs and the arena cap).
    attacks(&server, 1000);
    let (rss0, (fds0, threads0)) = (rss_kib(pid), fds_and_threads(pid));
    attacks(&server, 1000);
    let rss1 = rss_kib(pid);
    let (fds1, threads1) = fds_and_threads(pid);
    assert!(
        rss1 * 10 <= rss0 * 11,
        "RSS grew from {rss0} KiB to {rss1} KiB over 1,000 hostile calls"
    );
    // A demoted sandbox thread is replaced, so the count may move by a few.
    assert!(fds1 <= fds0 + 8, "descriptors {fds0} -> {fds1}");
    assert!(threads1 <= threads0 + 8, "threads {threads0} -> {threads1}");
    let mut server = Arc::into_inner(server).unwrap();
    assert!(server.is_running());
    assert_eq!(server.pid(), pid);
    assert_eq!(server.predict_mlp().status, 200);
    eprintln!("RSS {cold} KiB cold, {rss0} KiB warm, {rss1} KiB after 1,000 hostile calls");
}

/// Bytes under `dir`, every file once.
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in entries.flatten() {
        let meta = e.metadata().unwrap();
        total += if meta.is_dir() {
            du(&e.path())
        } else {
            meta.len()
        };
    }
    total
}

/// Every file under `dir` with its size, for a failure message.
fn listing(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = e.metadata().unwrap();
        if meta.is_dir() {
            out += &listing(&e.path());
        } else {
            out += &format!("{} ({} bytes); ", e.path().display(), meta.len());
        }
    }
    out
}

#[test]
fn refused_uploads_and_unregistered_models_leave_the_state_dir_at_its_baseline() {
    let (state, mut server) = Server::with_store("", &[]);
    let pid = server.pid();
    let m = &server.management;
    let mlp = std::fs::read(archives::store().join("mlp.mar")).unwrap();
    let other = std::fs::read(archives::store().join("exit.mar")).unwrap();
    // The baseline: the server up, one model registered by upload and unregistered, so
    // whatever the first registration makes once (the compile cache, say) is counted.
    let upload = |bytes: &[u8]| send("POST", &format!("{m}/models"), &[], bytes);
    assert_eq!(upload(&mlp).status, 200);
    assert_eq!(
        send("DELETE", &format!("{m}/models/mlp"), &[], b"").status,
        200
    );
    // The audit log grows by a line per operation, within its own cap (audit_log_mib,
    // rotated; tested beside it); the compile cache within compile_cache_mib.
    let audit = |dir: &Path| {
        ["audit.log", "audit.log.1"]
            .iter()
            .map(|f| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    let baseline = du(state.path()) - du(&state.path().join("wasm-cache")) - audit(state.path());
    let mut truncated = mlp.clone();
    truncated.truncate(mlp.len() / 2);
    for i in 0..20u8 {
        let junk = match i % 3 {
            0 => vec![i; 5 << 20],
            1 => truncated.clone(),
            // A valid archive whose model name is already taken: 409, and not kept.
            _ => other.clone(),
        };
        if i % 3 == 2 && i > 2 {
            let r = upload(&junk);
            assert_eq!(r.status, 409, "{}", r.text());
        } else {
            let r = upload(&junk);
            assert!(r.status == 400 || r.status == 200, "{}", r.text());
        }
    }
    assert_eq!(
        send("DELETE", &format!("{m}/models/exit"), &[], b"").status,
        200
    );
    for _ in 0..5 {
        assert_eq!(upload(&mlp).status, 200);
        assert_eq!(server.predict_mlp().status, 200);
        assert_eq!(
            send("DELETE", &format!("{m}/models/mlp"), &[], b"").status,
            200
        );
    }
    // Everything else is back where it was.
    let outside_cache = |dir: &Path| du(dir) - du(&dir.join("wasm-cache")) - audit(dir);
    let after = outside_cache(state.path());
    assert!(
        after <= baseline,
        "state dir outside the compile cache: {baseline} bytes -> {after}: {}",
        listing(state.path())
    );
    let archives_left = du(&state.path().join("archives"));
    assert_eq!(archives_left, 0, "archives kept after unregistering");
    assert!(server.is_running());
    assert_eq!(server.pid(), pid);
}
