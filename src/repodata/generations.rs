//! Which metadata files recent repomd.xml generations referenced, so that a client holding an
//! older repomd.xml can still fetch every file it names while a publication replaces it (the
//! classic 404 of repositories that delete the old files at once).

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::fsutil::{sync_dir, write_derived, TMP_PREFIX};

/// The tracking file, inside repodata/.
pub(crate) const FILE_NAME: &str = "generations.json";

/// Metadata kinds whose files this writer owns (and may therefore delete).
const MANAGED_KINDS: &[&str] = &["primary", "filelists", "other", "updateinfo"];

/// A temporary file older than this is a leftover of an interrupted publication.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// One published repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Generation {
    pub revision: String,
    /// File names inside repodata/.
    pub files: Vec<String>,
}

/// The generations, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Generations {
    pub generations: Vec<Generation>,
}

impl Generations {
    /// Reads the tracking file; a missing or unreadable one starts an empty history (the
    /// current repomd.xml is then added by the caller, so nothing it names is deleted).
    pub(crate) fn load(repodata: &Path) -> Generations {
        std::fs::read(repodata.join(FILE_NAME))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Appends a generation unless it references exactly the files of the newest one.
    pub(crate) fn push(&mut self, generation: Generation) {
        let same = |last: &Generation| {
            let a: HashSet<&String> = last.files.iter().collect();
            let b: HashSet<&String> = generation.files.iter().collect();
            a == b
        };
        match self.generations.last_mut() {
            Some(last) if same(last) => last.revision = generation.revision,
            _ => self.generations.push(generation),
        }
    }

    /// Keeps the newest `total` generations.
    pub(crate) fn truncate(&mut self, total: usize) {
        let excess = self.generations.len().saturating_sub(total.max(1));
        self.generations.drain(..excess);
    }

    /// Every file any kept generation references.
    pub(crate) fn referenced(&self) -> HashSet<String> {
        self.generations.iter().flat_map(|g| g.files.iter().cloned()).collect()
    }

    /// Writes the tracking file atomically, without waiting for the disk: losing it in a crash
    /// only means the next publication keeps fewer old generations.
    pub(crate) fn save(&self, repodata: &Path) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_derived(repodata, FILE_NAME, &[&json], None)
    }
}

/// The generations a shared copy (a bucket several replicas publish into) keeps once
/// `repomd` is published there: the new record and what it keeps.
pub struct Window {
    /// The record to store beside the generations (this module's `generations.json` format).
    pub record: Vec<u8>,
    /// The repodata/ file names the kept generations reference.
    pub files: HashSet<String>,
    /// The revisions kept, whose per-generation signatures stay.
    pub revisions: HashSet<String>,
}

/// The window after `repomd` is added to the record `previous` (None when there is none yet),
/// keeping the newest `keep + 1` generations; None when `repomd` is not a repomd.xml with a
/// revision and data.
pub fn next_window(previous: Option<&[u8]>, repomd: &[u8], keep: usize) -> Option<Window> {
    let repomd = super::repomd::Repomd::parse(std::str::from_utf8(repomd).ok()?)?;
    // Not a generation (the parser is lenient): nothing may be pruned after it.
    if repomd.revision.is_empty() || repomd.records.is_empty() {
        return None;
    }
    let mut generations: Generations = previous
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .unwrap_or_default();
    generations.push(Generation {
        revision: repomd.revision.clone(),
        files: super::publish::file_names(&repomd),
    });
    generations.truncate(keep.saturating_add(1));
    Some(Window {
        record: serde_json::to_vec_pretty(&generations).ok()?,
        files: generations.referenced(),
        revisions: generations.generations.iter().map(|g| g.revision.clone()).collect(),
    })
}

/// Whether `name` is a metadata file this writer produces: `<sha256 hex>-<kind>.xml.gz`.
pub fn is_managed_name(name: &str) -> bool {
    let Some((hash, rest)) = name.split_once('-') else {
        return false;
    };
    hash.len() == 64
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && MANAGED_KINDS.iter().any(|k| rest.strip_suffix(".xml.gz") == Some(*k))
}

