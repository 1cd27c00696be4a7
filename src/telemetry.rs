//! Logging: `tracing` to stderr (stdout is kept for what commands print for scripts), filtered
//! by `RUST_LOG`, as text or as JSON lines (`LOG_FORMAT`); and the Prometheus metrics (`metrics`).

pub mod metrics;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `default_filter` applies when `RUST_LOG` is unset or empty. A
/// `RUST_LOG` or `LOG_FORMAT` that does not parse is refused (with the one-line message to print)
/// rather than silently ignored. Calling it twice (as tests may) keeps the first subscriber.
///
/// `LOG_FORMAT=json` writes one JSON object per line: the event's fields at the top level
/// (`tracking_id` among them where there is one), and the fields of the span it happened in under
/// `span` (for a request: `method`, `path` (the route template) and `request_id`). Unset or
/// `text`: human-readable lines.
pub fn init(default_filter: &str) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(value.trim())
            .map_err(|e| format!("RUST_LOG: '{value}' is not a log filter: {e}"))?,
        _ => EnvFilter::new(default_filter),
    };
    let json = match std::env::var("LOG_FORMAT") {
        Ok(value) => match value.trim() {
            "" | "text" => false,
            "json" => true,
            _ => return Err(format!("LOG_FORMAT: '{value}' is neither text nor json")),
        },
        Err(_) => false,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .try_init()
    } else {
        builder
            // Colours for a person at a terminal; plain text for a log collector.
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init()
    };
    Ok(())
}
