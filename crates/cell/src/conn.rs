//! One live cell process: requests written under a lock; replies read by a caller that
//! waits for one (leader/follower: one waiting caller at a time reads the socket and hands
//! others their replies, so a reply wakes its own caller and no reader thread in between).
//! A watcher thread per connection sleeps until the socket hangs up, then reads what is
//! left, and every waiter gets the [`Death`]; the cell's watcher decides what comes next.

use std::collections::HashMap;
use std::io::{self, BufWriter};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferroserve_tensor::Tensor;
use rustix::event::{PollFd, PollFlags, Timespec};

use crate::Death;
use crate::fds::FdReader;
use crate::process::{Proc, kill_pidfd};
use crate::proto::{self, Reply, Request};
use crate::shm::Take;

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
    /// Locked only by whoever holds [`Pending::reading`].
    reader: Mutex<FdReader>,
    max_output: u64,
    pending: Mutex<Pending>,
    /// Signalled when a reply is handed over, the reading turn is free, or the process died.
    turn: Condvar,
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
    /// By request id: the model, and the answer once read (taken by its caller).
    waiters: HashMap<u64, (u64, Option<Answer>)>,
    /// Someone reads the socket now.
    reading: bool,
    /// The socket ended or sent a bad frame: only the watcher reads it again.
    broken: bool,
    /// Once set, the process is gone and new requests get it at once.
    death: Option<Death>,
}

impl Pending {
    /// Puts a reply in its caller's slot (none if the caller gave up).
    fn deliver(&mut self, (id, answer): (u64, Answer)) {
        if let Some((_, slot)) = self.waiters.get_mut(&id) {
            *slot = Some(answer);
        }
    }
}

/// A write blocked this long means the cell stopped reading, and a reply stalled this long
/// half-way means it stopped writing: it is killed.
const STALL: Duration = Duration::from_secs(10);

impl Conn {
    /// Takes over a started process; `max_output` caps the tensor bytes of one reply.
    pub fn start(
        stream: UnixStream,
        mut child: Proc,
        max_output: u64,
        watcher: Arc<dyn Watcher>,
    ) -> std::io::Result<Arc<Conn>> {
        stream.set_write_timeout(Some(STALL))?;
        stream.set_read_timeout(Some(STALL))?;
        let pidfd = match &child {
            Proc::Forked(f) => Some(f.pidfd.try_clone()?),
            Proc::Child(_) => None,
        };
        let conn = Arc::new(Conn {
            writer: Mutex::new(BufWriter::new(stream.try_clone()?)),
            reader: Mutex::new(FdReader::new(stream.try_clone()?, Take::Copy)),
            max_output,
            pending: Mutex::default(),
            turn: Condvar::new(),
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
                await_hangup(&stream);
                drop(stream);
                // Whatever ended the stream, the process must go before it is classified.
                // Killed, not reaped: its pid stays taken while the replies are drained.
                let _ = me.alive.lock().map(|_| child.kill());
                me.drain();
                let status = {
                    let mut alive = me.alive.lock().unwrap();
                    let status = child.wait();
                    *alive = false;
                    status
                };
                let stopped = *me.stopped.lock().unwrap();
                let death = watcher.classify(status, stopped);
                let in_flight: Vec<u64> = {
                    let mut p = me.pending.lock().unwrap();
                    p.death = Some(death.clone());
                    let open = p.waiters.values().filter(|(_, a)| a.is_none());
                    open.map(|(m, _)| *m).collect()
                };
                watcher.count(&me, &death, &in_flight);
                {
                    let mut p = me.pending.lock().unwrap();
                    for (_, answer) in p.waiters.values_mut().filter(|(_, a)| a.is_none()) {
                        *answer = Some(Answer::Died(death.clone()));
                    }
                }
                me.turn.notify_all();
                watcher.died(&me, &death);
            })?;
        Ok(conn)
    }

