//! One request, one span: the request id the HTTP layer gives a request reaches the log
//! lines written for it on other threads, a handler's own `log` line (on a sandbox thread)
//! and a failed batch's warning (on a model worker thread). A capturing subscriber records
//! each event with the `request_id` of the spans around it.

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::Request;
use common::app::TestApp;
use tower::ServiceExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone)]
struct Seen {
    target: String,
    message: String,
    request_id: Option<String>,
}

#[derive(Default)]
struct Fields {
    request_id: Option<String>,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Fields {
    fn record(&mut self, field: &Field, value: String) {
        match field.name() {
            "request_id" => self.request_id = Some(value),
            "message" => self.message = value,
            _ => {}
        }
    }
}

struct Capture(Arc<Mutex<Vec<Seen>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields.request_id);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let request_id = ctx.event_scope(event).and_then(|scope| {
            scope
                .filter_map(|span| span.extensions().get::<Option<String>>().cloned().flatten())
                .next()
        });
        self.0.lock().unwrap().push(Seen {
            target: event.metadata().target().to_owned(),
            message: fields.message,
            request_id,
        });
    }
}

/// Installed once for this test binary: events on every thread are seen.
fn captured() -> Arc<Mutex<Vec<Seen>>> {
    static SEEN: OnceLock<Arc<Mutex<Vec<Seen>>>> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(seen.clone()));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        seen
    })
    .clone()
}

async fn predict(t: &TestApp, id: &str, body: &'static str) -> u16 {
    let request = Request::post("/predictions/echo")
        .header("content-type", "application/json")
        .header("x-request-id", id)
        .body(Body::from(body))
        .unwrap();
    let response = t.app.inference.clone().oneshot(request).await.unwrap();
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_on_other_threads_carry_the_request_id() {
    let seen = captured();
    let t = TestApp::open();
    t.register(None, "echo.mar", "").await.ok();
    assert_eq!(predict(&t, "req-handler-log", "[1, 2]").await, 200);
    // The fake model raises on a negative input: the batch fails on a worker thread.
    assert_eq!(predict(&t, "req-failed-batch", "[-1]").await, 500);
    let seen = seen.lock().unwrap().clone();
    let handler_line = seen
        .iter()
        .find(|s| s.target == "handler" && s.message.contains("preprocess 2 values"))
        .unwrap_or_else(|| panic!("no handler log line in {seen:#?}"));
    assert_eq!(handler_line.request_id.as_deref(), Some("req-handler-log"));
    let failed = seen
        .iter()
        .find(|s| s.message.contains("batch failed"))
        .unwrap_or_else(|| panic!("no failed-batch warning in {seen:#?}"));
    assert_eq!(failed.request_id.as_deref(), Some("req-failed-batch"));
}
