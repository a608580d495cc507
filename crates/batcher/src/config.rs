//! [`BatcherConfig`]: the per-model settings the management API exposes
//! (`batch_size`, `max_batch_delay`, queue capacity, `min_workers`/`max_workers`).

use std::time::Duration;

use crate::BatchError;

/// Settings of one model's batcher. Defaults follow TorchServe's (`batch_size` 1,
/// `max_batch_delay` 100 ms, a queue of 100), so its users see the behaviour they know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatcherConfig {
    /// Names the model in thread names and logs, e.g. `"tenant/resnet:1.0"`.
    pub name: String,
    /// Most requests in one batch.
    pub batch_size: usize,
    /// While every worker is busy, the oldest request of a partial batch waits at most this
    /// long for companions (an idle worker takes it at once). tokio's timer ticks in milliseconds, so shorter delays round up to about 1 ms.
    pub max_batch_delay: Duration,
    /// Most requests waiting in the queue; one more is refused with
    /// [`BatchError::Overloaded`] at once. Beyond these, formed batches worth about 16
    /// requests per worker (at least one batch) may wait for a free worker; they are still
    /// checked for expiry and cancellation before they run.
    pub capacity: usize,
    /// Worker OS threads calling [`crate::BatchRunner::run`] kept even when idle (0 is
    /// allowed: the first batch then starts one).
    pub min_workers: usize,
    /// Most worker threads: another starts (up to this) whenever a formed batch finds every
    /// worker busy. At least 1 and at least `min_workers`.
    pub max_workers: usize,
    /// A worker above `min_workers` that has had no batch for this long exits.
    pub worker_idle_timeout: Duration,
}

impl BatcherConfig {
    pub fn new(name: impl Into<String>) -> BatcherConfig {
        BatcherConfig {
            name: name.into(),
            batch_size: 1,
            max_batch_delay: Duration::from_millis(100),
            capacity: 100,
            min_workers: 1,
            max_workers: 1,
            worker_idle_timeout: Duration::from_secs(30),
        }
    }

    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    pub fn max_batch_delay(mut self, d: Duration) -> Self {
        self.max_batch_delay = d;
        self
    }
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }
    /// A fixed number of workers: `min_workers` = `max_workers` = `n`.
    pub fn workers(mut self, n: usize) -> Self {
        self.min_workers = n;
        self.max_workers = n;
        self
    }
    pub fn min_workers(mut self, n: usize) -> Self {
        self.min_workers = n;
        self
    }
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = n;
        self
    }
    pub fn worker_idle_timeout(mut self, d: Duration) -> Self {
        self.worker_idle_timeout = d;
        self
    }

    /// Refuses settings under which the batcher could never serve a request.
    pub fn validate(&self) -> Result<(), BatchError> {
        let bad = |m: String| Err(BatchError::Start(m));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        if let Err(message) = check_workers(self.min_workers, self.max_workers) {
            return bad(message);
        }
        if self.worker_idle_timeout.is_zero() {
            return bad("worker_idle_timeout must be above zero".into());
        }
        if self.capacity < self.batch_size {
            return bad(format!(
                "the queue capacity ({}) must be at least batch_size ({}), or a full batch can never form",
                self.capacity, self.batch_size
            ));
        }
        Ok(())
    }
}

/// The rule `Batcher::spawn` and `Batcher::scale` share.
pub(crate) fn check_workers(min: usize, max: usize) -> Result<(), String> {
    if max == 0 {
        return Err("the model needs at least 1 worker (max_workers is 0)".into());
    }
    if min > max {
        return Err(format!(
            "min_workers ({min}) must not be above max_workers ({max})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_settings_say_why() {
        assert!(BatcherConfig::new("m").validate().is_ok());
        let err = BatcherConfig::new("m")
            .batch_size(8)
            .capacity(4)
            .validate()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("capacity (4) must be at least batch_size (8)"),
            "{err}"
        );
        assert!(BatcherConfig::new("m").workers(0).validate().is_err());
        let err = BatcherConfig::new("m")
            .min_workers(3)
            .max_workers(2)
            .validate()
            .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("min_workers (3) must not be above max_workers (2)"),
            "{err}"
        );
        assert!(BatcherConfig::new("m").min_workers(0).validate().is_ok());
        let zero = BatcherConfig::new("m").worker_idle_timeout(Duration::ZERO);
        assert!(zero.validate().is_err());
        assert!(BatcherConfig::new("m").batch_size(0).validate().is_err());
    }
}
