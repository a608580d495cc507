//! TorchServe's describe-model object (camelCase keys, as its clients parse them), built
//! from the core's model and its batcher's live stats.

use ferroserve_core::{Model, rfc3339};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Described {
    pub model_name: String,
    pub model_version: String,
    pub model_url: String,
    pub engine: &'static str,
    pub runtime: &'static str,
    pub min_workers: usize,
    pub max_workers: usize,
    pub batch_size: usize,
    pub max_batch_delay: u64,
    pub response_timeout: u64,
    pub loaded_at_startup: bool,
    pub is_default: bool,
    pub device: String,
    pub queue_depth: usize,
    pub handler_limits: HandlerLimitsView,
    pub workers: Vec<WorkerView>,
    /// TorchServe's queue view (KServe's wrapper and dashboards read it).
    pub job_queue_status: JobQueueStatus,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobQueueStatus {
    pub remaining_capacity: usize,
    pub pending_requests: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerLimitsView {
    pub memory_bytes: usize,
    pub deadline_ms: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerView {
    pub id: String,
    pub start_time: String,
    pub status: &'static str,
    pub gpu: bool,
}

pub fn describe(model: &Model, is_default: bool) -> Described {
    let stats = model.pipeline.batcher().stats();
    let info = &model.info;
    let start_time = info.loaded_at.map(rfc3339).unwrap_or_default();
    let workers = (0..stats.workers)
        .map(|i| WorkerView {
            id: format!("{}:{}#{i}", model.name(), model.version),
            start_time: start_time.clone(),
            status: "READY",
            gpu: info.device.starts_with("cuda"),
        })
        .collect();
    Described {
        model_name: model.name().to_owned(),
        model_version: model.version.clone(),
        model_url: info.url.clone(),
        engine: "Torch",
        runtime: "wasm",
        min_workers: stats.min_workers,
        max_workers: stats.max_workers,
        batch_size: info.batch_size,
        max_batch_delay: info.max_batch_delay_ms,
        response_timeout: info.response_timeout_s,
        loaded_at_startup: info.loaded_at_startup,
        is_default,
        device: info.device.clone(),
        queue_depth: stats.queued,
        handler_limits: HandlerLimitsView {
            memory_bytes: info.handler_memory_bytes,
            deadline_ms: info.handler_deadline_ms,
        },
        workers,
        job_queue_status: JobQueueStatus {
            remaining_capacity: model
                .pipeline
                .batcher()
                .capacity()
                .saturating_sub(stats.queued),
            pending_requests: stats.queued,
        },
    }
}
