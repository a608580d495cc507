//! The threads handler calls run on. The async runtime never runs wasm: a call is a job
//! queued for one of a fixed set of OS threads, and admission is bounded (running + waiting
//! ≤ threads + queue depth), so a burst is refused at once instead of queueing unboundedly
//! or exhausting the instance pool.
//!
//! Fair share of the threads: each job belongs to a lane (one per tenant), a lane may hold
//! at most `per_lane` threads at once, and free threads take jobs from the lanes in turn
//! (round robin), so a tenant whose calls sleep or spin until their deadline holds its own
//! share of the threads, never all of them, and another tenant's call waits behind at most
//! one job of each busy lane, not behind a flood.
//!
//! CPU fair share: a call that has run 10 ms has its thread demoted to the idle scheduling
//! class ([`demote_current_thread`]), and so do the next calls of a handler that did that
//! in the last second (handler.rs), so one tenant's looping handlers yield the cores to
//! everyone's short calls until their deadline stops them. An unprivileged process cannot
//! raise a thread's priority back, so a demoted thread is replaced by a fresh one once its
//! call is over.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{Sender, channel};

use tokio::sync::{Semaphore, oneshot};
use tracing::Span;

use crate::SandboxError;
use crate::lanes::Queue;

/// A call to run, and the caller's span to run it in: what the call logs (the handler's `log`
/// lines, its captured stdout/stderr, its failure) then carries the request's id.
struct Job {
    span: Span,
    run: Box<dyn FnOnce() + Send>,
}

/// The native stack of a sandbox thread: room for the 1 MiB wasm stack plus host frames.
const THREAD_STACK: usize = 8 << 20;

pub(crate) struct Executor {
    queue: Arc<Queue<Job>>,
    admission: Arc<Semaphore>,
    capacity: usize,
}

