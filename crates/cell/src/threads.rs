//! The cell's threads for forwards: one per batch in flight, kept for the next batch. The
//! server's batcher bounds how many batches are in flight (its workers), so the count
//! follows the owner's workers; the cell's pids limit bounds it too.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Threads beyond this are not started: jobs wait for a free one.
const MAX_THREADS: usize = 1024;

#[derive(Default)]
pub(crate) struct Threads {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    idle: usize,
    total: usize,
}

impl Threads {
    pub fn submit(self: &Arc<Self>, job: Job) {
        let mut s = self.state.lock().unwrap();
        s.queue.push_back(job);
        // Every waiting job needs a thread of its own: start one when the idle ones are
        // already spoken for.
        if s.queue.len() > s.idle && s.total < MAX_THREADS {
            let me = self.clone();
            if std::thread::Builder::new()
                .name("cell-forward".into())
                .spawn(move || me.work())
                .is_ok()
            {
                s.total += 1;
            }
        } else {
            self.wake.notify_one();
        }
    }

    fn work(&self) {
        loop {
            let job = {
                let mut s = self.state.lock().unwrap();
                loop {
                    if let Some(job) = s.queue.pop_front() {
                        break job;
                    }
                    s.idle += 1;
                    s = self.wake.wait(s).unwrap();
                    s.idle -= 1;
                }
            };
            job();
        }
    }

    #[cfg(test)]
    fn total(&self) -> usize {
        self.state.lock().unwrap().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn jobs_in_flight_each_get_a_thread_and_threads_are_reused() {
        let threads = Arc::new(Threads::default());
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate_rx));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..3 {
            let (gate, done) = (gate.clone(), done_tx.clone());
            threads.submit(Box::new(move || {
                gate.lock().unwrap().recv().unwrap();
                done.send(()).unwrap();
            }));
        }
        // Three jobs block at once: each needed its own thread.
        for _ in 0..3 {
            gate_tx.send(()).unwrap();
            done_rx.recv().unwrap();
        }
        assert_eq!(threads.total(), 3);
        std::thread::sleep(std::time::Duration::from_millis(50));
        for _ in 0..10 {
            let done = done_tx.clone();
            threads.submit(Box::new(move || done.send(()).unwrap()));
            done_rx.recv().unwrap();
        }
        assert_eq!(threads.total(), 3, "one job at a time reuses idle threads");
    }
}
