//! Starting a cell: forked from the zygote (`forks.rs`) when the command has one, else the
//! server's own binary (or a test's) with the socket as fd 3, in a session of its own, killed when the server dies, with no core dumps, no new privileges,
//! an empty environment and a network namespace of its own (no interfaces but a downed
//! loopback). Started from one long-lived thread: `PR_SET_PDEATHSIG` fires when the
//! *thread* that forked exits, so a cell forked from a short-lived thread would die with it.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use crate::forks::{Forked, Zygote};

/// The program a cell runs: `program args…`, serving the socket on fd 3.
#[derive(Debug, Clone)]
pub struct CellCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Environment variables passed on (everything else is cleared).
    pub env: Vec<(OsString, OsString)>,
    /// Fork cells from a zygote (`program args… --zygote`, started once) rather than
    /// starting each afresh. Falls back to a fresh start if the zygote cannot run.
    pub zygote: bool,
}

/// A running cell process.
pub(crate) enum Proc {
    /// Started by this process, which reaps it.
    Child(Child),
    /// Forked by the zygote, which reaps it and reports the status.
    Forked(Forked),
}

/// How long a killed cell's status may take to come back from the zygote.
const EXIT_REPORT: Duration = Duration::from_secs(5);

impl Proc {
    pub fn id(&self) -> u32 {
        match self {
            Proc::Child(c) => c.id(),
            Proc::Forked(f) => f.pid,
        }
    }

    /// Sends SIGKILL. Safe against pid reuse: a child is not reaped before [`Proc::wait`],
    /// and a forked cell is signalled through its pidfd.
    pub fn kill(&mut self) {
        match self {
            Proc::Child(c) => {
                let _ = c.kill();
            }
            Proc::Forked(f) => kill_pidfd(&f.pidfd),
        }
    }

    /// Its exit status, once it has exited (`None`: unknown, e.g. the zygote went first).
    pub fn wait(&mut self) -> Option<ExitStatus> {
        match self {
            Proc::Child(c) => c.wait().ok(),
            Proc::Forked(f) => f
                .exit
                .recv_timeout(EXIT_REPORT)
                .ok()
                .map(ExitStatus::from_raw),
        }
    }
}

pub(crate) fn kill_pidfd(pidfd: &OwnedFd) {
    let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
}

pub(crate) struct Spawned {
    pub process: Proc,
    pub stream: UnixStream,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

type Order = (CellCommand, Option<u64>, mpsc::Sender<io::Result<Spawned>>);

/// The long-lived thread every cell is forked from.
pub(crate) struct Spawner {
    orders: Mutex<mpsc::Sender<Order>>,
}

impl Spawner {
    pub fn start() -> io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<Order>();
        std::thread::Builder::new()
            .name("cell-spawner".into())
            .spawn(move || {
                let mut zygote = None;
                for (cmd, rlimit_data, reply) in rx {
                    let spawned = if cmd.zygote {
                        fork(&mut zygote, &cmd, rlimit_data)
                    } else {
                        spawn(&cmd, rlimit_data)
                    };
                    let _ = reply.send(spawned);
                }
            })?;
        Ok(Spawner {
            orders: Mutex::new(tx),
        })
    }

    /// Starts `cmd`; with `rlimit_data`, under that `RLIMIT_DATA` (no cgroup available).
    pub fn spawn(&self, cmd: &CellCommand, rlimit_data: Option<u64>) -> io::Result<Spawned> {
        let (tx, rx) = mpsc::channel();
        self.orders
            .lock()
            .unwrap()
            .send((cmd.clone(), rlimit_data, tx))
            .map_err(|_| io::Error::other("the cell spawner thread is gone"))?;
        rx.recv()
            .map_err(|_| io::Error::other("the cell spawner thread is gone"))?
    }
}

/// Forks from the zygote, starting it first if need be (and once more if it died);
/// without one, a fresh start.
fn fork(
    zygote: &mut Option<Zygote>,
    cmd: &CellCommand,
    rlimit_data: Option<u64>,
) -> io::Result<Spawned> {
    for _ in 0..2 {
        if !zygote.as_mut().is_some_and(Zygote::alive) {
            *zygote = None;
            match start_zygote(cmd) {
                Ok(z) => *zygote = Some(z),
                Err(e) => {
                    tracing::warn!(error = %e, "the cell zygote cannot start; starting cells afresh");
                    break;
                }
            }
        }
        let z = zygote.as_ref().expect("started above");
        let (ours, theirs) = UnixStream::pair()?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        match z.fork(&theirs, &out_w, &err_w, rlimit_data) {
            Ok(forked) => {
                return Ok(Spawned {
                    process: Proc::Forked(forked),
                    stream: ours,
                    stdout: Some(File::from(out_r)),
                    stderr: Some(File::from(err_r)),
                });
            }
            Err(e) => tracing::warn!(error = %e, "the cell zygote could not fork; restarting it"),
        }
        *zygote = None;
    }
    spawn(cmd, rlimit_data)
}

fn start_zygote(cmd: &CellCommand) -> io::Result<Zygote> {
    let mut zcmd = cmd.clone();
    zcmd.args.push("--zygote".into());
    let mut spawned = spawn(&zcmd, None)?;
    let Proc::Child(child) = spawned.process else {
        unreachable!("spawn starts a child")
    };
    let budget = crate::output::Budget::new("zygote");
    for out in [spawned.stdout.take(), spawned.stderr.take()]
        .into_iter()
        .flatten()
    {
        crate::output::relay(out, budget.clone());
    }
    let zygote = Zygote::new(child, spawned.stream)?;
    tracing::info!(pid = zygote.pid(), "cell zygote started");
    Ok(zygote)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

fn spawn(cmd: &CellCommand, rlimit_data: Option<u64>) -> io::Result<Spawned> {
    let (ours, theirs) = UnixStream::pair()?;
    let fd = theirs.as_raw_fd();
    let parent = std::process::id() as libc::pid_t;
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args)
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        // Relayed under a budget (`output.rs`), never straight into the server's streams.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (dup2, fcntl, prctl, setsid, setrlimit, unshare,
    // getppid) between fork and exec, on values captured before the fork.
    unsafe {
        c.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(fd, 3) < 0 {
                return Err(io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            libc::setsid();
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            if let Some(bytes) = rlimit_data {
                let data = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                libc::setrlimit(libc::RLIMIT_DATA, &data);
            }
            // A network namespace of its own, inside a user namespace of its own: even a
            // server running as root starts cells with no capability over anything
            // outside them (no ptrace of the server, no cgroup or mount changes). Where
            // user namespaces are refused, root still gets the network namespace.
            if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) != 0 {
                libc::unshare(libc::CLONE_NEWNET);
            }
            Ok(())
        });
    }
    let mut child = c.spawn()?;
    drop(theirs);
    let stdout = child.stdout.take().map(|o| File::from(OwnedFd::from(o)));
    let stderr = child.stderr.take().map(|e| File::from(OwnedFd::from(e)));
    Ok(Spawned {
        process: Proc::Child(child),
        stream: ours,
        stdout,
        stderr,
    })
}
