//! A tenant's quotas: what they are, their defaults, and the range of each (checked when
//! the operator sets them, and when `tenants.json` is loaded).

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::bounds::Range;

/// A tenant's limits. Exceeding one is a quota error naming it and its limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    pub max_models: usize,
    pub max_archive_bytes: u64,
    pub max_handler_memory_mib: usize,
    pub max_handler_deadline_ms: u64,
    pub max_concurrent_requests: usize,
    /// Bytes of uploaded and fetched archives the tenant's models may keep on the
    /// server's disk (each file once).
    pub max_storage_bytes: u64,
    /// Management requests in flight (describe and list included), taken before the
    /// body is read: slow uploads hold the tenant's own slots, never the listener's.
    pub max_concurrent_management: usize,
    /// Registrations, scale, unregister and set-default requests a minute, after a burst
    /// of up to 10 ([`super::rate::BURST`]).
    pub max_management_changes_per_minute: u64,
    /// Memory of the process the tenant's models run in (its cell), MiB: past it the
    /// kernel kills the cell and its in-flight batches fail with `ModelProcessCrashed`.
    pub max_model_memory_mib: u64,
    /// Threads (and processes) the tenant's cell may have.
    pub max_model_threads: u64,
    /// CPU time of the tenant's cell in percent of one core (0: no cap beyond fair share).
    pub max_model_cpu_percent: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            max_models: 10,
            max_archive_bytes: 512 << 20,
            max_handler_memory_mib: 256,
            max_handler_deadline_ms: 2000,
            max_concurrent_requests: 16,
            max_storage_bytes: 2 << 30,
            max_concurrent_management: 4,
            max_management_changes_per_minute: 60,
            max_model_memory_mib: 4096,
            max_model_threads: 512,
            max_model_cpu_percent: 0,
        }
    }
}

/// A tenant's quotas, checked when the operator sets them: a count past what a semaphore
/// holds once panicked at creation and again at every start.
pub fn check(q: &Quotas) -> Result<(), Error> {
    let n = |v: usize| v as u64;
    let table: [(Range, u64); 11] = [
        (Range::new("max_models", 0, 100_000), n(q.max_models)),
        (
            Range::new("max_archive_bytes", 0, 1 << 40),
            q.max_archive_bytes,
        ),
        (
            Range::new("max_handler_memory_mib", 1, 65_536),
            n(q.max_handler_memory_mib),
        ),
        (
            Range::new("max_handler_deadline_ms", 1, 3_600_000),
            q.max_handler_deadline_ms,
        ),
        (
            Range::new("max_concurrent_requests", 0, 1_000_000),
            n(q.max_concurrent_requests),
        ),
        (
            Range::new("max_storage_bytes", 0, 1 << 50),
            q.max_storage_bytes,
        ),
        (
            Range::new("max_concurrent_management", 0, 10_000),
            n(q.max_concurrent_management),
        ),
        (
            Range::new("max_management_changes_per_minute", 0, 1_000_000),
            q.max_management_changes_per_minute,
        ),
        (
            Range::new("max_model_memory_mib", 64, 1 << 24),
            q.max_model_memory_mib,
        ),
        (
            Range::new("max_model_threads", 16, 1 << 20),
            q.max_model_threads,
        ),
        (
            Range::new("max_model_cpu_percent", 0, 100_000),
            q.max_model_cpu_percent,
        ),
    ];
    for (range, value) in table {
        range.check(value, "the tenant's quotas")?;
    }
    Ok(())
}

/// The limits on one owner's models, as the process they run in gets them (`None`: no cap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelLimits {
    pub memory_bytes: Option<u64>,
    pub threads: Option<u64>,
    pub cpu_percent: Option<u64>,
}

/// A tenant's model limits from its quotas, or the shared namespace's (`shared`) for `None`.
pub fn model_limits(quotas: Option<&Quotas>, shared: &ModelLimits) -> ModelLimits {
    let Some(q) = quotas else {
        return *shared;
    };
    ModelLimits {
        memory_bytes: Some(q.max_model_memory_mib.saturating_mul(1 << 20)),
        threads: Some(q.max_model_threads),
        cpu_percent: (q.max_model_cpu_percent > 0).then_some(q.max_model_cpu_percent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_have_ranges() {
        check(&Quotas::default()).unwrap();
        let cases = [
            Quotas {
                max_concurrent_requests: usize::MAX,
                ..Quotas::default()
            },
            Quotas {
                max_concurrent_management: 1 << 62,
                ..Quotas::default()
            },
            Quotas {
                max_management_changes_per_minute: u64::MAX,
                ..Quotas::default()
            },
            Quotas {
                max_handler_deadline_ms: 0,
                ..Quotas::default()
            },
        ];
        for (q, field) in cases.iter().zip([
            "max_concurrent_requests",
            "max_concurrent_management",
            "max_management_changes_per_minute",
            "max_handler_deadline_ms",
        ]) {
            let e = check(q).unwrap_err();
            assert_eq!(e.kind(), "OutOfRange");
            assert!(e.to_string().starts_with(field), "{e}");
        }
    }
}
