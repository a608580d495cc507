//! The metrics listener's one route: Prometheus text, the caller's series only (a
//! tenant's token sees its own models'; the admin and open mode see everything). Per-model
//! gauges are read from each batcher at scrape time.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use ferroserve_core::metrics::ModelState;
use ferroserve_core::{Metrics, Registry};

use crate::Caller;

pub fn router(metrics: Metrics, registry: Registry) -> Router {
    Router::new()
        .route("/metrics", axum::routing::any(render))
        .fallback(crate::inference::unknown_route)
        .with_state((metrics, registry))
}

/// `?name[]=A&name[]=B` selects families by name, as TorchServe's `/metrics` does.
async fn render(
    State((metrics, registry)): State<(Metrics, Registry)>,
    Caller(caller): Caller,
    Query(query): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    let names: Vec<String> = query
        .into_iter()
        .filter(|(k, _)| k == "name[]" || k == "name")
        .map(|(_, v)| v)
        .collect();
    for (model, _) in registry.all() {
        let stats = model.pipeline.batcher().stats();
        let state = ModelState {
            queued: stats.queued,
            workers: stats.workers,
            min_workers: stats.min_workers,
            handler_throttled: model.pipeline.handler().throttled_total(),
        };
        metrics.set_model_state(&model.key, &model.version, &state);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render_selected(caller.tenant().map(|t| t.name.as_str()), &names),
    )
}
