//! A model's serving settings, resolved in one pure function: what the registration asks
//! for (query parameters, the snapshot) wins over the archive's model config, which wins
//! over the server's defaults. Handler limits are resolved separately (`limits.rs`), since
//! the tenant's quotas cap them.

use std::time::Duration;

use ferroserve_archive::ModelConfig;
use ferroserve_sandbox::Limits;

use crate::bounds::{Ceilings, Range};
use crate::{Error, LoadRequest};

/// Server-wide defaults and ceilings for models (TorchServe's defaults where it has them).
/// Built from the `ServerConfig` (`ServerConfig::model_defaults`), the one source of them.
#[derive(Debug, Clone)]
pub struct ModelDefaults {
    pub batch_size: usize,
    pub max_batch_delay: Duration,
    pub min_workers: usize,
    pub max_workers: usize,
    pub response_timeout: Duration,
    /// Requests a model's queue holds before refusing more (TorchServe's `job_queue_size`).
    pub queue_capacity: usize,
    pub handler: Limits,
    /// The most any archive may ask for.
    pub max_handler_deadline: Duration,
    pub archive: ferroserve_archive::ReadLimits,
    /// The server's ceilings (the limits table).
    pub ceilings: Ceilings,
    /// The shared namespace's model limits (tenants' come from their quotas).
    pub shared_model_limits: crate::ModelLimits,
}

impl Default for ModelDefaults {
    fn default() -> Self {
        crate::ServerConfig::default().model_defaults()
    }
}

/// The batcher's and the pipeline's settings for one model version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub batch_size: usize,
    pub max_batch_delay_ms: u64,
    pub min_workers: usize,
    pub max_workers: usize,
    pub response_timeout_s: u64,
}

/// Request < archive config < defaults, key by key, each checked against its range (the
/// limits table) naming where the value came from. `max_workers` is at least
/// `min_workers` and at least 1.
pub fn resolve(
    req: &LoadRequest,
    config: &ModelConfig,
    d: &ModelDefaults,
) -> Result<Settings, Error> {
    let c = &d.ceilings;
    let batch_max = c.batch_size.min(d.queue_capacity as u64);
    let batch_setting = if batch_max < c.batch_size {
        "job_queue_size"
    } else {
        "limit_batch_size"
    };
    let batch_size = pick(
        req.batch_size.map(|n| n as u64),
        config.batch_size.map(u64::from),
        d.batch_size as u64,
        Range::new("batch_size", 1, batch_max).bounded_by(batch_setting),
        "batchSize",
    )?;
    let max_batch_delay_ms = pick(
        req.max_batch_delay_ms,
        config.max_batch_delay,
        d.max_batch_delay.as_millis() as u64,
        Range::new("max_batch_delay", 0, c.batch_delay_ms).bounded_by("limit_batch_delay_ms"),
        "maxBatchDelay",
    )?;
    let workers =
        Range::new("min_workers", 0, c.workers_per_model).bounded_by("limit_workers_per_model");
    let min_workers = pick(
        req.min_workers.map(|n| n as u64),
        config.min_workers.map(u64::from),
        d.min_workers as u64,
        workers,
        "minWorkers",
    )?;
    let max_workers = pick(
        req.max_workers.map(|n| n as u64),
        config.max_workers.map(u64::from),
        d.max_workers as u64,
        Range {
            field: "max_workers",
            ..workers
        },
        "maxWorkers",
    )?;
    let response_timeout_s = pick(
        req.response_timeout_s,
        config.response_timeout,
        d.response_timeout.as_secs(),
        Range::new("response_timeout", 1, c.response_timeout_s)
            .bounded_by("limit_response_timeout_s"),
        "responseTimeout",
    )?;
    Ok(Settings {
        batch_size: batch_size as usize,
        max_batch_delay_ms,
        min_workers: min_workers as usize,
        max_workers: max_workers.max(min_workers).max(1) as usize,
        response_timeout_s,
    })
}

