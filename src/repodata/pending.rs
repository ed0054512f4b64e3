//! Generations that are published but not yet on disk.
//!
//! Why: every publication gives each metadata file a new checksum name, so the files are
//! written whole: about 32 MB at 50,000 packages, where everything else a publication does
//! is proportional to the release. Above a size threshold the writer therefore hands the
//! new generation to this overlay (the files as the shared compressed blocks the layout
//! already holds, plus repomd.xml and its signature) and writes the disk on a background
//! thread. The HTTP layer serves a repository's repodata from here first, so a client sees
//! the new generation the moment the publication returns, and the pair repomd.xml /
//! signature and every file it names are always from one generation: memory until the disk
//! has all of it, the disk after. The database stays the durable record (as for synchronous
//! publications, nothing waits for an fsync); a generation lost in a crash is written again
//! at start by the reconciliation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::SystemTime;

use bytes::Bytes;

use super::publish::DiskJob;

/// One metadata file held in memory: its compressed bytes as the layout's pieces.
#[derive(Debug)]
pub struct MemFile {
    pub parts: Arc<[Bytes]>,
    pub len: u64,
    /// The file's timestamp in repomd.xml, also the mtime it gets on disk.
    pub modified: SystemTime,
}

/// A generation not (yet) on disk.
#[derive(Debug)]
pub struct PendingGeneration {
    pub revision: String,
    pub repomd: Bytes,
    pub modified: SystemTime,
    /// The detached signature of `repomd`, when signing.
    pub signature: Option<Bytes>,
    /// The files it names that are not on disk, by name inside repodata/.
    pub files: HashMap<String, MemFile>,
}

/// The generations in memory, by repodata directory.
#[derive(Default)]
pub struct Pending {
    slots: Mutex<HashMap<PathBuf, Slot>>,
    /// Signalled when a write behind ends.
    done: Condvar,
    /// Entries in `slots`: one atomic load answers "nothing pending" on the serving path.
    active: AtomicUsize,
    /// Bumped when an entry comes or goes, so that caches of the disk's files revalidate.
    changes: AtomicU64,
    /// Writes not started yet: a publication starts its write once it is recorded.
    parked: Mutex<Vec<DiskJob>>,
}

