//! A recording subscriber for tests that follow a request's span onto other threads (the
//! sandbox's, the batcher's workers): every event with its target, its fields and the
//! `request_id` of the nearest enclosing span that has one.
//!
//! Work runs on other OS threads, so the recorder is the test binary's global default (a
//! thread-local one would not see them). Tests of one binary share it: each should look only
//! at lines carrying its own request ids or model names.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One event.
#[derive(Debug, Clone)]
pub struct Line {
    pub target: String,
    pub fields: Fields,
    pub request_id: Option<String>,
}

impl Line {
    /// Fields may repeat (`message` does, in the batcher's panic line): any match counts.
    pub fn has(&self, name: &str, value: &str) -> bool {
        self.fields.0.iter().any(|(n, v)| n == name && v == value)
    }

    /// Whether some `message` field contains `text`.
    pub fn says(&self, text: &str) -> bool {
        self.fields
            .0
            .iter()
            .any(|(n, v)| n == "message" && v.contains(text))
    }
}

/// Field names and values, as text; kept in a span's extensions, and for each event.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

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
pub fn record() {
    recorded();
}

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
pub fn all_lines() -> Vec<Line> {
    recorded()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

pub fn lines_where(keep: impl Fn(&Line) -> bool) -> Vec<Line> {
    all_lines().into_iter().filter(|l| keep(l)).collect()
}
