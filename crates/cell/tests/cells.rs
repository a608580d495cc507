//! Cells against the `fake-cell` binary: real processes, real sockets, real signals.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferroserve_batcher::{BatchRunner, Fault};
use ferroserve_cell::{CellCommand, CellError, CellLimits, CellModel, Cells, LoadSpec};
use ferroserve_tensor::Tensor;

/// Cells forked from a zygote, as the server runs them.
fn cells() -> Cells {
    cells_with(true)
}

fn cells_with(zygote: bool) -> Cells {
    let cmd = CellCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_fake-cell")),
        args: vec![],
        env: vec![],
        zygote,
    };
    // No cgroups: tests must not need root (the e2e tests cover them).
    Cells::new(cmd, None, 1 << 30).unwrap()
}

fn model_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn try_load(
    cells: &Cells,
    owner: &str,
    path: PathBuf,
    timeout_s: u64,
) -> Result<(CellModel, String), CellError> {
    let spec = LoadSpec {
        path,
        device: None,
        warmup: vec![],
        threads: None,
    };
    let limits = CellLimits::default();
    cells.load(
        Some(owner),
        limits,
        spec,
        "m:1",
        Duration::from_secs(timeout_s),
    )
}

fn load(cells: &Cells, owner: &str, path: PathBuf, timeout_s: u64) -> CellModel {
    let (m, device) = try_load(cells, owner, path, timeout_s).unwrap();
    assert_eq!(device, "cpu");
    m
}

fn x(v: f32) -> Vec<Tensor> {
    vec![Tensor::from_f32("x", vec![1, 2], &[v, 1.0]).unwrap()]
}

#[test]
fn batches_run_in_the_cell_and_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let m = load(&cells, "a", model_file(&dir, "ok", "ok"), 5);
    let out = m.run(x(3.0)).unwrap();
    assert_eq!(out[0].to_f32().unwrap(), vec![6.0, 2.0]);
    assert_eq!(out[0].shape(), &[1, 2]);
    let pid = cells.pid_of(Some("a")).unwrap();
    assert_ne!(
        pid,
        std::process::id(),
        "the forward ran in another process"
    );
}

#[test]
fn big_batches_cross_in_shared_memory_both_ways_and_come_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let m = load(&cells, "a", model_file(&dir, "ok", "ok"), 5);
    // 4 MiB each way (a batch of 8 ResNet-18 inputs is 4.8 MB): over the shared-memory
    // threshold, so it goes as a sealed memfd, mapped by the confined cell and back.
    let n = 1 << 20;
    let values: Vec<f32> = (0..n).map(|i| i as f32).collect();
    // Many times over: sealing right after writing once failed now and then (EBUSY).
    for _ in 0..30 {
        let out = m
            .run(vec![
                Tensor::from_f32("x", vec![1, n as u64], &values).unwrap(),
            ])
            .unwrap();
        let doubled = out[0].to_f32().unwrap();
        assert_eq!(doubled.len(), n);
        assert!(
            doubled
                .iter()
                .enumerate()
                .all(|(i, &v)| v == 2.0 * i as f32)
        );
    }
    // Small batches still go inline on the same connection, in order.
    assert_eq!(m.run(x(3.0)).unwrap()[0].to_f32().unwrap(), vec![6.0, 2.0]);
}

#[test]
fn a_crashing_forward_fails_its_batch_names_the_signal_and_the_cell_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let m = load(&cells, "a", model_file(&dir, "ok", "ok"), 5);
    let first = cells.pid_of(Some("a")).unwrap();
    for (value, words) in [(-2.0, "SIGSEGV"), (-1.0, "SIGABRT"), (-5.0, "status 3")] {
        let err = m.run(x(value)).unwrap_err();
        assert_eq!(err.fault(), Fault::Crashed, "{err}");
        assert!(err.message().contains(words), "{value}: {err}");
        // The next batch is served by a restarted cell, the model reloaded.
        assert_eq!(m.run(x(1.0)).unwrap()[0].to_f32().unwrap(), vec![2.0, 2.0]);
    }
    assert_ne!(cells.pid_of(Some("a")).unwrap(), first);
    assert!(
        m.failed().is_none(),
        "good batches between crashes reset the strikes"
    );
}

#[test]
fn a_model_that_kills_its_cell_three_times_in_a_row_is_marked_failed_and_others_serve_on() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let bad = load(&cells, "a", model_file(&dir, "bad", "ok"), 5);
    let good = load(&cells, "a", model_file(&dir, "good", "ok"), 5);
    for _ in 0..3 {
        assert_eq!(bad.run(x(-2.0)).unwrap_err().fault(), Fault::Crashed);
    }
    let why = bad.failed().expect("marked failed");
    assert!(
        why.contains("3 times in a row") && why.contains("SIGSEGV"),
        "{why}"
    );
    let err = bad.run(x(1.0)).unwrap_err();
    assert_eq!(err.fault(), Fault::Unavailable, "{err}");
    assert_eq!(
        good.run(x(1.0)).unwrap()[0].to_f32().unwrap(),
        vec![2.0, 2.0]
    );
}

