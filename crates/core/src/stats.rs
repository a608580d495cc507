//! Per-model-version request statistics in the shape the tensor protocols report them
//! (KServe v2 / Triton `ModelStatistics`: counts and cumulative durations per stage). The
//! [`Pipeline`](crate::Pipeline) feeds them directly, beside its [`Observer`](crate::observe::Observer);
//! Prometheus histograms stay in `metrics/`. Lock-free: a few relaxed atomic adds per request.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

/// A count and the total time it took, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub ns: u64,
}

/// What a model version has served since it was loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Milliseconds since the Unix epoch of the last request's end; 0 before the first.
    pub last_inference_ms: u64,
    /// Requests (samples) that reached the model.
    pub inference_count: u64,
    /// Batches the model ran, estimated from the batch sizes its requests shared (a batch
    /// of n adds 1/n per request).
    pub execution_count: u64,
    /// Whole requests, by how they ended.
    pub success: Tally,
    pub fail: Tally,
    /// Waiting for a batch to start.
    pub queue: Tally,
    /// The handler's preprocess (none for requests that send tensors).
    pub compute_input: Tally,
    /// The forward, as the batch's share of each of its requests.
    pub compute_infer: Tally,
    /// The handler's postprocess.
    pub compute_output: Tally,
}

/// Fixed point for the execution count: a request of a batch of n adds `UNIT / n`.
const UNIT: u64 = 1 << 20;

#[derive(Default)]
struct Cell {
    count: AtomicU64,
    ns: AtomicU64,
}

impl Cell {
    fn add(&self, took: Duration) {
        self.count.fetch_add(1, Relaxed);
        self.ns
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    fn get(&self) -> Tally {
        Tally {
            count: self.count.load(Relaxed),
            ns: self.ns.load(Relaxed),
        }
    }
}

/// The accumulating side of [`StatsSnapshot`].
#[derive(Default)]
pub struct Stats {
    last_ms: AtomicU64,
    inferences: AtomicU64,
    executions: AtomicU64,
    success: Cell,
    fail: Cell,
    queue: Cell,
    input: Cell,
    infer: Cell,
    output: Cell,
}

/// Where a handler call's time goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Preprocess,
    Postprocess,
}

impl Stats {
    pub(crate) fn handler(&self, step: Step, took: Duration) {
        match step {
            Step::Preprocess => self.input.add(took),
            Step::Postprocess => self.output.add(took),
        }
    }

    /// One request's trip through the batcher.
    pub(crate) fn forward(&self, queued: Duration, ran: Duration, batch_size: usize) {
        self.inferences.fetch_add(1, Relaxed);
        self.executions
            .fetch_add(UNIT / batch_size.max(1) as u64, Relaxed);
        self.queue.add(queued);
        self.infer.add(ran);
    }

    pub(crate) fn finished(&self, took: Duration, ok: bool) {
        if ok {
            self.success.add(took)
        } else {
            self.fail.add(took)
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.last_ms.fetch_max(now, Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            last_inference_ms: self.last_ms.load(Relaxed),
            inference_count: self.inferences.load(Relaxed),
            // Rounded, so a lone batch of 3 (3 × ⌊UNIT/3⌋) still counts as one.
            execution_count: (self.executions.load(Relaxed) + UNIT / 2) / UNIT,
            success: self.success.get(),
            fail: self.fail.get(),
            queue: self.queue.get(),
            compute_input: self.input.get(),
            compute_infer: self.infer.get(),
            compute_output: self.output.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn counts_requests_batches_and_stage_times() {
        let s = Stats::default();
        assert_eq!(s.snapshot(), StatsSnapshot::default());
        // One batch of three requests and one alone.
        for _ in 0..3 {
            s.forward(MS, 2 * MS, 3);
        }
        s.forward(MS, 2 * MS, 1);
        s.handler(Step::Preprocess, 3 * MS);
        s.handler(Step::Postprocess, 4 * MS);
        s.finished(10 * MS, true);
        s.finished(5 * MS, false);
        let snap = s.snapshot();
        assert_eq!((snap.inference_count, snap.execution_count), (4, 2));
        assert_eq!(
            snap.queue,
            Tally {
                count: 4,
                ns: 4_000_000
            }
        );
        assert_eq!(snap.compute_infer.ns, 8_000_000);
        assert_eq!(
            snap.compute_input,
            Tally {
                count: 1,
                ns: 3_000_000
            }
        );
        assert_eq!(snap.compute_output.ns, 4_000_000);
        assert_eq!((snap.success.count, snap.success.ns), (1, 10_000_000));
        assert_eq!(
            snap.fail,
            Tally {
                count: 1,
                ns: 5_000_000
            }
        );
        assert!(snap.last_inference_ms > 1_700_000_000_000);
    }

    #[test]
    fn a_batch_size_of_zero_and_huge_durations_do_not_panic() {
        let s = Stats::default();
        s.forward(Duration::MAX, Duration::MAX, 0);
        assert_eq!(s.snapshot().queue.ns, u64::MAX);
        assert_eq!(s.snapshot().execution_count, 1);
    }
}