/// Deletes managed files that no kept generation references, and stale temporary files.
/// Returns the names deleted. Files of other kinds (signatures, updateinfo) are left alone.
pub(crate) fn prune(repodata: &Path, keep: &HashSet<String>) -> io::Result<Vec<String>> {
    let mut deleted = Vec::new();
    for entry in std::fs::read_dir(repodata)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let remove = if name.starts_with(TMP_PREFIX) {
            let modified = entry.metadata().and_then(|m| m.modified()).ok();
            let age = modified.and_then(|m| SystemTime::now().duration_since(m).ok());
            age.is_some_and(|a| a > STALE_TMP)
        } else {
            is_managed_name(&name) && !keep.contains(&name)
        };
        if remove {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => deleted.push(name),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    // Deletions are not made durable: a file that comes back after a crash is deleted again.
    deleted.sort();
    Ok(deleted)
}

/// Removes the temporary files an interrupted publication of another (dead) process left in
/// `repo_dir`: `.stagerepo-tmp-*` in repodata/ and half-made links (`.NAME.tmp`) in
/// Packages/. Returns the names removed. A temporary file of a live process (a second
/// daemon started by mistake on the same data directory) is left alone.
pub fn remove_leftovers(repo_dir: &Path) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    for sub in ["repodata", "Packages"] {
        let dir = repo_dir.join(sub);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let before = removed.len();
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let stale = match sub {
                "repodata" => stale_tmp(&name),
                _ => stale_link(&name, &entry),
            };
            if !stale || entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed.push(format!("{sub}/{name}")),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if removed.len() > before {
            sync_dir(&dir)?;
        }
    }
    removed.sort();
    Ok(removed)
}

/// A temporary repodata file whose writer (the pid in its name) is gone, or is us.
fn stale_tmp(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TMP_PREFIX) else {
        return false;
    };
    // `<name>.<pid>.<counter>`
    let pid = rest.rsplit('.').nth(1).and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) => pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists(),
        None => true,
    }
}

/// A link being made (`store::link_into`), to a package stored more than a minute ago: link
/// and rename follow each other at once, so only a dead process leaves one behind.
fn stale_link(name: &str, entry: &std::fs::DirEntry) -> bool {
    let age = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok());
    name.starts_with('.') && name.ends_with(".tmp") && age.is_some_and(|a| a > Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_names() {
        let h = "a".repeat(64);
        assert!(is_managed_name(&format!("{h}-primary.xml.gz")));
        assert!(is_managed_name(&format!("{h}-other.xml.gz")));
        assert!(is_managed_name(&format!("{h}-updateinfo.xml.gz")));
        assert!(!is_managed_name(&format!("{h}-primary.sqlite.bz2")));
        assert!(!is_managed_name("repomd.xml"));
        assert!(!is_managed_name("x-primary.xml.gz"));
    }

    #[test]
    fn a_shared_window_keeps_the_newest_generations_it_was_told_of() {
        let repomd = |revision: u64, name: &str| {
            super::super::repomd::Repomd {
                revision: revision.to_string(),
                records: vec![super::super::repomd::Record {
                    kind: "primary".into(),
                    checksum: "c".into(),
                    open_checksum: None,
                    href: format!("repodata/{name}"),
                    timestamp: 1,
                    size: 1,
                    open_size: None,
                }],
            }
            .render()
        };
        let first = next_window(None, repomd(1, "a").as_bytes(), 1).unwrap();
        let second = next_window(Some(&first.record), repomd(2, "b").as_bytes(), 1).unwrap();
        let third = next_window(Some(&second.record), repomd(3, "c").as_bytes(), 1).unwrap();
        let names = |w: &Window| {
            let mut v: Vec<String> = w.files.iter().cloned().collect();
            v.sort();
            v
        };
        assert_eq!(names(&second), ["a", "b"]);
        assert_eq!(names(&third), ["b", "c"]);
        assert!(third.revisions.contains("3") && third.revisions.contains("2") && !third.revisions.contains("1"));
        assert!(next_window(None, b"not xml", 1).is_none());
    }

    #[test]
    fn push_and_truncate() {
        let g = |r: &str, f: &[&str]| Generation {
            revision: r.into(),
            files: f.iter().map(|s| s.to_string()).collect(),
        };
        let mut gens = Generations::default();
        gens.push(g("1", &["a"]));
        gens.push(g("2", &["a"]));
        gens.push(g("3", &["b"]));
        gens.push(g("4", &["c"]));
        assert_eq!(gens.generations.len(), 3);
        assert_eq!(gens.generations[0].revision, "2");
        gens.truncate(2);
        assert_eq!(gens.referenced(), ["b", "c"].iter().map(|s| s.to_string()).collect());
        gens.truncate(0);
        assert_eq!(gens.generations.len(), 1);
    }
}
