//! Prometheus metrics for the metrics listener, per model and version. TorchServe's names
//! where they pass `promtool check metrics`; where TorchServe's break Prometheus' rules
//! (counters without `_total`, microseconds, CamelCase) the same quantity under a
//! conforming name (docs/api.md has the mapping):
//!
//! | TorchServe | here |
//! |---|---|
//! | `ts_inference_requests_total` | same |
//! | `ts_inference_latency_microseconds` | `ts_inference_latency_seconds_total` |
//! | `ts_queue_latency_microseconds` | `ts_queue_latency_seconds_total` |
//! | `Requests2XX`/`4XX`/`5XX` | `ts_responses_total{class="2XX"…}` |
//!
//! plus latency histograms per stage
//! (`ferroserve_request_duration_seconds{stage=queue|handler|inference|total}`), batch sizes,
//! and gauges read from each batcher at scrape time. With `metrics_names = "torchserve"`,
//! TorchServe's own series as well (`torchserve.rs`), system metrics included (`system.rs`).

mod disk;
pub mod system;
mod torchserve;

use std::sync::Arc;
use std::time::Duration;

use torchserve::TorchServe;

use crate::ModelKey;
use crate::observe::{Observer, Outcome, Stage};
use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Latency buckets from 100 µs to 30 s: a tiny MLP lives at the low end, an image model
/// under load at the high end.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// The server's metric families. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    inference_s: CounterVec,
    queue_s: CounterVec,
    throttled_s: CounterVec,
    responses: IntCounterVec,
    stages: HistogramVec,
    batch_size: HistogramVec,
    gauges: [IntGaugeVec; 3],
    torchserve: Option<Arc<TorchServe>>,
    state_dir: Arc<disk::StateDir>,
}