impl Executor {
    /// `threads` workers; at most `per_lane` of them (0: half, at least one) run one lane's
    /// jobs at once.
    pub(crate) fn start(
        threads: usize,
        queue_depth: usize,
        per_lane: usize,
    ) -> std::io::Result<Executor> {
        let threads = threads.max(1);
        let per_lane = match per_lane {
            0 => threads.div_ceil(2),
            n => n.min(threads),
        };
        let queue = Arc::new(Queue::new(per_lane));
        // Threads inherit their creator's priority, so replacements for demoted threads are
        // made by this thread, which always runs at normal priority.
        let (respawn, respawns) = channel::<()>();
        let spawner = Spawner {
            queue: queue.clone(),
            respawn,
        };
        for _ in 0..threads {
            spawner.spawn()?;
        }
        std::thread::Builder::new()
            .name("wasm-spawner".into())
            .spawn(move || {
                while respawns.recv().is_ok() {
                    if let Err(e) = spawner.spawn() {
                        tracing::error!(error = %e, "could not replace a demoted sandbox thread");
                    }
                }
            })?;
        let capacity = threads + queue_depth;
        Ok(Executor {
            queue,
            admission: Arc::new(Semaphore::new(capacity)),
            capacity,
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Run `f` on a sandbox thread in `lane`'s turn, inside the span current where this is
    /// awaited. A caller that goes away before its job starts costs nothing: the job sees
    /// the closed channel and skips.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        lane: &Arc<str>,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, SandboxError> {
        let permit = self.admission.clone().try_acquire_owned().map_err(|_| {
            SandboxError::PoolExhausted {
                capacity: self.capacity,
            }
        })?;
        let (tx, rx) = oneshot::channel();
        let run = Box::new(move || {
            if tx.is_closed() {
                return;
            }
            let result = f();
            // Free the slot before answering, so a caller that got its answer can count on
            // the slot being free for its next call.
            drop(permit);
            let _ = tx.send(result);
        });
        let span = Span::current();
        self.queue.push(lane, Job { span, run })?;
        rx.await
            .map_err(|_| SandboxError::Engine("a sandbox thread stopped during the call".into()))
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// Makes worker threads; clones go to the workers so a demoted one can ask for its successor.
#[derive(Clone)]
struct Spawner {
    queue: Arc<Queue<Job>>,
    respawn: Sender<()>,
}

impl Spawner {
    fn spawn(&self) -> std::io::Result<()> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let this = self.clone();
        std::thread::Builder::new()
            .name(format!("wasm-{}", NEXT.fetch_add(1, Relaxed)))
            .stack_size(THREAD_STACK)
            .spawn(move || worker(this))
            .map(drop)
    }
}

thread_local! {
    static DEMOTED: Cell<bool> = const { Cell::new(false) };
}

/// Lowers the calling sandbox thread to the lowest CPU priority for the rest of its life.
/// Called from the epoch callback when a call runs long; idempotent.
pub(crate) fn demote_current_thread() {
    if DEMOTED.with(|d| d.replace(true)) {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: scheduler calls on this thread's own id with a valid parameter struct.
    unsafe {
        // SCHED_IDLE: runs only when no normal thread wants the core, and is preempted at
        // once when one wakes (nice 19 still takes whole slices: measured 4x worse p99 for
        // the other tenant).
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(libc::gettid(), libc::SCHED_IDLE, &param);
    }
}

/// Back to normal scheduling as soon as the wasm code has returned, before the instance is
/// torn down: teardown takes locks other calls need, and an idle-class thread holding one
/// would stall them (measured: p99 of the other tenant 3x). Leaving the idle class needs
/// `CAP_SYS_NICE` or `RLIMIT_NICE` >= 20 (systemd `LimitNICE=20`); without either the
/// thread stays demoted and is replaced after the call.
pub(crate) fn restore_current_thread() {
    if !DEMOTED.with(Cell::get) {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: as above.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(libc::gettid(), libc::SCHED_OTHER, &param) == 0 {
            DEMOTED.with(|d| d.set(false));
        }
    }
}

fn worker(spawner: Spawner) {
    loop {
        let Some((lane, Job { span, run })) = spawner.queue.take() else {
            return; // the executor was dropped
        };
        // A host bug must not take the thread (and the pool's capacity) with it.
        span.in_scope(|| {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                tracing::error!("a sandbox job panicked; the thread keeps serving");
            }
        });
        spawner.queue.done(&lane);
        // Hand over to a thread at normal priority, then end this one (or keep serving,
        // demoted, if the spawner is gone).
        if DEMOTED.with(Cell::get) && spawner.respawn.send(()).is_ok() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    fn own_policy() -> i32 {
        // SAFETY: sched_getscheduler on this thread's own id.
        unsafe { libc::sched_getscheduler(libc::gettid()) }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_demoted_thread_left_idle_is_replaced_at_normal_priority() {
        let ex = Executor::start(1, 4, 0).unwrap();
        let (policy, id) = ex
            .run(&lane(), || {
                super::demote_current_thread();
                (own_policy(), std::thread::current().id())
            })
            .await
            .unwrap();
        assert_eq!(policy, libc::SCHED_IDLE);
        // The one thread was replaced: the next job runs elsewhere, at normal priority.
        let (policy_after, id_after) = ex
            .run(&lane(), || (own_policy(), std::thread::current().id()))
            .await
            .unwrap();
        assert_eq!(policy_after, libc::SCHED_OTHER);
        assert_ne!(id, id_after);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_restored_thread_keeps_serving_when_the_system_allows_it() {
        let ex = Executor::start(1, 4, 0).unwrap();
        let (restored, id) = ex
            .run(&lane(), || {
                super::demote_current_thread();
                super::restore_current_thread();
                (
                    own_policy() == libc::SCHED_OTHER,
                    std::thread::current().id(),
                )
            })
            .await
            .unwrap();
        let (policy_after, id_after) = ex
            .run(&lane(), || (own_policy(), std::thread::current().id()))
            .await
            .unwrap();
        assert_eq!(
            policy_after,
            libc::SCHED_OTHER,
            "normal priority either way"
        );
        // Restored in place (root or RLIMIT_NICE >= 20), or replaced (unprivileged).
        assert_eq!(id == id_after, restored);
    }

    use super::*;
    use std::sync::Mutex;

    fn lane() -> Arc<str> {
        "tenant".into()
    }

    #[tokio::test]
    async fn runs_jobs_off_the_runtime() {
        let ex = Executor::start(2, 4, 0).unwrap();
        let name = ex
            .run(&lane(), || std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("wasm-"));
    }

    #[tokio::test]
    async fn refuses_beyond_capacity() {
        let ex = Arc::new(Executor::start(1, 1, 0).unwrap());
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let mut held = Vec::new();
        for _ in 0..2 {
            let ex = ex.clone();
            let rx = release_rx.clone();
            held.push(tokio::spawn(async move {
                ex.run(&lane(), move || rx.lock().unwrap().recv().is_ok())
                    .await
            }));
        }
        // Wait until both admitted calls hold their permits.
        while ex.admission.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let err = ex.run(&lane(), || ()).await.unwrap_err();
        assert!(
            matches!(err, SandboxError::PoolExhausted { capacity: 2 }),
            "{err}"
        );
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        for h in held {
            assert!(h.await.unwrap().unwrap());
        }
        assert!(ex.run(&lane(), || 7).await.unwrap() == 7);
    }

    #[tokio::test]
    async fn a_lane_holding_its_share_leaves_threads_to_the_others() {
        // 4 threads, 2 per lane: lane a's 6 blocked calls hold 2 threads, queue the rest,
        // and b's calls still run at once.
        let ex = Arc::new(Executor::start(4, 16, 2).unwrap());
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let a: Arc<str> = "a".into();
        let started = Arc::new(AtomicUsize::new(0));
        let mut held = Vec::new();
        for _ in 0..6 {
            let (ex, rx, a, started) = (ex.clone(), release_rx.clone(), a.clone(), started.clone());
            held.push(tokio::spawn(async move {
                ex.run(&a, move || {
                    started.fetch_add(1, Relaxed);
                    rx.lock().unwrap().recv().is_ok()
                })
                .await
            }));
        }
        while started.load(Relaxed) < 2 {
            tokio::task::yield_now().await;
        }
        let b: Arc<str> = "b".into();
        for _ in 0..10 {
            assert_eq!(ex.run(&b, || 7).await.unwrap(), 7);
        }
        assert_eq!(started.load(Relaxed), 2, "a never held more than its share");
        for _ in 0..6 {
            release_tx.send(()).unwrap();
        }
        for h in held {
            assert!(h.await.unwrap().unwrap());
        }
        assert_eq!(started.load(Relaxed), 6);
    }
}
