//! Corruption at rest: re-reads every stored package (against the sha256 recorded at upload)
//! and every published repodata file (against the checksum and size its repomd.xml gives,
//! and repomd.xml against the sha256 recorded with its revision), and remembers what it found
//! so that a corrupt file is never served: [`App::corrupt_file`] is asked before every download.
//!
//! The marks are kept in memory behind a flag that is false while nothing is corrupt, so the
//! check costs one atomic load per download in the normal case; they are also saved in the
//! database (setting `corrupt_files`, JSON), so a restart keeps refusing them.
//! A mark goes away when a check finds the file intact again: a re-upload of the same bytes
//! (which replaces the stored file and its links), a restart (which republishes a repository
//! whose repodata is marked, rewriting every file whose content differs), a publication that
//! writes the file again, or the next `admin verify` or scrub finding it intact.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::auth::Actor;
use super::{App, ServiceError, ServiceResult};
use crate::domain::repo::RepoKind;

/// The database setting holding the marks.
const SETTING: &str = "corrupt_files";

/// One file that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// `package`, `repodata` or `repomd`.
    pub kind: String,
    /// Distribution and repository serving the file; empty for a package nothing publishes.
    pub dist: String,
    pub repo: String,
    /// The package's NEVRA (and file name), or the repodata file's path in its repository.
    pub what: String,
    /// The file as served (`<dist>/<repo>/...` below `/repo/`), or `store/...` for a stored
    /// package nothing publishes.
    pub path: String,
    /// What the file should be, e.g. `sha256 ab12..., 1234 bytes`.
    pub expected: String,
    /// What it is, e.g. `sha256 cd34..., 1234 bytes` or `missing`.
    pub found: String,
    /// What repairs it.
    pub repair: String,
    /// The package's recorded sha256 (packages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The answer of `admin verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The distribution checked, or None for all.
    pub dist: Option<String>,
    /// Packages re-read.
    pub packages: usize,
    /// Repodata files (repomd.xml included) re-read.
    pub repodata_files: usize,
    /// Bytes read.
    pub bytes: u64,
    pub seconds: f64,
    pub ok: bool,
    pub mismatches: Vec<Mismatch>,
}

/// What the dashboard says about integrity.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrityStatus {
    /// Whether `scrub_interval` runs the background scrub.
    pub scrub_on: bool,
    /// When the last background scrub finished (0 = never).
    pub last_scrub: i64,
    /// Files refused for download because a check found them corrupt.
    pub corrupt: Vec<String>,
}

/// The marks and the scrub's counters; held by [`App`].
#[derive(Debug, Default)]
pub struct Integrity {
    /// True while `marks` is not empty: the lock-free fast path of [`App::corrupt_file`].
    pub(super) any: AtomicBool,
    /// Served path (or `store/...`) -> what is wrong with it.
    marks: RwLock<BTreeMap<String, Mismatch>>,
    /// Background scrubs finished.
    pub scrub_runs: AtomicU64,
    /// When the last background scrub finished (Unix seconds; 0 = never).
    pub scrub_last_run: AtomicI64,
}

impl Integrity {
    /// How many files are marked corrupt now.
    pub fn corrupt_count(&self) -> usize {
        self.marks.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn replace(&self, keep: impl Fn(&Mismatch) -> bool, found: Vec<Mismatch>) -> Vec<Mismatch> {
        let mut marks = self.marks.write().unwrap_or_else(|p| p.into_inner());
        marks.retain(|_, m| keep(m));
        for m in found {
            marks.insert(m.path.clone(), m);
        }
        self.any.store(!marks.is_empty(), Ordering::Release);
        marks.values().cloned().collect()
    }
}

/// What a file is: sha256 and size, or None when it cannot be read.
fn digest_file(path: &Path) -> Option<(String, u64)> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Some((hex::encode(hasher.finalize()), size))
}

