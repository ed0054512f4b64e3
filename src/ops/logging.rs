//! The daemon's log: human-readable text by default, one JSON object per line with
//! `log_format = "json"`. Verbosity comes from `STAGEREPO_LOG` (default `info`).

use crate::config::LogFormat;

/// Installs the global subscriber writing to stderr (the journal, under systemd).
pub fn init(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("STAGEREPO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: not in files, pipes or the journal.
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}
