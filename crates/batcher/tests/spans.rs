//! A request's span follows it onto the worker thread: when its batch fails, the log line is
//! emitted inside the span `submit` was called in, so it carries the request's id.
//!
//! Workers are other OS threads, so the recording subscriber is this binary's global default
//! (a thread-local one would not see them). Tests run in parallel and share it: each only
//! looks at lines carrying its own request ids.

mod common;

use std::fmt::Debug;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use common::*;
use ferroserve_batcher::{BatchError, Batcher, BatcherConfig};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Instrument, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One event: its fields, and the `request_id` of the nearest enclosing span that has one.
#[derive(Debug, Clone)]
struct Line {
    fields: Fields,
    request_id: Option<String>,
}

impl Line {
    /// Fields may repeat (`message` does, in the panic line), so this asks for any match.
    fn has(&self, name: &str, value: &str) -> bool {
        self.fields.0.iter().any(|(n, v)| n == name && v == value)
    }
}

/// Field names and values, as text; kept in a span's extensions, and for each event.
#[derive(Debug, Clone, Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// Records every event. A failed assertion poisons its lock; later events must not panic too
/// (on a worker thread, that would abort the test binary and hide the assertion).
struct Recorder(Arc<Mutex<Vec<Line>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let request_id = ctx.event_scope(event).and_then(|scope| {
            scope.into_iter().find_map(|span| {
                let ext = span.extensions();
                let fields = ext.get::<Fields>()?;
                let (_, id) = fields.0.iter().find(|(n, _)| n == "request_id")?;
                Some(id.clone())
            })
        });
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Line { fields, request_id });
    }
}

/// Installs the recorder on first use; call before making any span.
fn recorded() -> &'static Mutex<Vec<Line>> {
    static LINES: OnceLock<Arc<Mutex<Vec<Line>>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Recorder(lines.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        lines
    })
}

/// Everything recorded so far (a copy: no lock is held while an assertion fails).
fn all_lines() -> Vec<Line> {
    recorded()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The lines with `message` emitted inside the span of request `id`.
fn lines_of(id: &str, message: &str) -> Vec<Line> {
    all_lines()
        .into_iter()
        .filter(|l| l.request_id.as_deref() == Some(id) && l.has("message", message))
        .collect()
}

/// `submit` inside a `request{request_id}` span, as the HTTP layer does.
async fn submit_as(
    batcher: &Batcher,
    id: &str,
    v: f32,
) -> Result<Vec<ferroserve_tensor::Tensor>, BatchError> {
    let span = tracing::info_span!("request", request_id = id);
    batcher
        .submit(request(v, &[2]), later())
        .instrument(span)
        .await
}

#[tokio::test]
async fn a_failed_batch_is_logged_inside_the_request_span() {
    recorded();
    let batcher = Batcher::spawn(BatcherConfig::new("spans/fail"), Fake::new()).unwrap();
    let err = submit_as(&batcher, "req-fail", POISON_ERROR)
        .await
        .unwrap_err();
    assert!(matches!(err, BatchError::Run(_)), "{err}");
    let lines = lines_of("req-fail", "batch failed");
    assert_eq!(lines.len(), 1, "{:?}", all_lines());
    let line = &lines[0];
    assert!(
        line.has("model", "spans/fail") && line.has("batch", "1"),
        "{line:?}"
    );
    assert!(line.has("error", &err.to_string()), "{line:?}");
    batcher.shutdown().await;
}

#[tokio::test]
async fn a_runner_panic_is_logged_inside_the_request_span() {
    recorded();
    let batcher = Batcher::spawn(BatcherConfig::new("spans/panic"), Fake::new()).unwrap();
    let err = submit_as(&batcher, "req-panic", POISON_PANIC)
        .await
        .unwrap_err();
    assert!(matches!(err, BatchError::WorkerPanicked(_)), "{err}");
    let lines = lines_of("req-panic", "model runner panicked");
    assert_eq!(lines.len(), 1, "{:?}", all_lines());
    let line = &lines[0];
    assert!(
        line.has("model", "spans/panic") && line.has("batch", "1"),
        "{line:?}"
    );
    assert!(
        line.has("message", "boom: the fake model fell over"),
        "{line:?}"
    );
    batcher.shutdown().await;
}

#[tokio::test]
async fn a_failed_batch_of_two_logs_both_request_ids() {
    recorded();
    // Both requests wait for each other (the batch is full at two), then fail together.
    let config = BatcherConfig::new("spans/two")
        .batch_size(2)
        .max_batch_delay(Duration::from_secs(30));
    let fake = Fake::new();
    let batcher = Batcher::spawn(config, fake.clone()).unwrap();
    let (a, b) = tokio::join!(
        submit_as(&batcher, "req-two-a", 1.0),
        submit_as(&batcher, "req-two-b", POISON_ERROR),
    );
    assert!(matches!(a, Err(BatchError::Run(_))) && matches!(b, Err(BatchError::Run(_))));
    assert_eq!(fake.sizes(), vec![2]);
    for id in ["req-two-a", "req-two-b"] {
        let lines = lines_of(id, "batch failed");
        assert_eq!(lines.len(), 1, "{id}: {:?}", all_lines());
        assert!(lines[0].has("model", "spans/two") && lines[0].has("batch", "2"));
    }
    batcher.shutdown().await;
}