/// The file name of a package mark: `what` is `NEVRA (file name)` (see `check_package`).
fn package_file(m: &Mismatch) -> Option<&str> {
    m.what.rsplit_once(" (")?.1.strip_suffix(')')
}

/// The checksum-named files (`<sha256>-<kind>.xml.gz`) that `repodata/generations.json` lists
/// for the generations kept servable; empty when it is missing or unreadable.
fn older_generation_files(repodata: &Path) -> Vec<String> {
    let Some(v) = std::fs::read(repodata.join("generations.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return Vec::new();
    };
    let checksum_named = |n: &str| {
        n.split_once('-').is_some_and(|(h, rest)| {
            h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && rest.ends_with(".xml.gz") && !n.contains('/')
        })
    };
    v["generations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["files"].as_array().into_iter().flatten())
        .filter_map(|f| f.as_str())
        .filter(|n| checksum_named(n))
        .map(str::to_string)
        .collect()
}

fn describe(found: &Option<(String, u64)>) -> String {
    match found {
        Some((sha, size)) => format!("sha256 {sha}, {size} bytes"),
        None => "missing or unreadable".to_string(),
    }
}

/// Counters of one run.
#[derive(Default)]
struct Tally {
    packages: usize,
    files: usize,
    bytes: u64,
    found: Vec<Mismatch>,
    /// Repodata files checked, as served (`<dist>/<repo>/repodata/...`).
    checked: std::collections::HashSet<String>,
}

impl App {
    /// The dashboard's integrity line.
    pub fn integrity_status(&self) -> IntegrityStatus {
        let marks = self.integrity.marks.read().unwrap_or_else(|p| p.into_inner());
        IntegrityStatus {
            scrub_on: self.config.scrub_interval_duration().ok().flatten().is_some(),
            last_scrub: self.integrity.scrub_last_run.load(Ordering::Relaxed),
            corrupt: marks.keys().cloned().collect(),
        }
    }

    /// Whether the file served as `rel` (below `/repo/`) is known to be corrupt. One atomic
    /// load while nothing is.
    pub fn corrupt_file(&self, rel: &str) -> Option<Mismatch> {
        if !self.integrity.any.load(Ordering::Acquire) {
            return None;
        }
        let marks = self.integrity.marks.read().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = marks.get(rel) {
            return Some(m.clone());
        }
        // A package is marked under the links that existed when it was checked (or its store
        // path); a publication since (a release of a stored package, a promotion) links the
        // same corrupt file under a new path, which must be refused too. File names are
        // unique in the store, so the name finds the package's marks.
        let (dir, file) = rel.rsplit_once('/')?;
        if !dir.ends_with("/Packages") {
            return None;
        }
        let (dist, rest) = dir.split_once('/')?;
        let repo = rest.strip_suffix("/Packages")?;
        marks
            .values()
            .find(|m| m.kind == "package" && package_file(m) == Some(file))
            .map(|m| Mismatch {
                dist: dist.to_string(),
                repo: repo.to_string(),
                path: rel.to_string(),
                ..m.clone()
            })
    }

    /// Loads the marks saved by an earlier run (at start).
    pub(super) fn load_integrity_marks(&self) -> ServiceResult<()> {
        let Some(text) = self.db.setting(SETTING)? else {
            return Ok(());
        };
        let marks: Vec<Mismatch> = serde_json::from_str(&text).unwrap_or_default();
        if !marks.is_empty() {
            tracing::warn!(
                files = marks.len(),
                "corrupt files from an earlier check are refused until repaired"
            );
        }
        self.integrity.replace(|_| false, marks);
        Ok(())
    }

    fn save_marks(&self, marks: &[Mismatch]) -> ServiceResult<()> {
        let text = serde_json::to_string(marks).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.db.set_setting(SETTING, &text)?;
        Ok(())
    }

    /// `admin verify`: re-reads the packages and repodata of `dist` (all when None).
    pub fn verify_storage(&self, actor: &Actor, dist: Option<&str>) -> ServiceResult<VerifyReport> {
        actor.require_admin()?;
        if let Some(d) = dist {
            self.require_dist(d)?;
        }
        self.check_storage(dist)
    }

    /// The check itself (also what the background scrub runs); replaces the marks in its scope.
    pub fn check_storage(&self, dist: Option<&str>) -> ServiceResult<VerifyReport> {
        let started = Instant::now();
        let dists: Vec<String> = match dist {
            Some(d) => vec![d.to_string()],
            None => self.config.dist.keys().cloned().collect(),
        };
        let mut tally = Tally::default();
        // sha256 -> the repositories publishing it.
        let mut published: HashMap<String, Vec<(String, RepoKind)>> = HashMap::new();
        for d in &dists {
            for repo in RepoKind::ALL {
                let Some(rev) = self.db.latest_revision(d, repo)? else {
                    continue;
                };
                for sha in self.db.revision_packages(d, repo, rev.number)? {
                    published.entry(sha).or_default().push((d.clone(), repo));
                }
                self.check_repodata(d, repo, &rev.repomd_sha256, &mut tally);
            }
        }
        let packages = match dist {
            None => self.db.all_packages()?,
            Some(_) => {
                let shas: Vec<String> = published.keys().cloned().collect();
                self.db.packages_by_sha(&shas)?
            }
        };
        for p in &packages {
            let places = published.get(&p.sha256).map(Vec::as_slice).unwrap_or_default();
            self.check_package(p, places, &mut tally);
        }
        let found = tally.found;
        let scope = dist.map(str::to_string);
        // A dist-limited run keeps the marks of other distributions (and unpublished packages).
        let marks = self
            .integrity
            .replace(|m| scope.as_ref().is_some_and(|d| &m.dist != d), found.clone());
        self.save_marks(&marks)?;
        for m in &found {
            tracing::error!(kind = %m.kind, file = %m.path, expected = %m.expected, found = %m.found, repair = %m.repair, "corrupt file");
        }
        Ok(VerifyReport {
            dist: scope,
            packages: packages.len(),
            repodata_files: tally.files,
            bytes: tally.bytes,
            seconds: started.elapsed().as_secs_f64(),
            ok: found.is_empty(),
            mismatches: found,
        })
    }

    /// Checks one package's stored file, and each published link that is not the same file.
    fn check_package(&self, p: &crate::db::StoredPackage, places: &[(String, RepoKind)], tally: &mut Tally) {
        tally.packages += 1;
        let store_path = self.store.path(&p.sha256);
        let identity = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        let stored = digest_file(&store_path);
        tally.bytes += stored.as_ref().map_or(0, |s| s.1);
        let good = |found: &Option<(String, u64)>| {
            found
                .as_ref()
                .is_some_and(|(sha, size)| *sha == p.sha256 && *size == p.size)
        };
        let nevra = format!("{} ({})", super::upload::nevra_of(p), p.filename);
        let mismatch = |dist: &str, repo: &str, path: String, found: &Option<(String, u64)>| Mismatch {
            kind: "package".into(),
            dist: dist.into(),
            repo: repo.into(),
            what: nevra.clone(),
            path,
            expected: format!("sha256 {}, {} bytes", p.sha256, p.size),
            found: describe(found),
            repair: format!("re-upload {} (the same bytes)", p.filename),
            sha256: Some(p.sha256.clone()),
        };
        let store_id = identity(&store_path);
        // A link sharing the store file's inode reports its damage; the store file is named
        // itself only when no such link did (nothing publishes it, or the links are copies).
        let mut reported_via_link = false;
        for (dist, repo) in places {
            let rel = format!("{dist}/{}/Packages/{}", repo.as_str(), p.filename);
            let link = self.repos_dir.join(&rel);
            let same_file = store_id.is_some() && identity(&link) == store_id;
            let found = if same_file {
                stored.clone()
            } else {
                let f = digest_file(&link);
                tally.bytes += f.as_ref().map_or(0, |s| s.1);
                f
            };
            if !good(&found) {
                reported_via_link |= same_file;
                tally.found.push(mismatch(dist, repo.as_str(), rel, &found));
            }
        }
        if !good(&stored) && !reported_via_link {
            let rel = format!("store/{}/{}", &p.sha256[..2], p.sha256);
            tally.found.push(mismatch("", "", rel, &stored));
        }
    }

    /// Checks repomd.xml of `dist/repo` against the revision's record, then every file it lists.
    fn check_repodata(&self, dist: &str, repo: RepoKind, repomd_sha256: &str, tally: &mut Tally) {
        let base = format!("{dist}/{}", repo.as_str());
        let dir = self.repos_dir.join(&base);
        let repair = format!("republish {base}: restart the server, which rewrites its repodata");
        let mismatch = |kind: &str, what: &str, expected: String, found: String| Mismatch {
            kind: kind.into(),
            dist: dist.into(),
            repo: repo.as_str().into(),
            what: what.into(),
            path: format!("{base}/{what}"),
            expected,
            found,
            repair: repair.clone(),
            sha256: None,
        };
        tally.files += 1;
        // A generation written behind is checked once on disk (a failed write shows as the
        // mismatch it is).
        let _ = self.pending.flush(&dir.join("repodata"));
        let text = std::fs::read(dir.join("repodata/repomd.xml")).ok();
        tally.bytes += text.as_ref().map_or(0, |t| t.len() as u64);
        let found = text.as_ref().map(|t| (hex::encode(Sha256::digest(t)), t.len() as u64));
        if found.as_ref().map(|f| f.0.as_str()) != Some(repomd_sha256) {
            tally.found.push(mismatch(
                "repomd",
                "repodata/repomd.xml",
                format!("sha256 {repomd_sha256} (recorded with the revision)"),
                describe(&found),
            ));
        }
        let listed = text
            .as_deref()
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(crate::repodata::repomd_files)
            .unwrap_or_default();
        let mut checked = std::collections::HashSet::new();
        for file in listed {
            tally.files += 1;
            let found = digest_file(&dir.join(&file.href));
            tally.bytes += found.as_ref().map_or(0, |s| s.1);
            if found.as_ref() != Some(&(file.sha256.clone(), file.size)) {
                tally.found.push(mismatch(
                    "repodata",
                    &file.href,
                    format!("sha256 {}, {} bytes", file.sha256, file.size),
                    describe(&found),
                ));
            }
            tally.checked.insert(format!("{base}/{}", file.href));
            checked.insert(file.href);
        }
        // The files of the older generations kept servable (generations.json) are served too,
        // to clients holding an older repomd.xml: each is checked against the sha256 its name
        // carries. One that is gone was pruned by a publication since, not damaged.
        for name in older_generation_files(&dir.join("repodata")) {
            let href = format!("repodata/{name}");
            if checked.contains(&href) {
                continue;
            }
            let Some(expected) = name.split_once('-').map(|(h, _)| h.to_string()) else {
                continue;
            };
            let found = digest_file(&dir.join(&href));
            tally.files += 1;
            tally.bytes += found.as_ref().map_or(0, |s| s.1);
            if found.as_ref().is_some_and(|(sha, _)| *sha != expected) {
                tally.found.push(mismatch(
                    "repodata",
                    &href,
                    format!("sha256 {expected} (its name; an older generation)"),
                    describe(&found),
                ));
            }
            tally.checked.insert(format!("{base}/{href}"));
            checked.insert(href);
        }
    }

    /// After a publication of `dist/repo`: checks its repodata again, so that files the
    /// publication rewrote are served again (and new damage is not). A marked file the new
    /// repomd.xml no longer lists stays marked while it is still there and still wrong: older
    /// generations stay servable to clients holding an older repomd.xml.
    pub(super) fn recheck_repodata(&self, dist: &str, repo: RepoKind) -> ServiceResult<()> {
        if !self.integrity.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let Some(rev) = self.db.latest_revision(dist, repo)? else {
            return Ok(());
        };
        let mut tally = Tally::default();
        self.check_repodata(dist, repo, &rev.repomd_sha256, &mut tally);
        let ours = |m: &Mismatch| m.dist == dist && m.repo == repo.as_str() && m.kind == "repodata";
        let old: Vec<Mismatch> = {
            let marks = self.integrity.marks.read().unwrap_or_else(|p| p.into_inner());
            marks.values().filter(|m| ours(m)).cloned().collect()
        };
        for m in old {
            // Checked just now (listed by the current or a kept older generation): its
            // verdict stands.
            if tally.found.iter().any(|f| f.path == m.path) || tally.checked.contains(&m.path) {
                continue;
            }
            let found = digest_file(&self.repos_dir.join(&m.path));
            if found.is_some() && describe(&found) != m.expected {
                tally.found.push(Mismatch {
                    found: describe(&found),
                    ..m
                });
            }
        }
        let marks = self.integrity.replace(
            |m| !(m.dist == dist && m.repo == repo.as_str() && m.kind != "package"),
            tally.found,
        );
        self.save_marks(&marks)
    }

    /// Whether repodata of `dist/repo` is marked corrupt.
    pub(super) fn repodata_is_corrupt(&self, dist: &str, repo: RepoKind) -> bool {
        self.integrity.any.load(Ordering::Acquire)
            && self
                .integrity
                .marks
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .any(|m| m.dist == dist && m.repo == repo.as_str() && m.kind != "package")
    }

    /// Deletes the repodata files of `dist/repo` marked corrupt, so that the republication
    /// that follows writes them again.
    pub(super) fn remove_corrupt_repodata(&self, dist: &str, repo: RepoKind) -> ServiceResult<()> {
        let paths: Vec<String> = {
            let marks = self.integrity.marks.read().unwrap_or_else(|p| p.into_inner());
            marks
                .values()
                .filter(|m| m.dist == dist && m.repo == repo.as_str() && m.kind != "package")
                .map(|m| m.path.clone())
                .collect()
        };
        for rel in paths {
            match std::fs::remove_file(self.repos_dir.join(&rel)) {
                Ok(()) => tracing::warn!(file = %rel, "removed a corrupt repodata file to write it again"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Whether the package with this sha256 is marked corrupt.
    pub fn package_is_corrupt(&self, sha256: &str) -> bool {
        self.integrity.any.load(Ordering::Acquire)
            && self
                .integrity
                .marks
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .any(|m| m.sha256.as_deref() == Some(sha256))
    }

    /// A re-upload of a corrupt package's bytes (`temp`, already hashed to `sha256`): replaces
    /// the stored file and every published link to it, then clears its marks.
    pub(super) fn repair_package(&self, temp: tempfile::NamedTempFile, sha256: &str) -> ServiceResult<()> {
        let dest = self.store.replace(temp, sha256)?;
        // Every published link, not only the marked ones: a link is a hard link to the old
        // (corrupt) file until replaced.
        let mut links = 0;
        for dist in self.config.dist.keys() {
            for repo in RepoKind::ALL {
                let Some(rev) = self.db.latest_revision(dist, repo)? else {
                    continue;
                };
                if !self
                    .db
                    .revision_packages(dist, repo, rev.number)?
                    .iter()
                    .any(|s| s == sha256)
                {
                    continue;
                }
                for p in self.db.packages_by_sha(&[sha256.to_string()])? {
                    let rel = format!("{dist}/{}/Packages/{}", repo.as_str(), p.filename);
                    crate::store::relink(&dest, &self.repos_dir.join(rel))?;
                    links += 1;
                }
            }
        }
        self.files_changed();
        let marks = self
            .integrity
            .replace(|m| m.sha256.as_deref() != Some(sha256), Vec::new());
        self.save_marks(&marks)?;
        tracing::warn!(sha256, links, "corrupt package repaired by a re-upload of its bytes");
        Ok(())
    }
}
