//! Tenant cells through the real binary (`model_isolation = "process"`, the default): each
//! hostile TorchScript model of the fixtures, uploaded by tenant A, costs A's cell and
//! never the server. Every case asserts the server's PID is unchanged, A gets a typed
//! error naming what happened, and tenant B's steady traffic to its own model is 100 %
//! successful throughout.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::archives;
use common::server::{Reply, Server, get, send};
use serde_json::json;

fn call(method: &str, url: &str, token: &str, body: &[u8]) -> Reply {
    let bearer = format!("Bearer {token}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    send(method, url, &headers, body)
}

/// A server with tenants `a` (under `quotas`, registering `models` from the test store)
/// and `b` (default quotas, its `mlp` under steady traffic from the start).
struct World {
    _state: tempfile::TempDir,
    server: Server,
    pid: u32,
    a: String,
    victim_token: String,
    victim: Option<Victim>,
}

/// B's traffic: one request after another until stopped; every reply must be a 200.
struct Victim {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(usize, Vec<String>)>,
}

impl World {
    fn start(quotas: serde_json::Value, models: &[&str]) -> World {
        let state = tempfile::tempdir().unwrap();
        let store = archives::store().to_str().unwrap().to_owned();
        let args = [
            "--model-store",
            &store,
            "--auth",
            "tokens",
            "--tenants-use-model-store",
            "true",
        ];
        let server = Server::start(state.path(), &args);
        let admin = std::fs::read_to_string(state.path().join("admin.token")).unwrap();
        let m = server.management.clone();
        let mut tokens = Vec::new();
        for (name, quotas) in [("a", quotas), ("b", json!({}))] {
            let body = json!({ "name": name, "quotas": quotas }).to_string();
            let reply = call("POST", &format!("{m}/tenants"), &admin, body.as_bytes());
            assert_eq!(reply.status, 201, "{}", reply.text());
            tokens.push(reply.json()["token"].as_str().unwrap().to_owned());
        }
        let (a, b) = (tokens[0].clone(), tokens[1].clone());
        let register = |token: &str, query: &str| {
            let reply = call("POST", &format!("{m}/models?{query}"), token, b"");
            assert_eq!(reply.status, 200, "{query}: {}", reply.text());
        };
        register(&b, "url=mlp.mar");
        register(&a, "url=mlp.mar");
        for query in models {
            register(&a, query);
        }
        let pid = server.pid();
        let mut world = World {
            _state: state,
            server,
            pid,
            a,
            victim_token: b.clone(),
            victim: None,
        };
        world.victim = Some(world.victim_traffic(b));
        world
    }

    fn victim_traffic(&self, b: String) -> Victim {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("{}/predictions/mlp", self.server.inference);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut ok, mut failures) = (0, Vec::new());
            while !flag.load(Ordering::Relaxed) {
                let reply = call("POST", &url, &b, b"[1, 2, 3, 4]");
                if reply.status == 200 {
                    ok += 1;
                } else {
                    failures.push(format!("{}: {}", reply.status, reply.text()));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (ok, failures)
        });
        Victim { stop, thread }
    }

    fn predict_as_a(&self, model: &str, body: &str) -> Reply {
        let url = format!("{}/predictions/{model}", self.server.inference);
        call("POST", &url, &self.a, body.as_bytes())
    }

    fn register_as_a(&self, query: &str) -> Reply {
        let url = format!("{}/models?{query}", self.server.management);
        call("POST", &url, &self.a, b"")
    }

    /// A's own `mlp` (in the same cell as its hostile model) answers again, after the cell
    /// restarted where it died.
    fn a_recovers(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let reply = self.predict_as_a("mlp", "[1, 2, 3, 4]");
            if reply.status == 200 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "A's mlp never came back: {}",
                reply.text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The server is the one that started, and B never saw a failure.
    fn finish(mut self) {
        let victim = self.victim.take().unwrap();
        victim.stop.store(true, Ordering::Relaxed);
        let (ok, failures) = victim.thread.join().unwrap();
        assert!(
            self.server.is_running(),
            "the server died: {}",
            self.server.log()
        );
        assert_eq!(self.server.pid(), self.pid);
        assert!(
            failures.is_empty(),
            "B failed {} times: {failures:?}",
            failures.len()
        );
        assert!(ok > 0, "B's traffic never ran");
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_forward_that_never_returns_is_stopped_and_delete_does_not_wait_for_it() {
    let w = World::start(json!({}), &["url=forever.mar&response_timeout=2"]);
    let started = Instant::now();
    let reply = w.predict_as_a("forever", "[1, 2, 3, 4]");
    let took = started.elapsed();
    let message = reply.assert_error(504, "ModelForwardTimeout");
    assert!(
        message.contains("2 s") || message.contains("2s"),
        "{message}"
    );
    assert!(took < Duration::from_secs(4), "the caller waited {took:?}");
    // The cell was killed after the grace and comes back for A's other model.
    w.a_recovers();
    // Again, and DELETE while the forward spins: it waits at most the grace.
    let url = format!("{}/predictions/forever", w.server.inference);
    let token = w.a.clone();
    let spinning = std::thread::spawn(move || call("POST", &url, &token, b"[1, 2, 3, 4]"));
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let url = format!("{}/models/forever", w.server.management);
    let deleted = call("DELETE", &url, &w.a, b"");
    let took = started.elapsed();
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert!(took <= Duration::from_secs(2), "DELETE took {took:?}");
    let cut = spinning.join().unwrap();
    assert!(cut.status >= 500, "{}", cut.text());
    w.a_recovers();
    w.finish();
}

#[test]
fn a_huge_view_is_refused_from_its_shape_and_the_cell_serves_on() {
    let w = World::start(json!({}), &["url=wide.mar"]);
    let before = rss_kib(w.pid);
    for _ in 0..3 {
        let reply = w.predict_as_a("wide", "[1, 2, 3, 4]");
        let message = reply.assert_error(500, "ModelForwardError");
        assert!(message.contains("1073741824 bytes"), "{message}");
        // Nothing crashed: A's other model answers at once.
        assert_eq!(w.predict_as_a("mlp", "[1, 2, 3, 4]").status, 200);
    }
    let grown = rss_kib(w.pid).saturating_sub(before);
    assert!(grown < 64 << 10, "the server grew by {grown} KiB");
    w.finish();
}

#[test]
fn a_pickle_nested_200000_deep_fails_its_registration_not_the_server() {
    let w = World::start(json!({}), &[]);
    for _ in 0..2 {
        let reply = w.register_as_a("url=deep_pickle.mar");
        assert!(reply.status >= 400, "{}", reply.text());
        let text = reply.text();
        assert!(text.contains("SIG") || text.contains("stack"), "{text}");
        w.a_recovers();
    }
    let url = format!("{}/models/deep_pickle", w.server.management);
    assert_eq!(call("GET", &url, &w.a, b"").status, 404);
    w.finish();
}

#[test]
fn a_lying_pickle_and_a_memory_bomb_cost_the_cells_memory_not_the_servers() {
    let w = World::start(json!({ "max_model_memory_mib": 512 }), &["url=hog.mar"]);
    let before = rss_kib(w.pid);
    // 1.6 KB declaring a 2 GiB storage: allocated in A's cell, not the server. Under
    // cgroups the untouched pages cost nothing and it loads; under RLIMIT_DATA the
    // allocation is refused and the registration names it.
    let reply = w.register_as_a("url=lying.mar");
    if reply.status == 200 {
        assert_eq!(w.predict_as_a("lying", "[1, 2, 3, 4]").status, 200);
    } else {
        let text = reply.text().to_lowercase();
        assert!(
            text.contains("memory") || text.contains("allocate"),
            "{text}"
        );
    }
    w.a_recovers();
    // A forward filling 1 GiB: the cell's memory limit ends it, typed. Under cgroups (the
    // start-up log says which) that is the kernel's OOM kill of the cell.
    let reply = w.predict_as_a("hog", "[1024, 0, 0, 0]");
    if w.server.log().contains("\"limits\":\"cgroup v") {
        let message = reply.assert_error(500, "ModelProcessCrashed");
        assert!(
            message.contains("memory limit of 512 MiB (the tenant's max_model_memory_mib)"),
            "{message}"
        );
    } else {
        let text = reply.text();
        assert!(reply.status >= 500, "{text}");
        assert!(text.to_lowercase().contains("memory"), "{text}");
    }
    w.a_recovers();
    // Within the quota the same model works.
    assert_eq!(w.predict_as_a("hog", "[64, 0, 0, 0]").status, 200);
    let grown = rss_kib(w.pid).saturating_sub(before);
    assert!(grown < 64 << 10, "the server grew by {grown} KiB");
    w.finish();
}

#[test]
fn a_model_that_keeps_killing_its_cell_is_marked_failed_and_says_why() {
    let w = World::start(json!({ "max_model_memory_mib": 256 }), &["url=hog.mar"]);
    let mut last = String::new();
    for _ in 0..6 {
        let reply = w.predict_as_a("hog", "[1024, 0, 0, 0]");
        last = reply.text();
        if reply.status == 503 {
            break;
        }
        w.a_recovers();
    }
    assert!(last.contains("ModelUnavailable"), "{last}");
    let url = format!("{}/models/hog", w.server.management);
    let described = call("GET", &url, &w.a, b"").json();
    let failed = described[0]["failed"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!failed.is_empty(), "{described}");
    assert!(
        last.contains(&failed) || last.contains("failed"),
        "{last} / {failed}"
    );
    let ping = call("GET", &format!("{}/ping", w.server.inference), &w.a, b"");
    assert!(ping.text().contains("hog"), "{}", ping.text());
    // A's other model and B are untouched; B's /ping does not name A's model.
    w.a_recovers();
    let _ = get(&format!("{}/ping", w.server.inference));
    w.finish();
}

#[test]
fn a_model_cannot_read_files_outside_its_cell() {
    // `reads` returns the first bytes of /etc/passwd through torch.from_file: in a cell,
    // the open is refused (Landlock), and nothing of the file comes back.
    let w = World::start(json!({}), &["url=reads.mar"]);
    let reply = w.predict_as_a("reads", "[1, 2, 3, 4]");
    let message = reply.assert_error(500, "ModelForwardError");
    assert!(message.contains("/etc/passwd"), "{message}");
    // "root" as the model would have returned it: 114, 111, 111, 116.
    assert!(!reply.text().contains("114.0, 111.0"), "{}", reply.text());
    assert_eq!(w.predict_as_a("mlp", "[1, 2, 3, 4]").status, 200);
    w.finish();
}

#[test]
fn in_process_models_still_have_their_output_checked_before_it_is_copied() {
    // The opt-out for a trusted setup: the same huge view must not abort the server.
    let (_state, mut server) =
        Server::with_store("wide.mar,mlp.mar", &["--model-isolation", "in-process"]);
    let pid = server.pid();
    assert!(server.log().contains("in-process"), "{}", server.log());
    let url = format!("{}/predictions/wide", server.inference);
    let reply = common::server::post_json(&url, "[1, 2, 3, 4]");
    let message = reply.assert_error(500, "ModelForwardError");
    assert!(message.contains("1073741824 bytes"), "{message}");
    assert_eq!(server.predict_mlp().status, 200);
    assert!(server.is_running());
    assert_eq!(server.pid(), pid);
}

#[test]
fn a_model_printing_in_a_loop_cannot_flood_the_servers_log() {
    // `chatty` prints 200,000 lines (~6 MB) per forward; a cell's output reaches the
    // server's log at most 256 KiB a minute.
    let w = World::start(json!({}), &["url=chatty.mar"]);
    let before = w.server.log().len();
    for _ in 0..2 {
        assert_eq!(w.predict_as_a("chatty", "[1, 2, 3, 4]").status, 200);
    }
    // The relay is asynchronous: give it a moment, then measure.
    std::thread::sleep(Duration::from_millis(500));
    let log = w.server.log();
    assert!(log.contains("chatty model line"), "the output is relayed");
    let grown = log.len() - before;
    assert!(grown < 512 << 10, "the log grew by {grown} bytes");
    w.finish();
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let parent = |p: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| parent(p) == Some(pid))
        .collect()
}

/// Gone, or a zombie (an orphan's reaper may be slow to reap it).
fn dead(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat[stat.rfind(')').unwrap() + 2..].starts_with('Z')
    })
}

