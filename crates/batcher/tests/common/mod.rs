//! A fake model for the batcher's tests: doubles every input, and misbehaves on request.
//!
//! For input `x` of shape `[n, ...S]` it returns `x2` (= 2·x, same shape) and `sum`
//! (shape `[n]`: each request's sum). A request whose first value is one of the `POISON_*`
//! markers makes its whole batch fail in that way.

#![allow(dead_code)]

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ferroserve_batcher::{BatchRunner, RunError};
use ferroserve_tensor::Tensor;
use tokio::sync::mpsc;

pub const POISON_ERROR: f32 = -1.0;
pub const POISON_PANIC: f32 = -2.0;
pub const POISON_SHAPE: f32 = -3.0;

#[derive(Default)]
pub struct Fake {
    /// Batch sizes, in the order batches started.
    pub batches: Mutex<Vec<usize>>,
    /// When set, `run` waits for `open` before answering.
    gate: Option<(Mutex<bool>, Condvar)>,
    started: Option<mpsc::UnboundedSender<usize>>,
    /// Time each batch takes, to build up a queue.
    work: Duration,
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake::default())
    }

    /// A fake whose `run` blocks until [`Fake::open`], reporting each batch start on the channel.
    pub fn gated() -> (Arc<Fake>, mpsc::UnboundedReceiver<usize>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let fake = Fake {
            gate: Some((Mutex::new(false), Condvar::new())),
            started: Some(tx),
            ..Fake::default()
        };
        (Arc::new(fake), rx)
    }

    /// A fake that spends `work` on each batch.
    pub fn slow(work: Duration) -> Arc<Fake> {
        Arc::new(Fake {
            work,
            ..Fake::default()
        })
    }

    pub fn open(&self) {
        if let Some((open, cv)) = &self.gate {
            *open.lock().unwrap() = true;
            cv.notify_all();
        }
    }

    pub fn sizes(&self) -> Vec<usize> {
        self.batches.lock().unwrap().clone()
    }
}

impl BatchRunner for Fake {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        let x = &inputs[0];
        let n = x.shape()[0] as usize;
        self.batches.lock().unwrap().push(n);
        if let Some(started) = &self.started {
            let _ = started.send(n);
        }
        if let Some((open, cv)) = &self.gate {
            let _guard = cv.wait_while(open.lock().unwrap(), |open| !*open).unwrap();
        }
        if !self.work.is_zero() {
            std::thread::sleep(self.work);
        }
        let values = x.to_f32().unwrap();
        let per = values.len() / n.max(1);
        let firsts: Vec<f32> = (0..n).map(|i| values[i * per]).collect();
        if firsts.contains(&POISON_ERROR) {
            return Err(RunError::new("poisoned input"));
        }
        if firsts.contains(&POISON_PANIC) {
            panic!("boom: the fake model fell over");
        }
        let mut doubled: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
        let mut shape = x.shape().to_vec();
        if firsts.contains(&POISON_SHAPE) {
            shape[0] += 1;
            doubled.extend(std::iter::repeat_n(0.0, per));
        }
        let sums: Vec<f32> = values.chunks(per.max(1)).map(|c| c.iter().sum()).collect();
        let x2 = Tensor::from_f32("x2", shape, &doubled).unwrap();
        let sum = Tensor::from_f32("sum", vec![n as u64], &sums).unwrap();
        Ok(vec![x2, sum])
    }
}

/// One request: input `x` of `shape`, every value `v`.
pub fn request(v: f32, shape: &[u64]) -> Vec<Tensor> {
    let len: u64 = shape.iter().product();
    vec![Tensor::from_f32("x", shape.to_vec(), &vec![v; len as usize]).unwrap()]
}

/// Checks the answer the fake gives `request(v, shape)`.
pub fn assert_answer(outputs: &[Tensor], v: f32, shape: &[u64]) {
    let len: u64 = shape.iter().product();
    assert_eq!(outputs.len(), 2);
    assert_eq!((outputs[0].name(), outputs[0].shape()), ("x2", shape));
    assert_eq!(outputs[0].to_f32().unwrap(), vec![2.0 * v; len as usize]);
    assert_eq!(outputs[1].shape(), &[] as &[u64]);
    assert_eq!(outputs[1].to_f32().unwrap(), vec![v * len as f32]);
}

pub fn in_ms(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

pub fn later() -> Instant {
    in_ms(60_000)
}

/// Polls `f` once, so its request is handed to the queue, and leaves it pending.
pub async fn enqueue<F: std::future::Future>(f: std::pin::Pin<&mut F>) {
    assert!(
        tokio::time::timeout(Duration::ZERO, f).await.is_err(),
        "answered before the worker was free"
    );
}

/// Polls `cond` every millisecond; panics after 5 s (a guard, not a timing assertion).
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
