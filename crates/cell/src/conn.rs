//! One live cell process: requests written under a lock, replies read by a thread of the
//! connection's own and handed to whoever waits for that id. When the process ends (or
//! its socket breaks), every waiter gets the [`Death`] at once, and the cell's watcher
//! decides what comes next.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use ferroserve_tensor::Tensor;

use crate::Death;
use crate::process::{Proc, kill_pidfd};
use crate::proto::{self, Reply, Request};

/// What a request came back with.
#[derive(Debug)]
pub(crate) enum Answer {
    Loaded(String),
    Ran(Vec<Tensor>),
    Failed(String),
    Died(Death),
}

/// Told when the process ends: first to classify it, then to decide what comes next.
pub(crate) trait Watcher: Send + Sync + 'static {
    fn classify(&self, status: Option<ExitStatus>, stopped: Option<Duration>) -> Death;
    /// Before the waiters hear of it: what the death means for `in_flight`, the models
    /// whose batches were running (so a caller that got its error sees the model's state
    /// already updated).
    fn count(&self, conn: &Arc<Conn>, death: &Death, in_flight: &[u64]);
    /// After: what comes next (a restart).
    fn died(self: Arc<Self>, conn: &Arc<Conn>, death: &Death);
}

pub(crate) struct Conn {
    writer: Mutex<BufWriter<UnixStream>>,
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    pub pid: u32,
    pub started: Instant,
    /// Set when the server kills the process for a runaway forward.
    stopped: Mutex<Option<Duration>>,
    /// Until the process is reaped (its pid cannot be reused before).
    alive: Mutex<bool>,
    /// A forked cell's pidfd, to signal it though another process reaps it.
    pidfd: Option<OwnedFd>,
    /// Killed by the server: as good as dead, though not yet reaped.
    killed: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Pending {
    waiters: HashMap<u64, (u64, mpsc::SyncSender<Answer>)>,
    /// Once set, the process is gone and new requests get it at once.
    death: Option<Death>,
}

/// A write blocked this long means the cell stopped reading: it is killed.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl Conn {
    /// Takes over a started process; `max_output` caps the tensor bytes of one reply.
    pub fn start(
        stream: UnixStream,
        mut child: Proc,
        max_output: u64,
        watcher: Arc<dyn Watcher>,
    ) -> std::io::Result<Arc<Conn>> {
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let pidfd = match &child {
            Proc::Forked(f) => Some(f.pidfd.try_clone()?),
            Proc::Child(_) => None,
        };
        let conn = Arc::new(Conn {
            writer: Mutex::new(BufWriter::new(stream.try_clone()?)),
            pending: Mutex::default(),
            next_id: AtomicU64::new(1),
            pid: child.id(),
            started: Instant::now(),
            stopped: Mutex::new(None),
            alive: Mutex::new(true),
            pidfd,
            killed: Default::default(),
        });
        let me = conn.clone();
        std::thread::Builder::new()
            .name(format!("cell-{}", child.id()))
            .spawn(move || {
                me.read_replies(BufReader::new(stream), max_output);
                // Whatever ended the stream, the process must go before it is classified.
                let status = {
                    let mut alive = me.alive.lock().unwrap();
                    child.kill();
                    let status = child.wait();
                    *alive = false;
                    status
                };
                let stopped = *me.stopped.lock().unwrap();
                let death = watcher.classify(status, stopped);
                let waiters = {
                    let mut p = me.pending.lock().unwrap();
                    p.death = Some(death.clone());
                    std::mem::take(&mut p.waiters)
                };
                let in_flight: Vec<u64> = waiters.values().map(|(m, _)| *m).collect();
                watcher.count(&me, &death, &in_flight);
                for (_, (_, tx)) in waiters {
                    let _ = tx.send(Answer::Died(death.clone()));
                }
                watcher.died(&me, &death);
            })?;
        Ok(conn)
    }

    fn read_replies(&self, mut reader: BufReader<UnixStream>, max_output: u64) {
        loop {
            let (reply, data) = match proto::read_frame::<Reply>(&mut reader, max_output) {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(pid = self.pid, error = %e, "a model process sent a bad reply; stopping it");
                    return;
                }
            };
            let id = reply.id();
            let answer = match reply {
                Reply::Loaded { device, .. } => Answer::Loaded(device),
                Reply::Failed { message, .. } => Answer::Failed(message),
                Reply::Ran { outputs, .. } => match proto::tensors(outputs, data) {
                    Ok(t) => Answer::Ran(t),
                    Err(e) => Answer::Failed(format!("the model process sent bad outputs: {e}")),
                },
            };
            let waiter = self.pending.lock().unwrap().waiters.remove(&id);
            if let Some((_, tx)) = waiter {
                let _ = tx.send(answer);
            }
        }
    }

    /// Sends `make(id)` with `tensors` and waits up to `timeout` for its answer; `None`
    /// when the time ran out (the waiter is withdrawn).
    pub fn call(
        &self,
        model: u64,
        make: impl FnOnce(u64) -> Request,
        tensors: &[Tensor],
        timeout: Duration,
    ) -> Option<Answer> {
        let id = self.next_id.fetch_add(1, Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        {
            let mut p = self.pending.lock().unwrap();
            if let Some(death) = &p.death {
                return Some(Answer::Died(death.clone()));
            }
            p.waiters.insert(id, (model, tx));
        }
        if let Err(e) = self.send(&make(id), tensors) {
            tracing::warn!(pid = self.pid, error = %e, "cannot write to a model process; stopping it");
            self.kill(None);
        }
        match rx.recv_timeout(timeout) {
            Ok(answer) => Some(answer),
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Answer::Died(Death::HungUp)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let gone = self.pending.lock().unwrap().waiters.remove(&id).is_some();
                // An answer that raced the timeout is still taken.
                if !gone { rx.try_recv().ok() } else { None }
            }
        }
    }

    pub fn send(&self, req: &Request, tensors: &[Tensor]) -> std::io::Result<()> {
        let mut w = self.writer.lock().unwrap();
        proto::write_frame(&mut *w, req, tensors)
    }

    /// Kills the process (`stopped`: for a runaway forward, after that long).
    pub fn kill(&self, stopped: Option<Duration>) {
        if let Some(after) = stopped {
            self.stopped.lock().unwrap().get_or_insert(after);
        }
        self.killed.store(true, Relaxed);
        if let Some(pidfd) = &self.pidfd {
            return kill_pidfd(pidfd);
        }
        let alive = self.alive.lock().unwrap();
        if *alive {
            // SAFETY: a plain syscall on our own child, not yet reaped (the lock is held).
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
        }
    }

    /// Closes the socket: the cell exits by itself.
    pub fn close(&self) {
        let w = self.writer.lock().unwrap();
        let _ = w.get_ref().shutdown(std::net::Shutdown::Both);
    }

    pub fn is_dead(&self) -> bool {
        self.killed.load(Relaxed) || self.pending.lock().unwrap().death.is_some()
    }

    /// Batches of `model` in flight now.
    pub fn in_flight(&self, model: u64) -> usize {
        let p = self.pending.lock().unwrap();
        p.waiters.values().filter(|(m, _)| *m == model).count()
    }
}
