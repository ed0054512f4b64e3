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
    pub fn open(blob: Arc<dyn BlobStore>, redirect: bool, ttl: Duration, shared: bool) -> BlobResult<Mirror> {
        let known = blob.list("")?.into_iter().collect();
        Ok(Mirror {
            blob,
            known: Mutex::new(known),
            repomd: Mutex::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
            redirect,
            ttl,
            shared,
        })
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
        let local = local_files(dir)?;
        // 1. Immutable objects: packages, checksum-named repodata, per-generation signatures.
        let mut replaceable = Vec::new();
        for rel in &local {
            let key = format!("{prefix}{rel}");
            if matches!(
                rel.as_str(),
                "repodata/repomd.xml" | "repodata/repomd.xml.asc" | "repodata/generations.json"
            ) {
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
        // 3. Shared with other replicas, the bucket's older generations may be ones another
        // replica's readers still follow: they stay (see README "Two replicas").
        if self.shared {
            return Ok(());
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