    /// The watcher's last read, once the process is killed: every reply it sent before.
    fn drain(&self) {
        let mut p = self.pending.lock().unwrap();
        while p.reading {
            p = self.turn.wait(p).unwrap();
        }
        (p.reading, p.broken) = (true, true);
        drop(p);
        let mut reader = self.reader.lock().unwrap();
        while let Ok(Some(frame)) = proto::read_frame::<Reply>(&mut *reader, self.max_output) {
            self.pending.lock().unwrap().deliver(answer(frame));
            self.turn.notify_all();
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
        {
            let mut p = self.pending.lock().unwrap();
            if let Some(death) = &p.death {
                return Some(Answer::Died(death.clone()));
            }
            p.waiters.insert(id, (model, None));
        }
        if let Err(e) = self.send(&make(id), tensors) {
            tracing::warn!(pid = self.pid, error = %e, "cannot write to a model process; stopping it");
            self.kill(None);
        }
        self.wait(id, Instant::now() + timeout)
    }

    /// Waits for `id`'s answer, reading the socket whenever nobody else does.
    fn wait(&self, id: u64, deadline: Instant) -> Option<Answer> {
        let mut p = self.pending.lock().unwrap();
        loop {
            let Some((_, slot)) = p.waiters.get_mut(&id) else {
                return Some(Answer::Died(Death::HungUp));
            };
            // An answer that raced the deadline is still taken.
            if let Some(answer) = slot.take() {
                p.waiters.remove(&id);
                return Some(answer);
            }
            let now = Instant::now();
            if now >= deadline {
                p.waiters.remove(&id);
                return None;
            }
            if p.reading || p.broken {
                p = self.turn.wait_timeout(p, deadline - now).unwrap().0;
                continue;
            }
            p.reading = true;
            drop(p);
            let read = self.read_one(deadline);
            p = self.pending.lock().unwrap();
            p.reading = false;
            let failed = match read {
                Ok(Some(reply)) => {
                    p.deliver(reply);
                    None
                }
                Ok(None) => None,
                Err(e) => {
                    p.broken = true;
                    Some(e)
                }
            };
            drop(p);
            // Whoever's reply it was, or the next reader (the watcher, before it reaps).
            self.turn.notify_all();
            if let Some(e) = failed {
                if e.kind() != io::ErrorKind::UnexpectedEof {
                    tracing::warn!(pid = self.pid, error = %e, "a model process sent a bad reply; stopping it");
                }
                self.kill(None);
            }
            p = self.pending.lock().unwrap();
        }
    }

    /// One reply, or `None` if none began before `deadline`.
    fn read_one(&self, deadline: Instant) -> io::Result<Option<(u64, Answer)>> {
        let mut reader = self.reader.lock().unwrap();
        if !reader.has_buffered() && !readable(reader.get_ref(), deadline)? {
            return Ok(None);
        }
        match proto::read_frame::<Reply>(&mut *reader, self.max_output)? {
            Some(frame) => Ok(Some(answer(frame))),
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    pub fn send(&self, req: &Request, tensors: &[Tensor]) -> std::io::Result<()> {
        let mut w = self.writer.lock().unwrap();
        proto::send_frame(&mut w, req, tensors)
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
        let open = p
            .waiters
            .values()
            .filter(|(m, a)| *m == model && a.is_none());
        open.count()
    }
}

fn answer((reply, data): (Reply, Bytes)) -> (u64, Answer) {
    let id = reply.id();
    let answer = match reply {
        Reply::Loaded { device, .. } => Answer::Loaded(device),
        Reply::Failed { message, .. } => Answer::Failed(message),
        Reply::Ran { outputs, .. } => match proto::tensors(outputs, data) {
            Ok(t) => Answer::Ran(t),
            Err(e) => Answer::Failed(format!("the model process sent bad outputs: {e}")),
        },
    };
    (id, answer)
}

/// Whether `stream` has something to read (or hung up) before `deadline`.
fn readable(stream: &UnixStream, deadline: Instant) -> io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let left = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(stream, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&left)) {
            Ok(_) => return Ok(!fds[0].revents().is_empty()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sleeps until the other end hangs up. Not woken by replies: it asks for no `IN`.
fn await_hangup(stream: &UnixStream) {
    loop {
        let mut fds = [PollFd::new(stream, PollFlags::RDHUP)];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) if !fds[0].revents().is_empty() => return,
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
    }
}
