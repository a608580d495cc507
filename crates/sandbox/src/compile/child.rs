//! Starting and watching one compiler child: `program args… --output PATH` with the
//! component on stdin, an empty environment, no descriptors but its three standard ones,
//! no core dumps or new privileges, `PR_SET_PDEATHSIG` SIGKILL (the forking thread is the
//! one that waits here, so the signal cannot fire early), `RLIMIT_CPU` and `RLIMIT_DATA`,
//! and a wall-clock kill. It is always reaped before this returns; how it ended says which
//! limit refused the component.
//!
//! `RLIMIT_DATA`, not `RLIMIT_AS`: the server's binary maps ~2.6 GB of libtorch before
//! `main`, mostly address space; what the compiler allocates (heap, thread stacks) is data.
//! Its libraries' data segments are data too (more than 512 MiB), so the child sets the
//! exact limits on itself once started and before it reads the component (`entry.rs`:
//! `--cpu-seconds`, `--memory-bytes`); the limits set here before `exec` are the backstop
//! for a child that never gets that far: CPU with room for start-up, no data limit.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::entry::{EXIT_FAILED, EXIT_INVALID};
use super::{CompileLimit, CompileLimits, CompilerCommand};
use crate::SandboxError;

/// What of the child's stderr is kept for the error message.
const MAX_STDERR: usize = 16 << 10;

/// CPU the server's binary may spend starting before the child's own limit is in force
/// (measured: 0.4 s to load libtorch and reach `main`).
const STARTUP_CPU_SECONDS: u64 = 3;

/// How often the child's state is polled (a compile takes tens of ms to seconds).
const POLL: Duration = Duration::from_millis(5);

/// Runs the child to completion; on `Ok` it has written `out`.
pub(crate) fn run(
    cmd: &CompilerCommand,
    limits: &CompileLimits,
    wasm: &[u8],
    out: &Path,
) -> Result<(), SandboxError> {
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args)
        .arg("--output")
        .arg(out)
        .arg(format!("--cpu-seconds={}", limits.cpu_seconds.max(1)))
        .arg(format!("--memory-bytes={}", limits.memory_bytes))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let parent = std::process::id() as libc::pid_t;
    let cpu = limits.cpu_seconds.max(1) + STARTUP_CPU_SECONDS;
    // SAFETY: only async-signal-safe calls (prctl, getppid, setrlimit, syscall, fcntl,
    // _exit) between fork and exec, on values captured before the fork.
    unsafe {
        c.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let set = |resource, soft: u64, hard: u64| {
                let l = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                libc::setrlimit(resource, &l)
            };
            set(libc::RLIMIT_CORE, 0, 0);
            // The backstop: the child lowers it to the exact limit once started.
            if set(libc::RLIMIT_CPU, cpu, cpu + 1) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            close_other_fds();
            Ok(())
        });
    }
    let mut child = c.spawn().map_err(|e| {
        SandboxError::Engine(format!(
            "cannot start the handler compiler {}: {e}",
            cmd.program.display()
        ))
    })?;
    let pid = child.id() as libc::pid_t;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let deadline = Instant::now() + limits.timeout;
    let (ended, said) = std::thread::scope(|s| {
        // A child that stops reading cannot block us: the kill closes the pipe.
        s.spawn(move || {
            let _ = stdin.write_all(wasm);
        });
        let said = s.spawn(move || bounded_read(&mut stderr));
        let ended = wait(pid, deadline);
        (ended, said.join().unwrap_or_default())
    });
    classify(ended, &said, limits)
}

/// How the child ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// By itself or by a signal, after this much CPU time (all its threads).
    Exited(ExitStatus, Duration),
    /// Killed by us at the wall-clock limit.
    TimedOut,
    /// Reaped by someone else (nothing in this server does that).
    Lost(std::io::Error),
}

/// Waits for `pid` until `deadline`, then kills it; reaped either way.
fn wait(pid: libc::pid_t, deadline: Instant) -> Ended {
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data, written by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own unreaped child; no other code waits for it.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            let cpu = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            let used = cpu(usage.ru_utime) + cpu(usage.ru_stime);
            return Ended::Exited(ExitStatus::from_raw(status), used);
        }
        if r < 0 {
            return Ended::Lost(std::io::Error::last_os_error());
        }
        if Instant::now() >= deadline {
            // SAFETY: the child is not reaped yet, so `pid` is still ours.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Ended::TimedOut;
        }
        std::thread::sleep(POLL);
    }
}

