//! The background scrub (`scrub_interval`): every interval, one thread re-reads every stored
//! package and repodata file, like `stagerepo admin verify`, and marks what it finds corrupt.
//!
//! It runs on its own OS thread rather than on the async runtime, because it reads the whole
//! store with blocking I/O for minutes; and at low priority, so that serving and uploads win
//! the disk: the thread asks for the idle I/O class (`ioprio_set(IOPRIO_WHO_PROCESS, 0,
//! IOPRIO_CLASS_IDLE)`, which on Linux applies to the calling thread) and nice 19
//! (`setpriority` on its thread id). Those calls need `unsafe`, which this library forbids,
//! so the binary installs them with [`set_priority_hook`]; without the hook the scrub runs at
//! normal priority.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::service::App;

static PRIORITY_HOOK: OnceLock<fn() -> Result<(), String>> = OnceLock::new();

/// Installs the function that lowers the calling thread's CPU and I/O priority.
pub fn set_priority_hook(hook: fn() -> Result<(), String>) {
    let _ = PRIORITY_HOOK.set(hook);
}

/// Starts the scrub thread: the first run one `interval` after start, then every `interval`
/// after the previous run ended. It ends soon after `stop` turns true.
pub fn spawn(app: Arc<App>, interval: Duration, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("scrub".into()).spawn(move || {
        match PRIORITY_HOOK.get().map(|hook| hook()) {
            Some(Ok(())) => tracing::info!(every = ?interval, "background scrub on, at idle I/O priority"),
            Some(Err(e)) => tracing::warn!(error = %e, "background scrub on, but at normal priority"),
            None => tracing::info!(every = ?interval, "background scrub on"),
        }
        loop {
            let due = Instant::now() + interval;
            while Instant::now() < due {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep((due - Instant::now()).min(Duration::from_millis(200)));
            }
            run_once(&app);
        }
    })
}

/// One scrub: the check, the counters, a log line.
pub fn run_once(app: &App) {
    match app.check_storage(None) {
        Ok(report) => {
            let integrity = &app.integrity;
            integrity.scrub_runs.fetch_add(1, Ordering::Relaxed);
            integrity.scrub_last_run.store(app.clock.now(), Ordering::Relaxed);
            let corrupt = report.mismatches.len();
            if corrupt == 0 {
                tracing::info!(
                    packages = report.packages,
                    files = report.repodata_files,
                    bytes = report.bytes,
                    seconds = report.seconds,
                    "scrub: every file intact"
                );
            } else {
                tracing::error!(
                    packages = report.packages,
                    files = report.repodata_files,
                    corrupt,
                    "scrub: corrupt files found; see `stagerepo admin verify`"
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "scrub failed"),
    }
}
