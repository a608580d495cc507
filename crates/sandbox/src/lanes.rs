//! The sandbox threads' job queue: one lane per tenant, at most `per_lane` running jobs per
//! lane, and lanes served in turn. A lane is in `ready` exactly when it has queued jobs and
//! room to run one, so a free thread never scans past a lane at its cap.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use crate::SandboxError;

pub(crate) struct Queue<J> {
    pub(crate) lanes: Mutex<Lanes<J>>,
    pub(crate) wake: Condvar,
}

pub(crate) struct Lanes<J> {
    pub(crate) by_name: HashMap<Arc<str>, Lane<J>>,
    /// Lanes with a job to start, in turn order.
    pub(crate) ready: VecDeque<Arc<str>>,
    pub(crate) per_lane: usize,
    /// The executor is gone: threads stop, queued jobs are dropped (their callers see it).
    pub(crate) closed: bool,
}

#[derive(Default)]
pub(crate) struct Lane<J> {
    jobs: VecDeque<J>,
    running: usize,
}

impl<J> Queue<J> {
    pub(crate) fn new(per_lane: usize) -> Queue<J> {
        Queue {
            lanes: Mutex::new(Lanes {
                by_name: HashMap::new(),
                ready: VecDeque::new(),
                per_lane: per_lane.max(1),
                closed: false,
            }),
            wake: Condvar::new(),
        }
    }

    pub(crate) fn push(&self, lane: &Arc<str>, job: J) -> Result<(), SandboxError> {
        let mut lanes = self.lanes.lock().unwrap();
        if lanes.closed {
            return Err(SandboxError::Engine(
                "the sandbox threads have stopped".into(),
            ));
        }
        let per_lane = lanes.per_lane;
        let entry = lanes.by_name.entry(lane.clone()).or_insert_with(|| Lane {
            jobs: VecDeque::new(),
            running: 0,
        });
        entry.jobs.push_back(job);
        if entry.jobs.len() == 1 && entry.running < per_lane {
            lanes.ready.push_back(lane.clone());
            drop(lanes);
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The next job in turn, waiting for one; `None` once the queue is closed.
    pub(crate) fn take(&self) -> Option<(Arc<str>, J)> {
        let mut lanes = self.lanes.lock().unwrap();
        loop {
            if lanes.closed {
                return None;
            }
            if let Some(name) = lanes.ready.pop_front() {
                let per_lane = lanes.per_lane;
                let lane = lanes.by_name.get_mut(&name).expect("a ready lane exists");
                let job = lane.jobs.pop_front().expect("a ready lane has a job");
                lane.running += 1;
                if !lane.jobs.is_empty() && lane.running < per_lane {
                    // Back of the line: the other lanes' jobs start first.
                    lanes.ready.push_back(name.clone());
                }
                // One wake-up per push may have been spent on this thread while more jobs
                // became ready: pass it on, or they would wait for the next push.
                if !lanes.ready.is_empty() {
                    self.wake.notify_one();
                }
                return Some((name, job));
            }
            lanes = self.wake.wait(lanes).unwrap();
        }
    }

    /// A job of `name` ended: its lane may start another.
    pub(crate) fn done(&self, name: &Arc<str>) {
        let mut lanes = self.lanes.lock().unwrap();
        let per_lane = lanes.per_lane;
        let Some(lane) = lanes.by_name.get_mut(name) else {
            return;
        };
        let was_at_cap = lane.running >= per_lane;
        lane.running -= 1;
        let queued = !lane.jobs.is_empty();
        if queued && was_at_cap {
            lanes.ready.push_back(name.clone());
            drop(lanes);
            self.wake.notify_one();
        } else if !queued && lane.running == 0 {
            lanes.by_name.remove(name);
        }
    }

    pub(crate) fn close(&self) {
        let mut lanes = self.lanes.lock().unwrap();
        lanes.closed = true;
        // Queued jobs are dropped here, not by a thread: their callers hear of it at once.
        lanes.by_name.clear();
        lanes.ready.clear();
        drop(lanes);
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(s: &str) -> Arc<str> {
        s.into()
    }

    #[test]
    fn a_lane_at_its_cap_waits_while_others_start() {
        let q = Queue::new(2);
        let (a, b) = (lane("a"), lane("b"));
        for i in 0..5 {
            q.push(&a, format!("a{i}")).unwrap();
        }
        q.push(&b, "b0".to_string()).unwrap();
        // Turns alternate, and `a` stops at two running jobs.
        assert_eq!(q.take().unwrap().1, "a0");
        assert_eq!(q.take().unwrap().1, "b0");
        assert_eq!(q.take().unwrap().1, "a1");
        assert!(q.lanes.lock().unwrap().ready.is_empty(), "a is at its cap");
        // One of a's jobs ends: the next starts.
        q.done(&a);
        assert_eq!(q.take().unwrap().1, "a2");
        assert!(q.lanes.lock().unwrap().ready.is_empty());
    }

    #[test]
    fn a_newcomer_starts_before_a_flood_queued_earlier() {
        let q = Queue::new(4);
        let (a, b) = (lane("a"), lane("b"));
        for i in 0..100 {
            q.push(&a, i).unwrap();
        }
        q.take().unwrap();
        q.push(&b, 1000).unwrap();
        // b is second in line, not 100th.
        assert_eq!(q.take().unwrap(), (a.clone(), 1));
        assert_eq!(q.take().unwrap(), (b.clone(), 1000));
    }

    #[test]
    fn every_ready_job_finds_a_sleeping_thread() {
        // Two jobs of one lane pushed before any thread takes one: the thread that takes
        // the first must wake another for the second (a lost wake-up hung a test here).
        for _ in 0..200 {
            let q = Arc::new(Queue::new(4));
            let (tx, rx) = std::sync::mpsc::channel();
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let (q, tx) = (q.clone(), tx.clone());
                    std::thread::spawn(move || {
                        while let Some((_, release)) = q.take() {
                            tx.send(()).unwrap();
                            let _ = std::sync::mpsc::Receiver::recv(&release);
                        }
                    })
                })
                .collect();
            let a = lane("a");
            let mut holds = Vec::new();
            for _ in 0..3 {
                let (hold, release) = std::sync::mpsc::channel::<()>();
                holds.push(hold);
                q.push(&a, release).unwrap();
            }
            for _ in 0..3 {
                rx.recv_timeout(std::time::Duration::from_secs(5))
                    .expect("each job started on its own thread");
            }
            q.close();
            drop(holds);
            for t in threads {
                t.join().unwrap();
            }
        }
    }

    #[test]
    fn idle_lanes_are_forgotten() {
        let q = Queue::new(1);
        let a = lane("a");
        q.push(&a, ()).unwrap();
        q.take().unwrap();
        q.done(&a);
        assert!(q.lanes.lock().unwrap().by_name.is_empty());
    }

    #[test]
    fn a_closed_queue_refuses_and_wakes_its_threads() {
        let q = Arc::new(Queue::<()>::new(1));
        let q2 = q.clone();
        let waiter = std::thread::spawn(move || q2.take().is_none());
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.close();
        assert!(waiter.join().unwrap());
        assert!(q.push(&lane("a"), ()).is_err());
    }
}
