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
/// The format chosen at [`init`]: text access lines are formatted here, not by `tracing`.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

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
    let _ = FORMAT.set(format);
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

/// One access log line's fields.
pub struct AccessLine<'a> {
    pub client: Option<&'a dyn std::fmt::Display>,
    pub method: &'a str,
    pub path: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub bytes: u64,
    pub micros: u128,
    pub actor: Option<&'a str>,
}

/// Whether [`write_access_line`] takes the line (text format, access lines enabled); else the
/// caller emits a `tracing` event.
pub fn access_lines_direct() -> bool {
    matches!(FORMAT.get(), Some(LogFormat::Text))
        && tracing::enabled!(target: "stagerepo::access", tracing::Level::INFO)
}

/// Appends the line `tracing`'s text format would write for the access event, to the access
/// buffer. Why by hand: the generic formatter (field visitors, `Debug` of every value, the
/// timestamp) cost about a tenth of the CPU of serving a small file.
pub fn write_access_line(line: &AccessLine<'_>) {
    use std::fmt::Write as _;
    thread_local! {
        static SCRATCH: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(256));
        /// The formatted second of the last line: the date changes once a second.
        static SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    SCRATCH.with(|scratch| {
        let mut out = scratch.borrow_mut();
        out.clear();
        let now = chrono::Utc::now();
        SECOND.with(|second| {
            let mut second = second.borrow_mut();
            if second.0 != now.timestamp() {
                second.0 = now.timestamp();
                second.1 = now.format("%Y-%m-%dT%H:%M:%S").to_string();
            }
            out.push_str(&second.1);
        });
        let _ = write!(out, ".{:06}Z", now.timestamp_subsec_micros().min(999_999));
        out.push_str("  INFO stagerepo::access: request client=");
        match line.client {
            Some(c) => {
                let _ = write!(out, "{c}");
            }
            None => out.push('-'),
        }
        out.push_str(" method=");
        out.push_str(line.method);
        out.push_str(" path=");
        quoted(&mut out, line.path);
        out.push_str(" route=");
        quoted(&mut out, line.route);
        let mut num = itoa::Buffer::new();
        out.push_str(" status=");
        out.push_str(num.format(line.status));
        out.push_str(" bytes=");
        out.push_str(num.format(line.bytes));
        // Milliseconds with three decimals, as the event's f64 printed for the usual values.
        let _ = write!(out, " ms={:?}", line.micros as f64 / 1000.0);
        out.push_str(" actor=");
        out.push_str(line.actor.unwrap_or("-"));
        out.push('\n');
        let _ = LineWriter::Buffered.write(out.as_bytes());
    });
}

/// A string as `Debug` prints it, without its machinery for the common case.
fn quoted(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    if s.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ')
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        let _ = write!(out, "{s:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quoting_matches_debug() {
        for s in ["/repo/el9/beta/x.rpm", "a\"b", "tab\there", "é", ""] {
            let mut out = String::new();
            quoted(&mut out, s);
            assert_eq!(out, format!("{s:?}"));
        }
    }
}
