//! The bucket copy of the package store and the published repositories (`storage = "s3"`).
//!
//! The data directory stays the publisher's working copy; every accepted upload and every
//! publication is then written to the bucket in the order that keeps a reader of the bucket
//! consistent: packages and checksum-named repodata first (immutable keys, each written
//! once), `repomd.xml` last, with a conditional write on the version this daemon wrote before
//! (two publishers can never interleave: the loser's write is refused and logged). Objects
//! leave the bucket only after their generation left `keep_generations` in the working copy.
//! A failed sync is retried by the next publication and by the worker loop, since each sync
//! compares the whole repository with the bucket.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::blob::{BlobError, BlobResult, BlobStore};
use crate::domain::repo::RepoKind;

/// The bucket and what this daemon knows is in it.
pub struct Mirror {
    blob: Arc<dyn BlobStore>,
    /// Keys known to hold their final content: immutable objects are written once.
    known: Mutex<HashSet<String>>,
    /// Per repository prefix: the ETag and bytes of the repomd.xml last written there.
    repomd: Mutex<HashMap<String, (String, Vec<u8>)>>,
    /// Repositories whose last sync failed (retried by the worker loop).
    dirty: Mutex<HashSet<(String, RepoKind)>>,
    redirect: bool,
    ttl: Duration,
    /// Other replicas (on the same PostgreSQL database) publish into this bucket too.
    shared: bool,
    /// `keep_generations`: how many generations before the newest stay in the bucket.
    keep: usize,
}

/// An upload being sent into the bucket as it is received; dropped uncommitted (a refused
/// upload), it is abandoned and no object remains.
pub struct StagedUpload {
    key: String,
    writer: Option<Box<dyn crate::blob::ObjectWriter>>,
}

impl StagedUpload {
    /// Sends the next bytes of the upload (blocking while the part before is on its way).
    pub fn write(&mut self, bytes: &[u8]) -> BlobResult<()> {
        self.writer.as_mut().expect("present until committed").write(bytes)
    }
}

/// The bucket key of a stored package.
pub fn package_key(sha256: &str) -> String {
    format!("store/{}/{sha256}", &sha256[..2.min(sha256.len())])
}

/// The bucket prefix of a published repository.
pub fn repository_prefix(dist: &str, repo: RepoKind) -> String {
    format!("repos/{dist}/{repo}/")
}

impl Mirror {
    /// Opens the mirror over `blob`, learning which objects it already holds.
    /// With `shared`, other replicas publish into the same bucket: see [`Mirror::repository`].
    pub fn open(
        blob: Arc<dyn BlobStore>,
        redirect: bool,
        ttl: Duration,
        shared: bool,
        keep: usize,
    ) -> BlobResult<Mirror> {
        let known = blob.list("")?.into_iter().collect();
        Ok(Mirror {
            blob,
            known: Mutex::new(known),
            repomd: Mutex::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
            redirect,
            ttl,
            shared,
            keep,
        })
    }

    /// Whether other replicas publish into this bucket too.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The bucket itself.
    pub fn blob(&self) -> &Arc<dyn BlobStore> {
        &self.blob
    }