/// Labels every per-model family carries.
const MODEL: &[&str] = &["model_name", "model_version"];

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// ferroserve's names only (promtool-clean).
    pub fn new() -> Metrics {
        Metrics::with_torchserve_series(false)
    }

    /// `true`: TorchServe's series too (`metrics_names = "torchserve"`).
    pub fn with_torchserve_series(torchserve: bool) -> Metrics {
        let registry = Registry::new();
        let seconds = |name: &str, help: &str| {
            let c = CounterVec::new(Opts::new(name, help), MODEL).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), MODEL).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let opts = HistogramOpts::new(name, help).buckets(buckets);
            let h = HistogramVec::new(opts, labels).expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let ts = torchserve.then(|| Arc::new(TorchServe::register(&registry)));
        // With TorchServe's series, TorchServe's labels (hostname too), so dashboards can
        // divide its latency counters by it.
        let requests = {
            let labels = if ts.is_some() {
                torchserve::MODEL
            } else {
                MODEL
            };
            let opts = Opts::new(
                "ts_inference_requests_total",
                "Inference requests received, per model.",
            );
            let c = IntCounterVec::new(opts, labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        Metrics {
            requests,
            inference_s: seconds(
                "ts_inference_latency_seconds_total",
                "Cumulative time from a request reaching the model to its response (TorchServe's ts_inference_latency_microseconds, in seconds).",
            ),
            queue_s: seconds(
                "ts_queue_latency_seconds_total",
                "Cumulative time requests waited in the model's queue (TorchServe's ts_queue_latency_microseconds, in seconds).",
            ),
            throttled_s: seconds(
                "ferroserve_handler_throttled_seconds_total",
                "Cumulative time the model's handler calls past 10 ms waited or rested because other tenants were busy (CPU fair share).",
            ),
            responses: {
                let opts = Opts::new(
                    "ts_responses_total",
                    "Inference responses by status class (TorchServe's Requests2XX/4XX/5XX).",
                );
                let c = IntCounterVec::new(opts, &["model_name", "model_version", "class"])
                    .expect("valid metric");
                registry
                    .register(Box::new(c.clone()))
                    .expect("unique metric");
                c
            },
            stages: histogram(
                "ferroserve_request_duration_seconds",
                "Request latency by stage: queue, handler (each sandboxed preprocess or postprocess call), inference (the batch's forward), total.",
                &["model_name", "model_version", "stage"],
                BUCKETS.to_vec(),
            ),
            batch_size: histogram(
                "ferroserve_batch_size",
                "Requests per batch, observed once per request (so weighted by requests).",
                MODEL,
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
            ),
            gauges: [
                gauge("ferroserve_queue_depth", "Requests waiting for a batch."),
                gauge("ferroserve_workers", "Model worker threads running."),
                gauge(
                    "ferroserve_workers_min",
                    "The model's minimum worker count.",
                ),
            ],
            torchserve: ts,
            state_dir: Arc::new(disk::StateDir::register(&registry)),
            registry,
        }
    }

    /// Report `<dir>`'s usage (`ferroserve_state_dir_bytes`) at every full scrape.
    pub fn watch_state_dir(&self, dir: std::path::PathBuf) {
        self.state_dir.watch(dir);
    }

    /// One response on any API, by outcome (TorchServe's host-level `Requests2XX/4XX/5XX`,
    /// which count everything, unknown routes and refusals included).
    pub fn count_response(&self, outcome: Outcome) {
        if let Some(ts) = &self.torchserve {
            ts.response(outcome);
        }
    }

    fn request_labels<'a>(&'a self, name: &'a str, version: &'a str) -> Vec<&'a str> {
        match &self.torchserve {
            Some(ts) => vec![name, version, ts.hostname.as_str()],
            None => vec![name, version],
        }
    }

    /// Handles pre-labelled for one model version, so the request path does no lookups.
    pub fn model(&self, key: &ModelKey, version: &str) -> ModelMetrics {
        let name = &*key.to_string();
        let labels = [name, version];
        let stage = |s: Stage| self.stages.with_label_values(&[name, version, s.label()]);
        ModelMetrics {
            requests: self
                .requests
                .with_label_values(&self.request_labels(name, version)),
            inference_s: self.inference_s.with_label_values(&labels),
            queue_s: self.queue_s.with_label_values(&labels),
            by_class: ["2XX", "4XX", "5XX"]
                .map(|c| self.responses.with_label_values(&[name, version, c])),
            stages: Stage::ALL.map(stage),
            batch_size: self.batch_size.with_label_values(&labels),
            torchserve: self.torchserve.as_ref().map(|ts| {
                let labels = [name, version, ts.hostname.as_str()];
                [
                    ts.queue_us.with_label_values(&labels),
                    ts.latency_us.with_label_values(&labels),
                ]
            }),
        }
    }

    /// Drops an unregistered model's series.
    pub fn forget(&self, key: &ModelKey, version: &str) {
        let name = &*key.to_string();
        let labels = [name, version];
        let _ = self
            .requests
            .remove_label_values(&self.request_labels(name, version));
        for family in [&self.inference_s, &self.queue_s, &self.throttled_s] {
            let _ = family.remove_label_values(&labels);
        }
        for class in ["2XX", "4XX", "5XX"] {
            let _ = self.responses.remove_label_values(&[name, version, class]);
        }
        for family in &self.gauges {
            let _ = family.remove_label_values(&labels);
        }
        let _ = self.batch_size.remove_label_values(&labels);
        for s in Stage::ALL {
            let _ = self.stages.remove_label_values(&[name, version, s.label()]);
        }
        if let Some(ts) = &self.torchserve {
            let labels = [name, version, ts.hostname.as_str()];
            let _ = ts.latency_us.remove_label_values(&labels);
            let _ = ts.queue_us.remove_label_values(&labels);
        }
    }

    /// Sets the per-model values read at scrape time.
    pub fn set_model_state(&self, key: &ModelKey, version: &str, state: &ModelState) {
        let name = &*key.to_string();
        let labels = [name, version];
        let gauges = [state.queued, state.workers, state.min_workers];
        for (gauge, value) in self.gauges.iter().zip(gauges) {
            gauge.with_label_values(&labels).set(value as i64);
        }
        // The sandbox keeps the running total; the counter catches up to it. A scrape racing
        // another could add a delta twice, so the lock.
        static CATCH_UP: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = CATCH_UP.lock().unwrap_or_else(|e| e.into_inner());
        let counter = self.throttled_s.with_label_values(&labels);
        let behind = state.handler_throttled.as_secs_f64() - counter.get();
        if behind > 0.0 {
            counter.inc_by(behind);
        }
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        self.render_for(None)
    }

    /// Only `tenant`'s models' series (their `model_name` is `tenant/name`); everything
    /// when `None`.
    pub fn render_for(&self, tenant: Option<&str>) -> String {
        self.render_selected(tenant, &[])
    }

    /// [`render_for`](Self::render_for), only the families named in `names` (all when
    /// empty): TorchServe's `/metrics?name[]=…`.
    pub fn render_selected(&self, tenant: Option<&str>, names: &[String]) -> String {
        if let Some(ts) = &self.torchserve
            && tenant.is_none()
        {
            ts.refresh();
        }
        if tenant.is_none() {
            self.state_dir.refresh();
        }
        let mut families = self.registry.gather();
        if !names.is_empty() {
            families.retain(|f| names.iter().any(|n| n == f.name()));
        }
        if let Some(tenant) = tenant {
            let prefix = format!("{tenant}/");
            for family in &mut families {
                let kept: Vec<_> = family
                    .get_metric()
                    .iter()
                    .filter(|m| {
                        m.get_label()
                            .iter()
                            .any(|l| l.name() == "model_name" && l.value().starts_with(&prefix))
                    })
                    .cloned()
                    .collect();
                family.mut_metric().clear();
                family.mut_metric().extend(kept);
            }
            families.retain(|f| !f.get_metric().is_empty());
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .expect("text encoding to a Vec");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// A model's values read at scrape time.
pub struct ModelState {
    pub queued: usize,
    pub workers: usize,
    pub min_workers: usize,
    /// The handler's running total (`Handler::throttled_total`).
    pub handler_throttled: Duration,
}

/// One model version's metric handles.
#[derive(Clone)]
pub struct ModelMetrics {
    requests: prometheus::IntCounter,
    inference_s: prometheus::Counter,
    queue_s: prometheus::Counter,
    by_class: [prometheus::IntCounter; 3],
    stages: [prometheus::Histogram; 4],
    batch_size: prometheus::Histogram,
    /// TorchServe's queue and inference latency, in microseconds.
    torchserve: Option<[prometheus::Counter; 2]>,
}

impl Observer for ModelMetrics {
    fn stage(&self, stage: Stage, took: Duration) {
        let i = match stage {
            Stage::Queue => 0,
            Stage::Handler => 1,
            Stage::Inference => 2,
            Stage::Total => 3,
        };
        self.stages[i].observe(took.as_secs_f64());
        let micros = took.as_secs_f64() * 1e6;
        match stage {
            Stage::Queue => {
                self.queue_s.inc_by(took.as_secs_f64());
                if let Some([queue, _]) = &self.torchserve {
                    queue.inc_by(micros);
                }
            }
            Stage::Total => {
                self.inference_s.inc_by(took.as_secs_f64());
                if let Some([_, latency]) = &self.torchserve {
                    latency.inc_by(micros);
                }
            }
            Stage::Handler | Stage::Inference => {}
        }
    }

    fn batch(&self, size: usize) {
        self.batch_size.observe(size as f64);
    }

    /// TorchServe's Requests2XX/4XX/5XX, by outcome class.
    fn finished(&self, outcome: Outcome) {
        self.requests.inc();
        match outcome {
            Outcome::Ok => self.by_class[0].inc(),
            Outcome::ClientError => self.by_class[1].inc(),
            Outcome::ServerError => self.by_class[2].inc(),
            Outcome::Other => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_per_model_series_and_forgets_them() {
        let metrics = Metrics::new();
        let key = ModelKey::shared("mlp");
        let m = metrics.model(&key, "1.0");
        m.stage(Stage::Queue, Duration::from_micros(1500));
        m.stage(Stage::Total, Duration::from_millis(3));
        m.finished(Outcome::Ok);
        m.finished(Outcome::ServerError);
        let text = metrics.render();
        assert!(
            text.contains(r#"ts_inference_requests_total{model_name="mlp",model_version="1.0"} 2"#),
            "{text}"
        );
        assert!(text.contains(
            r#"ts_queue_latency_seconds_total{model_name="mlp",model_version="1.0"} 0.0015"#
        ));
        assert!(
            text.contains(
                r#"ts_responses_total{class="5XX",model_name="mlp",model_version="1.0"} 1"#
            )
        );
        assert!(text.contains(
            r#"ferroserve_request_duration_seconds_bucket{model_name="mlp",model_version="1.0",stage="total",le="0.005"} 1"#
        ));
        metrics.forget(&key, "1.0");
        assert!(!metrics.render().contains(r#"model_name="mlp""#));
    }
}

#[cfg(test)]
mod torchserve_tests {
    use super::*;

    #[test]
    fn torchserve_series_when_asked_and_never_otherwise() {
        let plain = Metrics::new();
        plain.count_response(Outcome::Ok);
        let text = plain.render();
        assert!(!text.contains("Requests2XX") && !text.contains("CPUUtilization"));

        let metrics = Metrics::with_torchserve_series(true);
        let key = ModelKey::shared("mlp");
        let m = metrics.model(&key, "1.0");
        m.stage(Stage::Queue, Duration::from_micros(250));
        m.stage(Stage::Total, Duration::from_micros(1500));
        metrics.count_response(Outcome::Ok);
        metrics.count_response(Outcome::ClientError);
        metrics.count_response(Outcome::Other);
        let text = metrics.render();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let host = host.trim();
        for line in [
            format!(r#"Requests2XX{{Hostname="{host}",Level="Host"}} 1"#),
            format!(r#"Requests4XX{{Hostname="{host}",Level="Host"}} 1"#),
            format!(r#"Requests5XX{{Hostname="{host}",Level="Host"}} 1"#),
            format!(
                r#"ts_queue_latency_microseconds{{hostname="{host}",model_name="mlp",model_version="1.0"}} 250"#
            ),
            format!(
                r#"ts_inference_latency_microseconds{{hostname="{host}",model_name="mlp",model_version="1.0"}} 1500"#
            ),
            "# TYPE CPUUtilization gauge".to_string(),
            "# HELP DiskUsage Torchserve prometheus gauge metric with unit: Gigabytes".to_string(),
        ] {
            assert!(text.contains(&line), "{line} missing from:\n{text}");
        }
        // A tenant sees its own models' series only: no host-level ones.
        assert!(!metrics.render_for(Some("acme")).contains("Requests2XX"));
        metrics.forget(&key, "1.0");
        assert!(!metrics.render().contains("ts_queue_latency_microseconds{"));
    }
}