#[derive(Debug)]
struct Slot {
    generation: Arc<PendingGeneration>,
    /// The error of its write, once it failed (it is then served from memory until the next
    /// publication of the repository replaces it).
    failed: Option<String>,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self, slots: &HashMap<PathBuf, Slot>) {
        self.active.store(slots.len(), Ordering::Release);
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// The generation pending for `repodata` (a directory path), if any.
    pub fn get(&self, repodata: &Path) -> Option<Arc<PendingGeneration>> {
        if self.active.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.lock().get(repodata).map(|s| s.generation.clone())
    }

    /// Whether any generation is pending.
    pub fn any(&self) -> bool {
        self.active.load(Ordering::Acquire) > 0
    }

    /// A counter that moves whenever what is pending changes.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// Serves `job`'s generation from memory; its write waits for [`Pending::start_writes`]
    /// (or a flush).
    pub(crate) fn park(&self, job: DiskJob) {
        self.insert(&job.repodata, Arc::new(job.in_memory()));
        self.parked.lock().unwrap_or_else(|p| p.into_inner()).push(job);
    }

    /// Forgets the parked write of `repodata` and its generation (the publication was
    /// refused after all): what the disk holds is served again.
    pub(crate) fn discard(&self, repodata: &Path) {
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        let before = parked.len();
        parked.retain(|job| job.repodata != repodata);
        if parked.len() != before {
            self.remove(repodata);
        }
    }

    /// Starts the parked writes, each on a thread of its own.
    pub fn start_writes(self: &Arc<Self>) {
        let jobs = std::mem::take(&mut *self.parked.lock().unwrap_or_else(|p| p.into_inner()));
        for job in jobs {
            // Shared with the thread, so that the job can still be run here if no thread
            // can be made.
            let slot = Arc::new(Mutex::new(Some(job)));
            let write = {
                let (pending, slot) = (self.clone(), slot.clone());
                move || {
                    crate::background::lower_priority();
                    pending.write(&slot)
                }
            };
            if let Err(e) = std::thread::Builder::new().name("repodata-writer".into()).spawn(write) {
                tracing::warn!(error = %e, "no thread for writing repodata behind; writing it now");
                self.write(&slot);
            }
        }
    }

    fn write(&self, slot: &Mutex<Option<DiskJob>>) {
        let Some(job) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let (repodata, revision, bytes) = (job.repodata.clone(), job.revision.clone(), job.bytes());
        let started = std::time::Instant::now();
        let result = job.run().map_err(|e| e.to_string());
        match &result {
            Ok(()) => {
                tracing::info!(dir = %repodata.display(), revision, bytes, ms = started.elapsed().as_millis() as u64, "wrote a generation behind")
            }
            Err(e) => {
                tracing::error!(dir = %repodata.display(), revision, error = %e, "writing a generation behind failed; it is served from memory until the next publication")
            }
        }
        self.written(&repodata, &revision, result);
    }

    /// Waits until no write behind into `repodata` is running; the error of one that failed
    /// (its files are then not all on disk).
    pub fn flush(self: &Arc<Self>, repodata: &Path) -> Result<(), String> {
        self.start_writes();
        let mut slots = self.lock();
        loop {
            match slots.get(repodata) {
                None => return Ok(()),
                Some(Slot { failed: Some(e), .. }) => return Err(e.clone()),
                Some(_) => slots = self.done.wait(slots).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// Waits for every write behind; the number that failed.
    pub fn flush_all(self: &Arc<Self>) -> usize {
        let dirs: Vec<PathBuf> = self.lock().keys().cloned().collect();
        dirs.iter().filter(|d| self.flush(d).is_err()).count()
    }

    pub(crate) fn insert(&self, repodata: &Path, generation: Arc<PendingGeneration>) {
        let mut slots = self.lock();
        let slot = Slot {
            generation,
            failed: None,
        };
        slots.insert(repodata.to_path_buf(), slot);
        self.changed(&slots);
    }

    /// Records the end of the write of `revision` into `repodata`: on success its entry
    /// goes (the disk has all of it), on failure it stays, marked.
    pub(crate) fn written(&self, repodata: &Path, revision: &str, result: Result<(), String>) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(repodata).filter(|s| s.generation.revision == revision) {
            match result {
                Ok(()) => {
                    slots.remove(repodata);
                }
                Err(e) => slot.failed = Some(e),
            }
            self.changed(&slots);
        }
        self.done.notify_all();
    }

    /// Drops whatever is pending for `repodata` (a synchronous publication replaced it).
    pub(crate) fn remove(&self, repodata: &Path) {
        let mut slots = self.lock();
        if slots.remove(repodata).is_some() {
            self.changed(&slots);
        }
        self.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(revision: &str) -> Arc<PendingGeneration> {
        Arc::new(PendingGeneration {
            revision: revision.into(),
            repomd: Bytes::from_static(b"<repomd/>"),
            modified: SystemTime::UNIX_EPOCH,
            signature: None,
            files: HashMap::new(),
        })
    }

    #[test]
    fn a_write_ends_only_its_own_revision_and_flush_waits_for_it() {
        let pending = Arc::new(Pending::default());
        let dir = Path::new("/r/repodata");
        assert!(pending.get(dir).is_none() && pending.flush(dir).is_ok());
        pending.insert(dir, generation("1"));
        let before = pending.changes();
        pending.insert(dir, generation("2"));
        assert!(pending.changes() > before);
        pending.written(dir, "1", Ok(()));
        assert_eq!(pending.get(dir).unwrap().revision, "2");
        let writer = {
            let pending = pending.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                pending.written(Path::new("/r/repodata"), "2", Ok(()));
            })
        };
        assert!(pending.flush(dir).is_ok());
        assert!(pending.get(dir).is_none() && !pending.any());
        writer.join().unwrap();
    }

    #[test]
    fn a_failed_write_stays_served_and_is_reported() {
        let pending = Arc::new(Pending::default());
        let dir = Path::new("/r/repodata");
        pending.insert(dir, generation("3"));
        pending.written(dir, "3", Err("disk full".into()));
        assert_eq!(pending.flush(dir), Err("disk full".into()));
        assert_eq!(pending.get(dir).unwrap().revision, "3");
        pending.remove(dir);
        assert!(pending.flush(dir).is_ok() && !pending.any());
    }
}