    fn is_known(&self, key: &str) -> bool {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).contains(key)
    }

    fn note(&self, key: String) {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).insert(key);
    }

    /// Copies a stored package (already validated and committed locally) into the bucket.
    pub fn package(&self, sha256: &str, path: &Path) -> BlobResult<()> {
        let key = package_key(sha256);
        if !self.is_known(&key) {
            self.blob.put_file(&key, path)?;
            self.note(key);
        }
        Ok(())
    }

    /// Starts sending an upload into the bucket while it is received, under a key of its own
    /// in `uploads/` (its sha256, and so its key in the store, is known only at the end).
    pub fn stage_upload(&self) -> BlobResult<StagedUpload> {
        let key = format!("uploads/{:032x}", rand::random::<u128>());
        Ok(StagedUpload {
            writer: Some(self.blob.writer(&key)?),
            key,
        })
    }

    /// Completes a staged upload accepted as package `sha256`: moved to its key in the store
    /// (inside the bucket) unless the store holds it already. `local` is the accepted file,
    /// sent again should the staged copy have failed.
    pub fn commit_staged(&self, mut staged: StagedUpload, sha256: &str, local: &Path) -> BlobResult<()> {
        let key = package_key(sha256);
        let writer = staged.writer.take().expect("present until committed");
        if self.is_known(&key) {
            // Dropped unfinished: abandoned, nothing is left under its key.
            drop(writer);
            return Ok(());
        }
        match writer.finish() {
            Ok(()) => {
                let moved = self.blob.copy(&staged.key, &key);
                // The staged object goes either way: nothing is left under uploads/.
                if let Err(e) = self.blob.delete(&staged.key) {
                    tracing::warn!(key = %staged.key, error = %e, "cannot remove a staged upload from the bucket");
                }
                moved?;
                self.note(key);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(sha256, error = %e, "the upload streamed into the bucket failed; sending it again");
                self.package(sha256, local)
            }
        }
    }

    /// Brings the bucket copy of one repository in line with its working copy `dir`;
    /// `sha_of` names the stored package behind a `Packages/` file, so that it is copied
    /// inside the bucket instead of uploaded again.
    pub fn repository(
        &self,
        dist: &str,
        repo: RepoKind,
        dir: &Path,
        sha_of: &dyn Fn(&str) -> Option<String>,
    ) -> BlobResult<()> {
        let result = self.sync(dist, repo, dir, sha_of);
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(()) => dirty.remove(&(dist.to_string(), repo)),
            Err(_) => dirty.insert((dist.to_string(), repo)),
        };
        result
    }

    /// Repositories whose last sync failed.
    pub fn dirty(&self) -> Vec<(String, RepoKind)> {
        self.dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn sync(&self, dist: &str, repo: RepoKind, dir: &Path, sha_of: &dyn Fn(&str) -> Option<String>) -> BlobResult<()> {
        let prefix = repository_prefix(dist, repo);
        let mut local = local_files(dir)?;
        if self.shared {
            // The older generations in the working copy are in the bucket already (whoever
            // published them copied them), or left its window: only the newest one is copied.
            let newest = newest_generation(dir)?;
            local.retain(|rel| !rel.starts_with("repodata/") || newest.contains(rel));
        }
        // 1. Immutable objects: packages, checksum-named repodata, per-generation signatures.
        let mut replaceable = Vec::new();
        for rel in &local {
            let key = format!("{prefix}{rel}");
            if rel == "repodata/generations.json" {
                // Shared, the bucket keeps its own record of its generations (below).
                if !self.shared {
                    replaceable.push(rel.as_str());
                }
            } else if matches!(rel.as_str(), "repodata/repomd.xml" | "repodata/repomd.xml.asc") {
                replaceable.push(rel.as_str());
            } else if !self.is_known(&key) {
                let stored = rel
                    .strip_prefix("Packages/")
                    .and_then(sha_of)
                    .map(|sha| package_key(&sha))
                    .filter(|k| self.is_known(k));
                match stored {
                    Some(from) => self.blob.copy(&from, &key)?,
                    None => self.blob.put_file(&key, &dir.join(rel))?,
                }
                self.note(key);
            }
        }
        // 2. The replaceable files, repomd.xml last.
        replaceable.sort_by_key(|rel| *rel == "repodata/repomd.xml");
        for rel in replaceable {
            let key = format!("{prefix}{rel}");
            let bytes = std::fs::read(dir.join(rel)).map_err(|source| BlobError::Io {
                path: dir.join(rel).display().to_string(),
                source,
            })?;
            if rel == "repodata/repomd.xml" {
                self.write_repomd(&key, bytes)?;
            } else {
                self.blob.put(&key, bytes)?;
            }
            self.note(key);
        }
        // 3. Shared with other replicas, the bucket's window is its own: a replica's working
        // copy may have skipped generations other replicas served.
        if self.shared {
            return self.prune_shared(&prefix, dir);
        }
        // What left the working copy's generations leaves the bucket. The known keys (the
        // bucket's listing at start plus what was written since) say what is there, without
        // listing the bucket at every publication.
        let present: HashSet<String> = local.iter().map(|rel| format!("{prefix}{rel}")).collect();
        let gone: Vec<String> = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|k| k.starts_with(&prefix) && !present.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            self.blob.delete(&key)?;
            self.known.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        }
        Ok(())
    }

    /// Keeps the newest `keep + 1` generations of a shared bucket's repository: its record
    /// `repodata/generations.json` gains the generation just copied, and the repodata (and
    /// per-generation signatures) no kept generation names leave. Called by the publisher of
    /// the newest revision, under the repository's lock (`Db::lock_repository`).
    fn prune_shared(&self, prefix: &str, dir: &Path) -> BlobResult<()> {
        let repomd = std::fs::read(dir.join("repodata/repomd.xml")).map_err(|source| BlobError::Io {
            path: dir.join("repodata/repomd.xml").display().to_string(),
            source,
        })?;
        let record_key = format!("{prefix}repodata/generations.json");
        let previous = self.get_if_present(&record_key)?;
        let window = crate::repodata::next_window(previous.as_deref(), &repomd, self.keep)
            .ok_or_else(|| BlobError::Store(format!("{prefix}repodata/repomd.xml does not parse")))?;
        self.blob.put(&record_key, window.record)?;
        for key in self.blob.list(&format!("{prefix}repodata/"))? {
            let Some(name) = key.strip_prefix(prefix).and_then(|k| k.strip_prefix("repodata/")) else {
                continue;
            };
            let stale = if crate::repodata::is_managed_name(name) {
                !window.files.contains(name)
            } else if let Some(revision) = crate::repodata::signature_revision(name) {
                !window.revisions.contains(&revision.to_string())
            } else {
                false
            };
            if stale {
                self.blob.delete(&key)?;
                self.known.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            }
        }
        Ok(())
    }

    /// Copies the stored packages `(sha256, file name)` into `dist/repo`'s `Packages/` in a
    /// shared bucket, whatever this replica remembers (another may have removed a copy since):
    /// the packages a publication adds, before its metadata is served.
    /// `local` is the package's path in the local store, uploaded when the bucket's store
    /// lacks it (a package the daemon made itself, such as the release package).
    pub fn share_packages(
        &self,
        dist: &str,
        repo: RepoKind,
        packages: &[(String, String)],
        local: &dyn Fn(&str) -> std::path::PathBuf,
    ) -> BlobResult<()> {
        if !self.shared {
            return Ok(());
        }
        let prefix = repository_prefix(dist, repo);
        for (sha, name) in packages {
            let key = format!("{prefix}Packages/{name}");
            let stored = package_key(sha);
            // The store's objects are never removed: one known (or found) is there.
            if !self.is_known(&stored) {
                match self.blob.etag(&stored)? {
                    Some(_) => self.note(stored.clone()),
                    None => self.package(sha, &local(sha))?,
                }
            }
            self.blob.copy(&stored, &key)?;
            self.note(key);
        }
        Ok(())
    }

    /// Removes the bucket copies of `filenames` from `dist/repo`'s `Packages/`: packages no
    /// kept generation names any more (shared buckets; see [`Mirror::prune_shared`]).
    pub fn remove_packages(&self, dist: &str, repo: RepoKind, filenames: &[String]) -> BlobResult<()> {
        if !self.shared {
            // Alone, the working copy's listing says what leaves (see `sync`).
            return Ok(());
        }
        let prefix = repository_prefix(dist, repo);
        for name in filenames {
            let key = format!("{prefix}Packages/{name}");
            self.blob.delete(&key)?;
            self.known.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        }
        Ok(())
    }

    /// The bucket's repomd.xml of `dist/repo`, if there is one.
    pub fn published_repomd(&self, dist: &str, repo: RepoKind) -> BlobResult<Option<Vec<u8>>> {
        self.get_if_present(&format!("{}repodata/repomd.xml", repository_prefix(dist, repo)))
    }

    /// The bucket copy of repository file `rel` (e.g. `repodata/<name>`) of `dist/repo`, if
    /// there is one.
    pub fn repository_file(&self, dist: &str, repo: RepoKind, rel: &str) -> BlobResult<Option<Vec<u8>>> {
        let key = format!("{}{rel}", repository_prefix(dist, repo));
        let bytes = self.get_if_present(&key)?;
        if bytes.is_some() {
            self.note(key);
        }
        Ok(bytes)
    }

    /// The object under `key`, or None when there is none.
    fn get_if_present(&self, key: &str) -> BlobResult<Option<Vec<u8>>> {
        match self.blob.get(key) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(BlobError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The bucket copy of repository file `rel` (`<dist>/<repo>/repodata/<name>`) when the
    /// bucket is shared and `rel` is checksum-named repodata or a per-generation signature:
    /// what a replica that has not caught up yet answers for a generation another replica
    /// published (a host may hold that one's repomd.xml). None when absent or not such a file.
    pub fn shared_repodata(&self, rel: &str) -> Option<Vec<u8>> {
        let name = rel.rsplit_once("/repodata/").map(|(_, n)| n)?;
        let immutable = crate::repodata::is_managed_name(name) || crate::repodata::signature_revision(name).is_some();
        if !self.shared || !immutable || rel.split('/').count() != 4 {
            return None;
        }
        self.get_if_present(&format!("repos/{rel}")).unwrap_or_else(|e| {
            tracing::warn!(file = rel, error = %e, "cannot read repodata from the bucket");
            None
        })
    }

    /// With a shared bucket, what copies each new repodata file of `dist/repo` into it before
    /// its generation is served anywhere (a host may ask another replica for it at once).
    pub fn share(self: &Arc<Self>, dist: &str, repo: RepoKind) -> Option<Arc<crate::repodata::Share>> {
        if !self.shared {
            return None;
        }
        let mirror = self.clone();
        let prefix = format!("{}repodata/", repository_prefix(dist, repo));
        Some(Arc::new(
            move |name: &str, load: &mut dyn FnMut() -> std::io::Result<Vec<bytes::Bytes>>| {
                // Asked, not remembered: another replica may have pruned it since.
                let key = format!("{prefix}{name}");
                if mirror.blob.etag(&key).map_err(|e| e.to_string())?.is_none() {
                    let parts = load().map_err(|e| format!("reading {name}: {e}"))?;
                    mirror.blob.put(&key, parts.concat()).map_err(|e| e.to_string())?;
                }
                mirror.note(key);
                Ok(())
            },
        ))
    }

    /// Forgets that the last sync of `dist/repo` failed: another replica published since, and
    /// the bucket holds its generation.
    pub fn clear_dirty(&self, dist: &str, repo: RepoKind) {
        self.dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(dist.to_string(), repo));
    }

    /// Replaces repomd.xml only over the version this daemon wrote (or found at its first sync).
    fn write_repomd(&self, key: &str, bytes: Vec<u8>) -> BlobResult<()> {
        let mut last = self.repomd.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned();
        if self.shared {
            // Another replica may have written it since: publications of one repository are
            // serialised across replicas by the database (`Db::lock_repository`), held here, so
            // the version to replace is the one there now.
            last = None;
        }
        let previous = match last {
            Some((_, ref old)) if *old == bytes => return Ok(()),
            Some((etag, _)) => Some(etag),
            None => {
                // First sync since start: the object as it is now; an identical one stays.
                match self.blob.etag(key)? {
                    Some(etag) if self.blob.get(key)? == bytes => {
                        self.remember(key, etag, bytes);
                        return Ok(());
                    }
                    other => other,
                }
            }
        };
        let etag = self.blob.replace(key, bytes.clone(), previous.as_deref())?;
        self.remember(key, etag, bytes);
        Ok(())
    }

    fn remember(&self, key: &str, etag: String, bytes: Vec<u8>) {
        self.repomd
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), (etag, bytes));
    }

    /// Copies package `sha256` from the bucket's store into `dest` (a temporary file of the
    /// local store) and checks its checksum: an upload another replica took.
    pub fn fetch_package(&self, sha256: &str, dest: &mut std::fs::File) -> BlobResult<()> {
        use sha2::{Digest, Sha256};
        use std::io::Write;
        let key = package_key(sha256);
        let bytes = self.blob.get(&key)?;
        let found = hex::encode(Sha256::digest(&bytes));
        if found != sha256 {
            return Err(BlobError::Store(format!("{key} holds content with sha256 {found}")));
        }
        dest.write_all(&bytes).map_err(|source| BlobError::Io {
            path: key.clone(),
            source,
        })?;
        self.note(key);
        Ok(())
    }

    /// Whether downloads of repository file `rel` (`<dist>/<repo>/...`) are redirected to the
    /// bucket: packages, with `redirect_downloads`. Cheap, for the serving path.
    pub fn redirects(&self, rel: &str) -> bool {
        self.redirect && rel.split('/').nth(2) == Some("Packages")
    }

    /// A short-lived URL of the bucket copy of repository file `rel` (`<dist>/<repo>/...`),
    /// when downloads are redirected and the object is known to be there.
    pub fn download_url(&self, rel: &str) -> Option<String> {
        if !self.redirects(rel) {
            return None;
        }
        let key = format!("repos/{rel}");
        if !self.is_known(&key) {
            return None;
        }
        match self.blob.presigned_get(&key, self.ttl) {
            Ok(url) => Some(url),
            Err(e) => {
                tracing::warn!(key, error = %e, "cannot presign a download; serving it directly");
                None
            }
        }
    }
}

