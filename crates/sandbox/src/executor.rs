//! The threads handler calls run on. The async runtime never runs wasm: a call is a job
//! sent to one of a fixed set of OS threads, and admission is bounded (running + waiting
//! ≤ threads + queue depth), so a burst is refused at once instead of queueing unboundedly
//! or exhausting the instance pool.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, oneshot};

use crate::SandboxError;

type Job = Box<dyn FnOnce() + Send>;

/// The native stack of a sandbox thread: room for the 1 MiB wasm stack plus host frames.
const THREAD_STACK: usize = 8 << 20;

pub(crate) struct Executor {
    // `Sender` is `Sync`: callers send concurrently without a lock.
    jobs: Sender<Job>,
    admission: Arc<Semaphore>,
    capacity: usize,
}

impl Executor {
    pub(crate) fn start(threads: usize, queue_depth: usize) -> std::io::Result<Executor> {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("wasm-{i}"))
                .stack_size(THREAD_STACK)
                .spawn(move || worker(&rx))?;
        }
        let capacity = threads.max(1) + queue_depth;
        Ok(Executor {
            jobs: tx,
            admission: Arc::new(Semaphore::new(capacity)),
            capacity,
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Run `f` on a sandbox thread. A caller that goes away before its job starts costs
    /// nothing: the job sees the closed channel and skips.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, SandboxError> {
        let permit = self.admission.clone().try_acquire_owned().map_err(|_| {
            SandboxError::PoolExhausted {
                capacity: self.capacity,
            }
        })?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            if tx.is_closed() {
                return;
            }
            let result = f();
            // Free the slot before answering, so a caller that got its answer can count on
            // the slot being free for its next call.
            drop(permit);
            let _ = tx.send(result);
        });
        self.jobs
            .send(job)
            .map_err(|_| SandboxError::Engine("the sandbox threads have stopped".into()))?;
        rx.await
            .map_err(|_| SandboxError::Engine("a sandbox thread stopped during the call".into()))
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock().unwrap().recv() {
            Ok(job) => job,
            Err(_) => return, // the executor was dropped
        };
        // A host bug must not take the thread (and the pool's capacity) with it.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!("a sandbox job panicked; the thread keeps serving");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_off_the_runtime() {
        let ex = Executor::start(2, 4).unwrap();
        let name = ex
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("wasm-"));
    }

    #[tokio::test]
    async fn refuses_beyond_capacity() {
        let ex = Arc::new(Executor::start(1, 1).unwrap());
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let mut held = Vec::new();
        for _ in 0..2 {
            let ex = ex.clone();
            let rx = release_rx.clone();
            held.push(tokio::spawn(async move {
                ex.run(move || rx.lock().unwrap().recv().is_ok()).await
            }));
        }
        // Wait until both admitted calls hold their permits.
        while ex.admission.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let err = ex.run(|| ()).await.unwrap_err();
        assert!(
            matches!(err, SandboxError::PoolExhausted { capacity: 2 }),
            "{err}"
        );
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        for h in held {
            assert!(h.await.unwrap().unwrap());
        }
        assert!(ex.run(|| 7).await.unwrap() == 7);
    }
}