#[test]
fn concurrent_batches_get_their_own_replies_whoever_reads_the_socket() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let m = load(&cells, "a", model_file(&dir, "ok", "ok"), 5);
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        // Sent first, so its caller is the one reading the socket while the others' replies
        // come back past it (the cell runs batches side by side).
        let slow = s.spawn(|| {
            let out = m.run(x(-6.0)).unwrap();
            assert_eq!(out[0].to_f32().unwrap(), vec![-12.0, 2.0]);
            done.load(SeqCst)
        });
        std::thread::sleep(Duration::from_millis(50));
        let fast: Vec<_> = (0..8)
            .map(|t| {
                let (m, done) = (&m, &done);
                s.spawn(move || {
                    for i in 0..25 {
                        let v = (t * 100 + i) as f32;
                        let out = m.run(x(v)).unwrap();
                        assert_eq!(out[0].to_f32().unwrap(), vec![2.0 * v, 2.0]);
                        done.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        let before_slow = slow.join().unwrap();
        fast.into_iter().for_each(|h| h.join().unwrap());
        assert!(
            before_slow > 0,
            "no batch came back while the slow one was out"
        );
    });
    assert_eq!(done.into_inner(), 200);
}

#[test]
fn a_runaway_forward_is_stopped_after_its_timeout_plus_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let m = load(&cells, "a", model_file(&dir, "loop", "ok"), 1);
    let t = Instant::now();
    let err = m.run(x(-3.0)).unwrap_err();
    let took = t.elapsed();
    assert_eq!(err.fault(), Fault::Stopped, "{err}");
    assert!(err.message().contains("response timeout (1 s)"), "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(m.run(x(1.0)).unwrap()[0].to_f32().unwrap(), vec![2.0, 2.0]);
}

#[test]
fn stopping_a_model_cuts_a_running_forward_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let m = std::sync::Arc::new(load(&cells, "a", model_file(&dir, "loop", "ok"), 3600));
    let runner = m.clone();
    let t = Instant::now();
    let running = std::thread::spawn(move || runner.run(x(-3.0)));
    std::thread::sleep(Duration::from_millis(200));
    m.stop();
    let err = running.join().unwrap().unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(err.fault(), Fault::Stopped, "{err}");
}

#[test]
fn tenants_have_cells_of_their_own_and_one_crashing_leaves_the_other_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let a = load(&cells, "a", model_file(&dir, "a", "ok"), 5);
    let b = load(&cells, "b", model_file(&dir, "b", "ok"), 5);
    let pid_b = cells.pid_of(Some("b")).unwrap();
    assert_ne!(cells.pid_of(Some("a")).unwrap(), pid_b);
    let a_runs = std::thread::spawn(move || {
        for _ in 0..5 {
            let _ = a.run(x(-2.0));
        }
    });
    for _ in 0..50 {
        assert_eq!(b.run(x(1.0)).unwrap()[0].to_f32().unwrap(), vec![2.0, 2.0]);
    }
    a_runs.join().unwrap();
    assert_eq!(
        cells.pid_of(Some("b")),
        Some(pid_b),
        "b's cell never restarted"
    );
}

#[test]
fn a_load_that_kills_the_cell_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let t = Instant::now();
    let err = try_load(&cells, "a", model_file(&dir, "x", "load=abort"), 5)
        .err()
        .unwrap();
    assert!(err.to_string().contains("SIGABRT"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5));
    let err = try_load(&cells, "a", model_file(&dir, "y", "load=fail"), 5)
        .err()
        .unwrap();
    assert!(err.to_string().contains("refuses to load"), "{err}");
    // The owner's next model loads in a fresh cell.
    let m = load(&cells, "a", model_file(&dir, "ok", "ok"), 5);
    assert!(m.run(x(1.0)).is_ok());
}

#[test]
fn the_cell_stops_with_its_last_model_and_with_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let m = load(&cells, "a", model_file(&dir, "ok", "ok"), 5);
    let pid = cells.pid_of(Some("a")).unwrap() as i32;
    drop(m);
    let gone = |pid: i32| {
        (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            // SAFETY: signal 0 only checks for existence.
            unsafe { libc::kill(pid, 0) != 0 }
        })
    };
    assert!(gone(pid), "the cell exited with its last model");
    let _m = load(&cells, "a", model_file(&dir, "ok2", "ok"), 5);
    let pid = cells.pid_of(Some("a")).unwrap() as i32;
    drop(cells);
    assert!(gone(pid), "the cell was killed with its server");
}

