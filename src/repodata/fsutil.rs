//! File replacement: a reader sees either the old or the new file, never a mix. `write_atomic`
//! is also durable (a crash never leaves a name pointing to data that did not reach the disk);
//! `write_derived` is not, for files the database can reproduce.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// Prefix of temporary files in repodata/ (pruned when stale).
pub(crate) const TMP_PREFIX: &str = ".stagerepo-tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `dir/name` via a fsynced temporary file renamed over the target;
/// `mtime`, when given, is set on the file first (repomd's timestamp is the file's mtime).
/// The caller fsyncs `dir` once its renames are done.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8], mtime: Option<SystemTime>) -> io::Result<()> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{TMP_PREFIX}{name}.{}.{n}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        if let Some(t) = mtime {
            file.set_modified(t)?;
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes the directory's entries (new names, renames, deletions) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `parts` (concatenated) to `dir/name` via a temporary file renamed over the target,
/// without fsync: for files derived from the database, whose durability publication does not
/// wait for (the current generation is verified, and rewritten if damaged, at start; see
/// `verify`). Readers still see either the old or the new file, never a partial one.
pub(crate) fn write_derived(dir: &Path, name: &str, parts: &[&[u8]], mtime: Option<SystemTime>) -> io::Result<()> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{TMP_PREFIX}{name}.{}.{n}", std::process::id()));
    let result = (|| {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        // Small members are coalesced; large ones go straight through.
        let mut out = io::BufWriter::with_capacity(1 << 20, file);
        for part in parts {
            out.write_all(part)?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        if let Some(t) = mtime {
            file.set_modified(t)?;
        }
        drop(file);
        std::fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
