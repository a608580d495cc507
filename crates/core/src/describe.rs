//! What TorchServe's management APIs answer, as protocol-free data both edges serialize:
//! the describe-model object (camelCase keys, as its clients parse them) built from the
//! model and its batcher's live stats, the model list with TorchServe's paging, and the
//! status sentences of register, scale, unregister and set-default. REST wraps a sentence
//! in `{"status": …}`; gRPC sends it as `ManagementResponse.msg`, as TorchServe does.

use serde::Serialize;

use crate::{Model, Registry, rfc3339};

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
    /// Why the model cannot serve (it kept killing the process it runs in); absent while
    /// it can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
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
    let failed = model.pipeline.batcher().failed();
    let workers = (0..stats.workers)
        .map(|i| WorkerView {
            id: format!("{}:{}#{i}", model.name(), model.version),
            start_time: start_time.clone(),
            status: if failed.is_some() {
                "UNHEALTHY"
            } else {
                "READY"
            },
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
        failed,
    }
}

/// TorchServe's health answer (`GET /ping`, gRPC `Ping`): healthy when every model has at
/// least its minimum of workers running and none is marked failed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    // Fields in the order REST's `json!` map has always written them (sorted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models_below_min_workers: Vec<String>,
    /// `name:version: why`, for models marked failed (they kept killing their process).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models_failed: Vec<String>,
    pub status: &'static str,
}

impl Health {
    /// The whole server's health, as the operator (or a single-tenant server) sees it.
    pub fn of(registry: &Registry) -> Health {
        Health::seen_by(registry, &crate::tenancy::Principal::Open)
    }

    /// The health `who` may see: a tenant's own models only (named as it names them), so
    /// one tenant's model below its minimum neither fails another's `/ping` nor shows its
    /// name; the operator sees every model.
    pub fn seen_by(registry: &Registry, who: &crate::tenancy::Principal) -> Health {
        let models: Vec<_> = match (who.is_admin(), who.tenant()) {
            (false, Some(t)) => registry.versions_of(Some(&t.name)),
            _ => registry.all().into_iter().map(|(m, _)| m).collect(),
        };
        let own = !who.is_admin();
        let label = |m: &Model| match own {
            true => format!("{}:{}", m.name(), m.version),
            false => format!("{}:{}", m.key, m.version),
        };
        let sick: Vec<String> = models
            .iter()
            .filter(|m| !m.has_min_workers())
            .map(|m| label(m))
            .collect();
        let failed: Vec<String> = models
            .iter()
            .filter_map(|m| Some(format!("{}: {}", label(m), m.failed()?)))
            .collect();
        let healthy = sick.is_empty() && failed.is_empty();
        Health {
            status: if healthy { "Healthy" } else { "Unhealthy" },
            models_below_min_workers: sick,
            models_failed: failed,
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.models_below_min_workers.is_empty() && self.models_failed.is_empty()
    }
}

/// One page of `GET /models` / `ListModels`: `{"models": [{"modelName", "modelUrl"}],
/// "nextPageToken"?}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelList {
    pub models: Vec<Listed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub model_name: String,
    pub model_url: String,
}

/// TorchServe's paging: 100 per page by default and at most (a limit outside 0..=100
/// means 100; 0 an empty page), starting at `start`, in `tenant`'s namespace.
pub fn list_models(
    registry: &Registry,
    tenant: Option<&str>,
    limit: Option<i64>,
    start: u64,
) -> ModelList {
    let limit = match limit {
        Some(n @ 0..=100) => n as usize,
        _ => 100,
    };
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let all = registry.defaults_of(tenant);
    let models = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| Listed {
            model_name: m.name().to_owned(),
            model_url: m.info.url.clone(),
        })
        .collect();
    let next_page_token =
        (start.saturating_add(limit) < all.len()).then(|| (start + limit).to_string());
    ModelList {
        models,
        next_page_token,
    }
}

/// The status sentences TorchServe's clients read.
pub mod sentences {
    use crate::Model;

    /// After a registration that started `workers` workers.
    pub fn registered(model: &Model, workers: usize) -> String {
        let (name, version) = (model.name(), &model.version);
        if workers == 0 {
            format!(
                "Model \"{name}\" Version: {version} registered with 0 initial workers. Use scale workers API to add workers for the model."
            )
        } else {
            format!("Model \"{name}\" Version: {version} registered with {workers} initial workers")
        }
    }

    /// TorchServe's answer to an asynchronous request.
    pub const PROCESSING: &str = "Processing worker updates...";

    pub fn scaled(model: &Model, min: usize, version: Option<&str>) -> String {
        match version {
            None => format!("Workers scaled to {min} for model: {}", model.name()),
            Some(v) => format!(
                "Workers scaled to {min} for model: {}, version: {v}",
                model.name()
            ),
        }
    }

    pub fn unregistered(model: &Model, version: Option<&str>) -> String {
        match version {
            None => format!("Model \"{}\" unregistered", model.name()),
            Some(_) => format!(
                "Model \"{}\" version: {} unregistered",
                model.name(),
                model.version
            ),
        }
    }

    pub fn default_set(name: &str, version: &str) -> String {
        format!("Default version successfully updated for model \"{name}\" to \"{version}\"")
    }
}
