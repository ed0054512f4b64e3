//! The daemon's log: human-readable text by default, one JSON object per line with
//! `log_format = "json"`. Verbosity comes from `STAGEREPO_LOG` (default `info`).
//!
//! Access log lines (target `stagerepo::access`, one per request) go through a buffer that a
//! background thread writes out at least every [`FLUSH_EVERY`]: a request never waits for a
//! write to stderr (a pipe to the journal may be slow, and a write per request is a syscall
//! per request). Every other line is written at once, after the buffered lines, so the log
//! keeps its order and an error is never held back.

use std::io::Write;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Longest time an access log line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A buffer this full is written out at once.
const HIGH_WATER: usize = 64 * 1024;
/// The target of access log lines.
const ACCESS_TARGET: &str = "stagerepo::access";

struct Buffer {
    lines: Mutex<Vec<u8>>,
    full: Condvar,
}

static BUFFER: OnceLock<Buffer> = OnceLock::new();

fn buffer() -> &'static Buffer {
    BUFFER.get_or_init(|| {
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(flush_loop)
            .expect("starting the log writer thread");
        Buffer {
            lines: Mutex::new(Vec::with_capacity(HIGH_WATER)),
            full: Condvar::new(),
        }
    })
}

fn flush_loop() {
    let mut out = Vec::with_capacity(HIGH_WATER);
    loop {
        {
            let buf = buffer();
            let lines = buf.lines.lock().unwrap_or_else(|p| p.into_inner());
            let (mut lines, _) = buf
                .full
                .wait_timeout_while(lines, FLUSH_EVERY, |l| l.len() < HIGH_WATER)
                .unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut *lines, &mut out);
        }
        if !out.is_empty() {
            let _ = std::io::stderr().lock().write_all(&out);
            out.clear();
        }
    }
}

/// Writes out the buffered access log lines now (before exiting, and before other lines).
pub fn flush() {
    if let Some(buf) = BUFFER.get() {
        let mut lines = buf.lines.lock().unwrap_or_else(|p| p.into_inner());
        if !lines.is_empty() {
            let _ = std::io::stderr().lock().write_all(&lines);
            lines.clear();
        }
    }
}

/// Chooses, per event, the buffer (access lines) or stderr (everything else).
struct Writers;

/// Where one event's formatted line goes.
enum LineWriter {
    Buffered,
    Direct,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self {
            LineWriter::Buffered => {
                let buf = buffer();
                let mut lines = buf.lines.lock().unwrap_or_else(|p| p.into_inner());
                lines.extend_from_slice(data);
                if lines.len() >= HIGH_WATER {
                    buf.full.notify_one();
                }
                Ok(data.len())
            }
            LineWriter::Direct => {
                // Under the buffer's lock, so that no access line slips in between.
                let guard = BUFFER.get().map(|b| b.lines.lock().unwrap_or_else(|p| p.into_inner()));
                let mut err = std::io::stderr().lock();
                if let Some(mut lines) = guard {
                    if !lines.is_empty() {
                        err.write_all(&lines)?;
                        lines.clear();
                    }
                    err.write_all(data)?;
                } else {
                    err.write_all(data)?;
                }
                Ok(data.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Writers {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter::Direct
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LineWriter {
        if meta.target() == ACCESS_TARGET {
            LineWriter::Buffered
        } else {
            LineWriter::Direct
        }
    }
}

/// Installs the global subscriber writing to stderr (the journal, under systemd).
pub fn init(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("STAGEREPO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Writers)
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