/// The repodata/ files of the working copy's newest generation (relative to the repository):
/// repomd.xml, its signatures and the files it names.
fn newest_generation(dir: &Path) -> BlobResult<HashSet<String>> {
    let path = dir.join("repodata/repomd.xml");
    let text = std::fs::read_to_string(&path).map_err(|source| BlobError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut files: HashSet<String> = crate::repodata::repomd_files(&text)
        .unwrap_or_default()
        .into_iter()
        .map(|f| f.href)
        .collect();
    let revision = crate::repodata::repomd_revision(&text).unwrap_or_default();
    files.insert(format!("repodata/{}", crate::repodata::signature_name(&revision)));
    for name in ["repomd.xml", "repomd.xml.asc", "generations.json"] {
        files.insert(format!("repodata/{name}"));
    }
    Ok(files)
}

/// The files of a repository's working copy, relative to it: `Packages/*` and `repodata/*`,
/// without dot-files (temporary names of a publication in progress).
fn local_files(dir: &Path) -> BlobResult<Vec<String>> {
    let mut files = Vec::new();
    for sub in ["Packages", "repodata"] {
        let entries = match std::fs::read_dir(dir.join(sub)) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(BlobError::Io {
                    path: dir.join(sub).display().to_string(),
                    source,
                })
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(format!("{sub}/{name}"));
            }
        }
    }
    files.sort();
    Ok(files)
}

impl crate::service::App {
    /// Makes sure package `sha256` is in the local store, fetching it from the bucket when
    /// another replica took the upload; a package in neither is left to the caller's error.
    pub(crate) fn fetch_missing_package(&self, sha256: &str) -> crate::service::ServiceResult<()> {
        let Some(mirror) = &self.mirror else {
            return Ok(());
        };
        if self.store.path(sha256).exists() {
            return Ok(());
        }
        let mut temp = self.store.temp_file()?;
        mirror.fetch_package(sha256, temp.as_file_mut())?;
        self.store.commit(temp, sha256)?;
        tracing::info!(sha256, "fetched a package another replica took from the bucket");
        Ok(())
    }
}
