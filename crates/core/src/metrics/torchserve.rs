//! TorchServe's own series, for dashboards built on them (`metrics_names = "torchserve"`):
//! host-level `Requests2XX`/`4XX`/`5XX{Level="Host",Hostname}`, per-model
//! `ts_inference_latency_microseconds` and `ts_queue_latency_microseconds`
//! `{model_name,model_version,hostname}` (counters without `_total`, as TorchServe emits
//! them), and the system gauges of TorchServe's `metrics.yaml`. They break promtool's
//! naming lints, hence the switch; ferroserve's own names stay beside them.

use prometheus::{CounterVec, GaugeVec, Opts, Registry};

use super::system::Probe;
use crate::observe::Outcome;

/// TorchServe's help text, so a dashboard's tooltips read the same.
fn help(kind: &str, unit: &str) -> String {
    format!("Torchserve prometheus {kind} metric with unit: {unit}")
}

pub(super) struct TorchServe {
    pub hostname: String,
    pub latency_us: CounterVec,
    pub queue_us: CounterVec,
    requests: [prometheus::Counter; 3],
    system: [prometheus::Gauge; 7],
    probe: Probe,
}

pub(super) const MODEL: &[&str] = &["model_name", "model_version", "hostname"];

impl TorchServe {
    pub fn register(registry: &Registry) -> TorchServe {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        let host = ["Host", hostname.as_str()];
        let counter = |name: &str| {
            let c = CounterVec::new(Opts::new(name, help("counter", "Microseconds")), MODEL)
                .expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let requests = ["Requests2XX", "Requests4XX", "Requests5XX"].map(|name| {
            let c = CounterVec::new(
                Opts::new(name, help("counter", "Count")),
                &["Level", "Hostname"],
            )
            .expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c.with_label_values(&host)
        });
        let system = [
            ("CPUUtilization", "Percent"),
            ("MemoryUsed", "Megabytes"),
            ("MemoryAvailable", "Megabytes"),
            ("MemoryUtilization", "Percent"),
            ("DiskUsage", "Gigabytes"),
            ("DiskAvailable", "Gigabytes"),
            ("DiskUtilization", "Percent"),
        ]
        .map(|(name, unit)| {
            let g = GaugeVec::new(Opts::new(name, help("gauge", unit)), &["Level", "Hostname"])
                .expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g.with_label_values(&host)
        });
        TorchServe {
            latency_us: counter("ts_inference_latency_microseconds"),
            queue_us: counter("ts_queue_latency_microseconds"),
            requests,
            system,
            probe: Probe::default(),
            hostname,
        }
    }

    /// One response on any listener, by class (TorchServe counts every status that is
    /// neither 2xx nor 4xx as 5XX).
    pub fn response(&self, outcome: Outcome) {
        let i = match outcome {
            Outcome::Ok => 0,
            Outcome::ClientError => 1,
            Outcome::ServerError | Outcome::Other => 2,
        };
        self.requests[i].inc();
    }

    /// The system gauges, read now.
    pub fn refresh(&self) {
        let r = self.probe.read();
        let values = [
            r.cpu_percent,
            r.memory_used_mb,
            r.memory_available_mb,
            r.memory_percent,
            r.disk_used_gb,
            r.disk_available_gb,
            r.disk_percent,
        ];
        for (gauge, v) in self.system.iter().zip(values) {
            gauge.set(v);
        }
    }
}
