//! Process-wide logging: JSON lines (the access log and every event, with the request id
//! of the span they happened in) or human-readable text, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

pub fn init_default() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn init(format: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        "json" => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        "text" => builder.try_init(),
        other => anyhow::bail!("log_format {other:?}: use json or text"),
    };
    result.map_err(|e| anyhow::anyhow!("logging: {e}"))
}
