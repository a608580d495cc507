//! Two replicas behind a real load balancer (Debian's HAProxy, active health checks on
//! /ping, retries of requests a replica never answered): one replica is SIGKILLed under
//! steady load and restarted; no client request fails, and the restarted replica serves
//! again once its /ping is healthy. The figures are printed (docs/benchmarks.md has a run).

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use common::archives;
use common::server::{Server, free_port, get, post_json};

/// Both replicas start from this one config and share the read-only model store.
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("ferroserve.toml");
    let text = format!(
        "model_store = {:?}\nmodels = [\"mlp.mar\"]\nsnapshot = false\n",
        archives::store().to_str().unwrap()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn replica(config: &std::path::Path, port: u16, state: &std::path::Path) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferroserve"));
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .args(["--inference-address", &format!("127.0.0.1:{port}")])
        .args([
            "--management-address",
            "127.0.0.1:0",
            "--metrics-address",
            "127.0.0.1:0",
        ])
        .arg("--state-dir")
        .arg(state)
        .env_clear()
        .env("RUST_LOG", "warn");
    Server::spawn(command, state)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn haproxy(dir: &std::path::Path, front: u16, stats: u16, replicas: [u16; 2]) -> Killed {
    let cfg = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n\
         \x20 retries 3\n  option redispatch 1\n  retry-on all-retryable-errors\n\
         \x20 option http-buffer-request\n\
         frontend fe\n  bind 127.0.0.1:{front}\n  default_backend replicas\n\
         backend replicas\n  balance roundrobin\n  option httpchk GET /ping\n\
         \x20 http-check expect status 200\n  default-server inter 200ms fall 1 rise 2\n\
         \x20 server a 127.0.0.1:{} check\n  server b 127.0.0.1:{} check\n\
         frontend stats\n  bind 127.0.0.1:{stats}\n  stats enable\n  stats uri /stats\n",
        replicas[0], replicas[1]
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy (Debian's package, installed by scripts/test.sh)");
    Killed(child)
}

/// The backend's retries and redispatches, from HAProxy's CSV statistics.
fn retries(stats: u16) -> (u64, u64) {
    let csv = get(&format!("http://127.0.0.1:{stats}/stats;csv")).text();
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let row: Vec<&str> = csv
        .lines()
        .find(|l| l.starts_with("replicas,BACKEND"))
        .unwrap()
        .split(',')
        .collect();
    let col = |name: &str| {
        row[header.iter().position(|h| *h == name).unwrap()]
            .parse()
            .unwrap_or(0)
    };
    (col("wretr"), col("wredis"))
}

fn requests_served(server: &Server) -> f64 {
    get(&format!("{}/metrics", server.metrics))
        .text()
        .lines()
        .find(|l| l.starts_with("ts_inference_requests_total{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_replica_killed_under_load_costs_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let ports = [free_port(), free_port()];
    let states = [dir.path().join("a"), dir.path().join("b")];
    let a = replica(&config, ports[0], &states[0]);
    let b = replica(&config, ports[1], &states[1]);
    let (front, stats) = (free_port(), free_port());
    let mut lb = haproxy(dir.path(), front, stats, ports);
    let url = format!("http://127.0.0.1:{front}/predictions/mlp");
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", front)).is_err() {
        assert!(Instant::now() < until, "haproxy never listened");
        assert!(lb.0.try_wait().unwrap().is_none(), "haproxy exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    while post_json(&url, "[1,2,3,4]").status != 200 {
        assert!(Instant::now() < until, "the balancer never served");
        assert!(lb.0.try_wait().unwrap().is_none(), "haproxy exited");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Steady load: two clients, closed loop.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (url, stop, ok, failed) = (url.clone(), stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Relaxed) {
                    let reply = post_json(&url, "[1,2,3,4]");
                    if reply.status == 200 {
                        ok.fetch_add(1, Relaxed);
                    } else {
                        failed.fetch_add(1, Relaxed);
                        failures.push(format!("{} {}", reply.status, reply.text()));
                    }
                }
                failures
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let before_kill = ok.load(Relaxed);
    a.kill9();
    std::thread::sleep(Duration::from_secs(2));
    let restarted_at = Instant::now();
    let a = replica(&config, ports[0], &states[0]);
    let listening = restarted_at.elapsed();
    let until = Instant::now() + Duration::from_secs(30);
    while get(&format!("http://127.0.0.1:{}/ping", ports[0])).status != 200 {
        assert!(
            Instant::now() < until,
            "the restarted replica never became healthy"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let healthy = restarted_at.elapsed();
    // The balancer sends it traffic again once its checks pass.
    let until = Instant::now() + Duration::from_secs(30);
    while requests_served(&a) < 20.0 {
        assert!(
            Instant::now() < until,
            "the balancer never came back to the restarted replica"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let serving = restarted_at.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let (retried, redispatched) = retries(stats);
    let total = ok.load(Relaxed) + failed.load(Relaxed);
    println!(
        "requests={total} failed={} before_kill={before_kill} haproxy_retries={retried} \
         redispatches={redispatched} restart_to_listening={listening:?} \
         restart_to_healthy={healthy:?} restart_to_serving_via_lb={serving:?} \
         b_served={}",
        failed.load(Relaxed),
        requests_served(&b)
    );
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        total > before_kill && before_kill > 0,
        "the load ran: {total}"
    );
}