fn zygote_of(server: u32) -> u32 {
    let is_zygote = |p: &u32| {
        std::fs::read(format!("/proc/{p}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--zygote"))
    };
    let found = children_of(server)
        .into_iter()
        .find(|p| !dead(*p) && is_zygote(p));
    found.expect("the server runs a cell zygote")
}

#[test]
fn cells_fork_from_one_zygote_and_a_dead_zygote_costs_a_restart_not_the_server() {
    let mut w = World::start(json!({}), &[]);
    let zygote = zygote_of(w.pid);
    // A's cell and B's, both forked by the zygote; none started by the server itself.
    let cells = children_of(zygote);
    assert_eq!(cells.len(), 2, "{cells:?}");
    assert_eq!(children_of(w.pid), vec![zygote]);
    // A's cell dies at a registration; the zygote forks its next one and B sees nothing.
    let reply = w.register_as_a("url=deep_pickle.mar");
    assert!(reply.status >= 400, "{}", reply.text());
    w.a_recovers();
    assert_eq!(zygote_of(w.pid), zygote);
    let cells = children_of(zygote);
    assert_eq!(cells.len(), 2, "{cells:?}");
    // The zygote itself killed (no cell can signal it: only the operator or the kernel):
    // every cell goes with it, and every model answers again from a new one.
    let victim = w.victim.take().unwrap();
    victim.stop.store(true, Ordering::Relaxed);
    let (ok, failures) = victim.thread.join().unwrap();
    assert!(ok > 0 && failures.is_empty(), "{failures:?}");
    // SAFETY: a plain kill of a process this test's server started.
    unsafe { libc::kill(zygote as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cells.iter().all(|&c| dead(c)) {
        assert!(Instant::now() < deadline, "a cell outlived its zygote");
        std::thread::sleep(Duration::from_millis(10));
    }
    let b = std::thread::spawn({
        let url = format!("{}/predictions/mlp", w.server.inference);
        let token = w.victim_token.clone();
        move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while call("POST", &url, &token, b"[1, 2, 3, 4]").status != 200 {
                assert!(Instant::now() < deadline, "B's mlp never came back");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    w.a_recovers();
    b.join().unwrap();
    let again = zygote_of(w.pid);
    assert_ne!(again, zygote);
    assert!(w.server.is_running(), "{}", w.server.log());
    assert_eq!(w.server.pid(), w.pid);
}

/// CPU time in clock ticks of every thread of every cell, by (cell, thread).
fn cell_thread_ticks(zygote: u32) -> std::collections::HashMap<(u32, u32), u64> {
    let mut ticks = std::collections::HashMap::new();
    for cell in children_of(zygote) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{cell}/task")) else {
            continue;
        };
        for tid in tasks.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{cell}/task/{tid}/stat")) else {
                continue;
            };
            // utime and stime: fields 14 and 15, the 12th and 13th after the name.
            let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            let t: u64 = rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap();
            ticks.insert((cell, tid), t);
        }
    }
    ticks
}

/// The threads of A's cell that one 256 MiB forward (fill and sum: libtorch runs both
/// on its intra-op threads) kept busy for 30 ms or more.
fn busy_threads_of_one_big_forward(w: &World) -> usize {
    let zygote = zygote_of(w.pid);
    let before = cell_thread_ticks(zygote);
    assert_eq!(w.predict_as_a("hog", "[256, 0, 0, 0]").status, 200);
    let after = cell_thread_ticks(zygote);
    let mut per_cell: std::collections::HashMap<u32, Vec<u64>> = Default::default();
    for ((cell, tid), t) in after {
        let spent = t - before.get(&(cell, tid)).copied().unwrap_or(0);
        per_cell.entry(cell).or_default().push(spent);
    }
    // A's cell: the one that spent the most (B's sends a small request every 20 ms).
    let a = per_cell
        .values()
        .max_by_key(|spent| spent.iter().sum::<u64>())
        .unwrap();
    // SAFETY: sysconf reads a constant of the system.
    let tick_ms = 1000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    a.iter().filter(|&&t| t * tick_ms >= 30).count()
}

#[test]
fn a_cells_forwards_run_on_no_more_threads_than_its_cpu_quota_has_cores() {
    // One core's grant: one intra-op thread, though the machine has more.
    let w = World::start(
        json!({ "max_model_memory_mib": 1024, "max_model_cpu_percent": 100 }),
        &["url=hog.mar"],
    );
    assert_eq!(busy_threads_of_one_big_forward(&w), 1);
    w.finish();
    // The control: without a CPU quota the same forward spreads over libtorch's threads.
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        let w = World::start(json!({ "max_model_memory_mib": 1024 }), &["url=hog.mar"]);
        assert!(busy_threads_of_one_big_forward(&w) >= 2);
        w.finish();
    }
}