#[test]
fn a_cell_can_read_no_file_outside_its_libraries_and_gets_its_model_from_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let secret = model_file(&dir, "admin.token", "fs_the_servers_secret");
    // The model file itself is read by the server and sent: it loads.
    let ok = model_file(&dir, "ok.txt", "load=ok");
    let model = load(&cells, "a", ok, 5);
    assert_eq!(model.run(x(2.0)).unwrap()[0].to_f32().unwrap(), [4.0, 2.0]);
    for target in [
        secret.display().to_string(),
        "/etc/passwd".into(),
        "/proc/1/environ".into(),
    ] {
        let probe = model_file(&dir, "probe.txt", &format!("load=read:{target}"));
        let err = try_load(&cells, "a", probe, 5)
            .err()
            .expect("the read must fail");
        let text = err.to_string();
        assert!(text.starts_with("read: "), "{target} was readable: {text}");
        assert!(
            text.contains("denied") || text.contains("No such file"),
            "{target}: {text}"
        );
    }
    // The process that refused those reads is still the one serving.
    assert_eq!(model.run(x(3.0)).unwrap()[0].to_f32().unwrap(), [6.0, 2.0]);
}

fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command's closing parenthesis: state, then the parent's pid.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(1).unwrap().parse().unwrap()
}

fn gone(pid: u32) -> bool {
    (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::kill(pid as i32, 0) != 0 }
    })
}

#[test]
fn cells_fork_from_one_zygote_keep_nothing_of_it_and_survive_its_death() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells();
    let a = load(&cells, "a", model_file(&dir, "a", "ok"), 5);
    let b = load(&cells, "b", model_file(&dir, "b", "ok"), 5);
    let (pa, pb) = (
        cells.pid_of(Some("a")).unwrap(),
        cells.pid_of(Some("b")).unwrap(),
    );
    let zygote = parent_of(pa);
    assert_eq!(parent_of(pb), zygote, "one zygote forks every cell");
    assert_ne!(zygote, std::process::id());
    let cmdline = std::fs::read(format!("/proc/{zygote}/cmdline")).unwrap();
    assert!(String::from_utf8_lossy(&cmdline).contains("--zygote"));
    // Only its socket and its stdio: not the zygote's control socket, not a sibling's pidfd.
    let link = |fd: &str| std::fs::read_link(format!("/proc/{pa}/fd/{fd}")).unwrap();
    let socket = link("3");
    let others: Vec<_> = std::fs::read_dir(format!("/proc/{pa}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|fd| !["0", "1", "2"].contains(&fd.as_str()))
        .map(|fd| link(&fd))
        .filter(|target| *target != socket)
        .collect();
    assert!(
        others.is_empty(),
        "a cell holds {others:?} besides its socket"
    );
    // A cell that crashes costs neither the zygote nor its sibling.
    assert_eq!(a.run(x(-2.0)).unwrap_err().fault(), Fault::Crashed);
    assert_eq!(a.run(x(1.0)).unwrap()[0].to_f32().unwrap(), [2.0, 2.0]);
    assert_eq!(parent_of(cells.pid_of(Some("a")).unwrap()), zygote);
    assert_eq!(cells.pid_of(Some("b")), Some(pb));
    // The zygote killed: its cells go with it, and the next batch finds a new zygote.
    // SAFETY: a plain kill of a process this test started.
    unsafe { libc::kill(zygote as i32, libc::SIGKILL) };
    assert!(gone(pb), "a cell outlived its zygote");
    let answer = (0..3)
        .find_map(|_| b.run(x(2.0)).ok())
        .expect("b serves again");
    assert_eq!(answer[0].to_f32().unwrap(), [4.0, 2.0]);
    let again = parent_of(cells.pid_of(Some("b")).unwrap());
    assert_ne!(again, zygote);
    assert!(
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{again}/cmdline")).unwrap())
            .contains("--zygote")
    );
}

#[test]
fn without_a_zygote_each_cell_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let cells = cells_with(false);
    let m = load(&cells, "a", model_file(&dir, "ok", "ok"), 5);
    let pid = cells.pid_of(Some("a")).unwrap();
    assert_eq!(parent_of(pid), std::process::id());
    let err = m.run(x(-1.0)).unwrap_err();
    assert!(err.message().contains("SIGABRT"), "{err}");
    assert_eq!(m.run(x(1.0)).unwrap()[0].to_f32().unwrap(), [2.0, 2.0]);
    drop(m);
    assert!(gone(cells.pid_of(Some("a")).unwrap_or(pid)));
}
