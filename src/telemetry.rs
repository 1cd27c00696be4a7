//! Logging: `tracing` to stderr (stdout is kept for what commands print for scripts), filtered
//! by `RUST_LOG`; and the Prometheus metrics (`metrics`).

pub mod metrics;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `default_filter` applies when `RUST_LOG` is unset or empty. A
/// `RUST_LOG` that does not parse is refused (with the one-line message to print) rather than
/// silently ignored. Calling it twice (as tests may) keeps the first subscriber.
pub fn init(default_filter: &str) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(value.trim())
            .map_err(|e| format!("RUST_LOG: '{value}' is not a log filter: {e}"))?,
        _ => EnvFilter::new(default_filter),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal; plain text for a log collector.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
    Ok(())
}
