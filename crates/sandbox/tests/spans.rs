//! A handler call runs on a sandbox thread inside the caller's span, so what the call logs
//! (the `log` import, captured stdout/stderr, its failure) carries the request's id.
//!
//! Sandbox threads are other OS threads, so the recording subscriber is this binary's global
//! default (a thread-local one would not see them). Tests run in parallel and share it: each
//! only looks at lines carrying its own request ids, or its own model name.

mod common;

use std::fmt::Debug;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use common::*;
use ferroserve_sandbox::{Sandbox, SandboxConfig};
use ferroserve_test_fixtures as fx;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Instrument, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One event: its target and fields, and the `request_id` of the nearest enclosing span
/// that has one.
#[derive(Debug, Clone)]
struct Line {
    target: String,
    fields: Fields,
    request_id: Option<String>,
}

impl Line {
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
        let target = event.metadata().target().to_owned();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Line {
                target,
                fields,
                request_id,
            });
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

fn lines_where(keep: impl Fn(&Line) -> bool) -> Vec<Line> {
    all_lines().into_iter().filter(|l| keep(l)).collect()
}

fn span(id: &str) -> tracing::Span {
    tracing::info_span!("request", request_id = id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_log_line_lands_in_the_request_span_and_not_in_the_next_call() {
    recorded();
    // One thread, so the second call runs where the first did.
    let sandbox = Sandbox::new(SandboxConfig {
        threads: 1,
        ..config(None)
    })
    .unwrap();
    let handler = load(&sandbox, fx::OK, None, limits());
    handler
        .preprocess(body("[1.0, 2.0, 3.0]"))
        .instrument(span("sbx-log"))
        .await
        .unwrap();
    let logged = lines_where(|l| {
        l.target == "handler"
            && l.has("message", "preprocess 3 values")
            && l.has("model", "fixture_ok")
    });
    assert_eq!(logged.len(), 1, "{:?}", all_lines());
    assert_eq!(logged[0].request_id.as_deref(), Some("sbx-log"));
    // A call outside any span: the thread has left the first request's span.
    handler.preprocess(body("[1, 2, 3, 4, 5]")).await.unwrap();
    let logged = lines_where(|l| l.target == "handler" && l.has("message", "preprocess 5 values"));
    assert_eq!(logged.len(), 1, "{:?}", all_lines());
    assert_eq!(logged[0].request_id, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handlers_stderr_and_failure_land_in_the_request_span() {
    recorded();
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::PANIC, None, limits());
    let err = handler
        .preprocess(body("{}"))
        .instrument(span("sbx-panic"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "HandlerPanicked");
    let ours = lines_where(|l| l.request_id.as_deref() == Some("sbx-panic"));
    let stderr = ours
        .iter()
        .find(|l| l.target == "handler" && l.has("stream", "stderr"));
    let stderr = stderr.unwrap_or_else(|| panic!("no stderr line in the span: {ours:?}"));
    assert!(
        stderr
            .fields
            .0
            .iter()
            .any(|(n, v)| n == "message" && v.contains("fixture panicked on purpose")),
        "{stderr:?}"
    );
    assert!(
        ours.iter().any(|l| l.has("kind", "HandlerPanicked")),
        "no failure line in the span: {ours:?}"
    );
}
