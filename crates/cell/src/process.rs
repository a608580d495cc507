//! Starting a cell: the server's own binary (or a test's) with the socket as fd 3, in a
//! session of its own, killed when the server dies, with no core dumps, no new privileges,
//! an empty environment and a network namespace of its own (no interfaces but a downed
//! loopback). Started from one long-lived thread: `PR_SET_PDEATHSIG` fires when the
//! *thread* that forked exits, so a cell forked from a short-lived thread would die with it.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;

/// The program a cell runs: `program args…`, serving the socket on fd 3.
#[derive(Debug, Clone)]
pub struct CellCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Environment variables passed on (everything else is cleared).
    pub env: Vec<(OsString, OsString)>,
}

pub(crate) struct Spawned {
    pub child: Child,
    pub stream: UnixStream,
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
                for (cmd, rlimit_data, reply) in rx {
                    let _ = reply.send(spawn(&cmd, rlimit_data));
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
    let child = c.spawn()?;
    drop(theirs);
    Ok(Spawned {
        child,
        stream: ours,
    })
}
