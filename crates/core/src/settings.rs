//! A model's serving settings, resolved in one pure function: what the registration asks
//! for (query parameters, the snapshot) wins over the archive's model config, which wins
//! over the server's defaults. Handler limits are resolved separately (`limits.rs`), since
//! the tenant's quotas cap them.

use std::time::Duration;

use ferroserve_archive::ModelConfig;
use ferroserve_sandbox::Limits;

use crate::LoadRequest;

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

/// Request < archive config < defaults, key by key. `max_workers` is at least
/// `min_workers` and at least 1.
pub fn resolve(req: &LoadRequest, config: &ModelConfig, d: &ModelDefaults) -> Settings {
    let min_workers = req
        .min_workers
        .or(config.min_workers.map(|n| n as usize))
        .unwrap_or(d.min_workers);
    Settings {
        batch_size: req
            .batch_size
            .or(config.batch_size.map(|n| n as usize))
            .unwrap_or(d.batch_size),
        max_batch_delay_ms: req
            .max_batch_delay_ms
            .or(config.max_batch_delay)
            .unwrap_or(d.max_batch_delay.as_millis() as u64),
        min_workers,
        max_workers: req
            .max_workers
            .or(config.max_workers.map(|n| n as usize))
            .unwrap_or(d.max_workers)
            .max(min_workers)
            .max(1),
        response_timeout_s: req
            .response_timeout_s
            .or(config.response_timeout)
            .unwrap_or(d.response_timeout.as_secs()),
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
        let s = resolve(&req, &config, &d);
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
        let s = resolve(&LoadRequest::default(), &ModelConfig::default(), &d);
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
        let s = resolve(&req, &ModelConfig::default(), &ModelDefaults::default());
        assert_eq!((s.min_workers, s.max_workers), (0, 1));
    }
}