/// The request's value, else the archive's (its YAML key is `yaml`), else the default;
/// checked against `range`.
fn pick(
    asked: Option<u64>,
    archive: Option<u64>,
    default: u64,
    range: Range,
    yaml: &str,
) -> Result<u64, Error> {
    match (asked, archive) {
        (Some(v), _) => range.check(v, "asked in the request"),
        (None, Some(v)) => range.check(v, &format!("{yaml} in the archive's model config")),
        (None, None) => range.check(default, "the server's default"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_wins_then_the_archive_then_the_defaults() {
        let d = ModelDefaults::default();
        let config = ModelConfig {
            batch_size: Some(8),
            max_batch_delay: Some(20),
            min_workers: Some(2),
            ..ModelConfig::default()
        };
        let req = LoadRequest {
            batch_size: Some(4),
            ..LoadRequest::default()
        };
        let s = resolve(&req, &config, &d).unwrap();
        assert_eq!(s.batch_size, 4, "the request's");
        assert_eq!(s.max_batch_delay_ms, 20, "the archive's");
        assert_eq!(s.min_workers, 2, "the archive's");
        assert_eq!(s.max_workers, 2, "raised to the minimum");
        assert_eq!(
            s.response_timeout_s,
            d.response_timeout.as_secs(),
            "the default"
        );
    }

    #[test]
    fn nothing_asked_gives_the_defaults() {
        let d = ModelDefaults::default();
        let s = resolve(&LoadRequest::default(), &ModelConfig::default(), &d).unwrap();
        assert_eq!(
            s,
            Settings {
                batch_size: d.batch_size,
                max_batch_delay_ms: d.max_batch_delay.as_millis() as u64,
                min_workers: d.min_workers,
                max_workers: d.max_workers.max(d.min_workers).max(1),
                response_timeout_s: d.response_timeout.as_secs(),
            }
        );
    }

    #[test]
    fn max_workers_is_never_zero() {
        let req = LoadRequest {
            min_workers: Some(0),
            max_workers: Some(0),
            ..LoadRequest::default()
        };
        let s = resolve(&req, &ModelConfig::default(), &ModelDefaults::default()).unwrap();
        assert_eq!((s.min_workers, s.max_workers), (0, 1));
    }

    #[test]
    fn every_number_is_checked_against_its_range_naming_its_origin() {
        let d = ModelDefaults::default();
        let asked = |f: fn(&mut LoadRequest)| {
            let mut r = LoadRequest::default();
            f(&mut r);
            resolve(&r, &ModelConfig::default(), &d)
                .unwrap_err()
                .to_string()
        };
        let e = asked(|r| r.batch_size = Some(0));
        assert!(e.contains("batch_size = 0 (asked in the request)"), "{e}");
        let e = asked(|r| r.batch_size = Some(1_000_000_000_000));
        assert!(
            e.contains("job_queue_size") || e.contains("limit_batch_size"),
            "{e}"
        );
        let e = asked(|r| r.response_timeout_s = Some(u64::MAX));
        assert!(e.contains("response_timeout = 18446744073709551615"), "{e}");
        assert!(e.contains("limit_response_timeout_s"), "{e}");
        let e = asked(|r| r.response_timeout_s = Some(0));
        assert!(e.contains("expected 1..="), "{e}");
        let e = asked(|r| r.min_workers = Some(100_000));
        assert!(e.contains("min_workers = 100000"), "{e}");
        let e = asked(|r| r.max_batch_delay_ms = Some(u64::MAX));
        assert!(e.contains("limit_batch_delay_ms"), "{e}");
        let config = ModelConfig {
            min_workers: Some(1000),
            ..ModelConfig::default()
        };
        let e = resolve(&LoadRequest::default(), &config, &d).unwrap_err();
        assert_eq!(e.kind(), "OutOfRange");
        assert!(
            e.to_string()
                .contains("minWorkers in the archive's model config"),
            "{e}"
        );
    }
}