fn bounded_read(r: &mut impl Read) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        let room = MAX_STDERR.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Marks every descriptor above stderr close-on-exec, so the child starts with only its
/// standard three whatever the server (or a library in it) opened without the flag.
fn close_other_fds() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range and fcntl are async-signal-safe system calls.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) != 0 {
            for fd in 3..4096 {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
}

/// The outcome, from how the child ended and what it said.
pub(crate) fn classify(
    ended: Ended,
    stderr: &str,
    limits: &CompileLimits,
) -> Result<(), SandboxError> {
    let refused = |limit: CompileLimit, max: u64| SandboxError::CompileLimit {
        limit,
        max,
        found: None,
    };
    let (status, cpu) = match ended {
        Ended::TimedOut => {
            let ms = u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX);
            return Err(refused(CompileLimit::WallClock, ms));
        }
        Ended::Lost(e) => {
            return Err(SandboxError::Engine(format!(
                "lost track of the handler compiler: {e}"
            )));
        }
        Ended::Exited(s, cpu) => (s, cpu),
    };
    // The kernel's SIGXCPU at the soft limit, or its SIGKILL at the hard one; a SIGKILL
    // from anyone else (the OOM killer) comes before the CPU is spent.
    let out_of_cpu = status.signal() == Some(libc::SIGXCPU)
        || (status.signal() == Some(libc::SIGKILL)
            && cpu.as_secs_f64() + 0.05 >= limits.cpu_seconds as f64);
    let said = stderr.trim();
    // Rust's allocation failure message, the loader's, or an mmap refused.
    let out_of_memory = [
        "memory allocation of",
        "Cannot allocate memory",
        "out of memory",
    ]
    .iter()
    .any(|m| said.contains(m));
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        _ if out_of_cpu => Err(refused(CompileLimit::Cpu, limits.cpu_seconds)),
        _ if out_of_memory => Err(refused(CompileLimit::Memory, limits.memory_bytes)),
        (Some(EXIT_INVALID), _) => Err(SandboxError::Compile(said.to_owned())),
        (Some(EXIT_FAILED), _) => Err(SandboxError::Engine(format!(
            "the handler compiler failed: {said}"
        ))),
        // A crash of the compiler on this input: the component's doing, as far as the
        // client can tell.
        _ => Err(SandboxError::Compile(format!(
            "the compiler stopped ({status}){}{said}",
            if said.is_empty() { "" } else { ": " }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(raw: i32, cpu_s: f64) -> Ended {
        Ended::Exited(ExitStatus::from_raw(raw), Duration::from_secs_f64(cpu_s))
    }

    fn limit_of(r: Result<(), SandboxError>) -> Option<CompileLimit> {
        match r {
            Err(SandboxError::CompileLimit { limit, .. }) => Some(limit),
            _ => None,
        }
    }

    #[test]
    fn how_the_child_ended_says_which_limit() {
        let l = CompileLimits {
            cpu_seconds: 2,
            ..CompileLimits::default()
        };
        assert!(classify(exited(0, 1.0), "", &l).is_ok());
        let cpu = Some(CompileLimit::Cpu);
        assert_eq!(limit_of(classify(exited(libc::SIGXCPU, 2.0), "", &l)), cpu);
        assert_eq!(limit_of(classify(exited(libc::SIGKILL, 3.0), "", &l)), cpu);
        // A SIGKILL long before the CPU limit is not the CPU limit.
        assert_eq!(limit_of(classify(exited(libc::SIGKILL, 0.2), "", &l)), None);
        let oom = "memory allocation of 1048576 bytes failed\n";
        assert_eq!(
            limit_of(classify(exited(libc::SIGABRT, 0.5), oom, &l)),
            Some(CompileLimit::Memory)
        );
        assert_eq!(
            limit_of(classify(Ended::TimedOut, "", &l)),
            Some(CompileLimit::WallClock)
        );
        let invalid = classify(exited(EXIT_INVALID << 8, 0.1), "bad section", &l).unwrap_err();
        assert_eq!(invalid.kind(), "HandlerCompileError");
        assert!(invalid.to_string().contains("bad section"));
        let broken = classify(exited(EXIT_FAILED << 8, 0.1), "disk full", &l).unwrap_err();
        assert_eq!(broken.kind(), "SandboxUnavailable");
    }
}
