//! `run_batch` on the calling thread, with a subscriber that records what is logged.

use std::fmt::{Debug, Write};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferroserve_tensor::Tensor;
use tokio::sync::Notify;
use tracing::field::Field;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata};

use super::*;
use crate::RunError;
use crate::shared::Stats;

struct Panics;

impl BatchRunner for Panics {
    fn run(&self, _: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        panic!("kaboom in forward");
    }
}

/// Each event as `LEVEL field=value ...`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut |field: &Field, value: &dyn Debug| {
            let _ = write!(line, " {}={value:?}", field.name());
        });
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// A model's shared state, as a worker sees it, for `name`.
fn shared(name: &str) -> Shared {
    Shared {
        name: name.into(),
        capacity: 8,
        closing: AtomicBool::new(false),
        shutdown: Notify::new(),
        stats: Stats::default(),
    }
}

#[test]
fn a_runner_panic_is_logged_with_the_model_name_and_fails_only_its_batch() {
    let shared = shared("tenant/resnet:1.0");
    let now = Instant::now();
    let x = Tensor::from_f32("x", vec![2], &[1.0, 2.0]).unwrap();
    let (entry, mut answer) = Entry::new(vec![x], now, now + Duration::from_secs(60));
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || run_batch(&Panics, vec![entry], &shared));
    assert_eq!(
        answer.try_recv().unwrap(),
        Err(BatchError::WorkerPanicked("kaboom in forward".into()))
    );
    let logged = capture.0.lock().unwrap().clone();
    assert!(
        logged.iter().any(|l| l.starts_with("ERROR")
            && l.contains("model=tenant/resnet:1.0")
            && l.contains("message=kaboom in forward")
            && l.contains("model runner panicked")),
        "{logged:?}"
    );
    let stats = shared.stats.snapshot();
    assert_eq!((stats.panics, stats.failed, stats.batches), (1, 1, 1));
}

/// Sleeps, then echoes its input.
struct Slow(Duration);

impl BatchRunner for Slow {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        std::thread::sleep(self.0);
        Ok(inputs)
    }
}

#[test]
fn answers_say_how_long_each_request_queued_and_the_batch_ran() {
    let shared = shared("timed");
    let now = Instant::now();
    let far = now + Duration::from_secs(60);
    let x = || Tensor::from_f32("x", vec![1], &[1.0]).unwrap();
    // One request has waited 40 ms already, the other just arrived.
    let (old, mut old_answer) = Entry::new(vec![x()], now - Duration::from_millis(40), far);
    let (new, mut new_answer) = Entry::new(vec![x()], now, far);
    run_batch(&Slow(Duration::from_millis(20)), vec![old, new], &shared);
    let old = old_answer.try_recv().unwrap().unwrap();
    let new = new_answer.try_recv().unwrap().unwrap();
    assert_eq!((old.batch_size, new.batch_size), (2, 2));
    assert!(old.queued >= Duration::from_millis(40), "{:?}", old.queued);
    assert!(new.queued < old.queued);
    assert!(old.ran >= Duration::from_millis(20) && old.ran == new.ran);
    assert_eq!(old.outputs[0].to_f32().unwrap(), vec![1.0]);
}

struct Fails;

impl BatchRunner for Fails {
    fn run(&self, _: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        Err(RunError::new("no such op"))
    }
}

#[test]
fn a_failed_batch_without_request_spans_is_logged_once() {
    let shared = shared("spanless");
    let now = Instant::now();
    let far = now + Duration::from_secs(60);
    let x = || Tensor::from_f32("x", vec![1], &[1.0]).unwrap();
    // Made outside any subscriber: the entries carry no span.
    let (batch, _answers): (Vec<_>, Vec<_>) =
        (0..3).map(|_| Entry::new(vec![x()], now, far)).unzip();
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || run_batch(&Fails, batch, &shared));
    let logged = capture.0.lock().unwrap().clone();
    let failed: Vec<_> = logged
        .iter()
        .filter(|l| l.contains("batch failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{logged:?}");
    assert!(failed[0].contains("batch=3") && failed[0].contains("no such op"));
}
