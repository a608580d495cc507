//! The server's side of the zygote (`zygote.rs`): started once like a cell, asked to fork
//! each new cell, and the only one that can reap them, so it reports their exit statuses;
//! a reader thread hands those to whoever waits for that pid.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::Child;
use std::sync::{Arc, Mutex, mpsc};

use crate::fds;
use crate::zygote::{self, EXITED, FORK, FORK_FAILED, FORKED, MSG};

pub(crate) struct Zygote {
    control: UnixStream,
    process: Child,
    forked: mpsc::Receiver<io::Result<(u32, OwnedFd)>>,
    exits: Arc<Mutex<Exits>>,
}

#[derive(Default)]
struct Exits {
    waiting: HashMap<u32, mpsc::SyncSender<i32>>,
    /// Exits reported before anyone asked (a cell that died at once).
    early: HashMap<u32, i32>,
    /// The zygote is gone: its cells died with it, and no status will come.
    gone: bool,
}

/// A forked cell's pid, its pidfd (to signal it without racing pid reuse) and where its
/// wait status arrives.
pub(crate) struct Forked {
    pub pid: u32,
    pub pidfd: OwnedFd,
    pub exit: mpsc::Receiver<i32>,
}

impl Zygote {
    /// Takes over a started zygote process and its control socket.
    pub fn new(process: Child, control: UnixStream) -> io::Result<Zygote> {
        let (tx, forked) = mpsc::channel();
        let exits = Arc::new(Mutex::new(Exits::default()));
        let reader = control.try_clone()?;
        let shared = exits.clone();
        std::thread::Builder::new()
            .name("cell-zygote".into())
            .spawn(move || read(reader, tx, &shared))?;
        Ok(Zygote {
            control,
            process,
            forked,
            exits,
        })
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Whether it can still fork.
    pub fn alive(&mut self) -> bool {
        !self.exits.lock().unwrap().gone && matches!(self.process.try_wait(), Ok(None))
    }

    /// Forks a cell serving `socket`, writing to `stdout` and `stderr`.
    pub fn fork(
        &self,
        socket: &UnixStream,
        stdout: &OwnedFd,
        stderr: &OwnedFd,
        rlimit_data: Option<u64>,
    ) -> io::Result<Forked> {
        let m = zygote::message(FORK, 0, rlimit_data.unwrap_or(u64::MAX));
        fds::send(
            &self.control,
            &m,
            &[socket.as_fd(), stdout.as_fd(), stderr.as_fd()],
        )?;
        let (pid, pidfd) = self
            .forked
            .recv()
            .map_err(|_| io::Error::other("the zygote is gone"))??;
        let (tx, exit) = mpsc::sync_channel(1);
        let mut e = self.exits.lock().unwrap();
        if let Some(status) = e.early.remove(&pid) {
            let _ = tx.send(status);
        } else if !e.gone {
            e.waiting.insert(pid, tx);
        }
        Ok(Forked { pid, pidfd, exit })
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        // Its cells die with it (their parent-death signal).
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn read(
    control: UnixStream,
    forked: mpsc::Sender<io::Result<(u32, OwnedFd)>>,
    exits: &Mutex<Exits>,
) {
    let mut m = [0u8; MSG];
    loop {
        let mut passed = Vec::new();
        match fds::recv_exact(&control, &mut m, &mut passed) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        let (op, pid, value) = zygote::parse(&m);
        match (op, passed.pop()) {
            (FORKED, Some(pidfd)) => {
                let _ = forked.send(Ok((pid, pidfd)));
            }
            (FORK_FAILED, _) => {
                let _ = forked.send(Err(io::Error::from_raw_os_error(value as i32)));
            }
            (EXITED, _) => {
                let mut e = exits.lock().unwrap();
                match e.waiting.remove(&pid) {
                    Some(tx) => {
                        let _ = tx.send(value as u32 as i32);
                    }
                    None => {
                        e.early.insert(pid, value as u32 as i32);
                    }
                }
            }
            _ => {
                tracing::warn!(op, "a bad message from the cell zygote; dropping it");
                break;
            }
        }
    }
    let mut e = exits.lock().unwrap();
    e.gone = true;
    e.waiting.clear();
}
