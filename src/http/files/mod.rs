//! The repositories' files (`/repo/<dist>/<repo>/...`): GET and HEAD with Range, conditional
//! GET and caching headers, from an in-memory cache.
//!
//! Why a cache: every file under `repos/` is immutable once it has a name (packages are
//! content-addressed hard links, repodata files carry their checksum in their name) except
//! `repomd.xml` and its signatures, and the daemon is the only writer. So an entry (metadata,
//! plus the bytes of files up to [`MAX_CACHED_FILE`]) stays valid until the next publication,
//! which bumps [`App::files_generation`]; an entry from an older generation is checked again
//! (one `stat`) before use. A hit costs no syscall but the socket write.
//!
//! `repomd.xml` and `repomd.xml.asc` are served from one snapshot per repository: repomd.xml
//! and the per-generation signature of the revision it names (`repomd-<revision>.xml.asc`,
//! written before repomd.xml), so the pair served is always from the same generation, even in
//! the moment between a publication's two renames.
//!
//! Never served: names starting with a dot (temporary files of a publication or a link), and
//! anything reached through a symbolic link (a link under `Packages/` pointing at
//! `admin.token` must not hand out the token).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};

mod answer;

use answer::{respond, whole_seconds};

use super::AppState;
use crate::service::{ServiceError, ServiceResult};

/// Largest file kept in memory; bigger ones are streamed from disk.
pub const MAX_CACHED_FILE: u64 = 8 * 1024 * 1024;

/// Caching of content that never changes under its name (packages, checksum-named repodata).
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Caching of the files a publication replaces: always revalidate.
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
/// Chunk size when streaming a file from disk.
const CHUNK: usize = 256 * 1024;

/// The repository files' state: the application and the cache.
pub struct RepoFiles {
    pub app: AppState,
    root: PathBuf,
    budget: u64,
    cache: RwLock<Cache>,
}

#[derive(Default)]
struct Cache {
    files: HashMap<Box<str>, Arc<Entry>>,
    /// repomd.xml and its signature, per repodata directory (`<dist>/<repo>/repodata`).
    snapshots: HashMap<Box<str>, Arc<Snapshot>>,
    /// Bytes of file contents held in `files`.
    bytes: u64,
}

/// One file as served.
struct Entry {
    generation: u64,
    len: u64,
    /// (device, inode, mtime in ns): what tells a file changed.
    identity: (u64, u64, i128),
    modified: SystemTime,
    etag: HeaderValue,
    last_modified: HeaderValue,
    content_type: HeaderValue,
    content_length: HeaderValue,
    cache_control: HeaderValue,
    /// The contents, when small enough to keep.
    body: Option<Bytes>,
    /// The contents of a file not on disk yet (a generation written behind), as its pieces.
    parts: Option<Arc<[Bytes]>>,
    path: PathBuf,
}

struct Snapshot {
    generation: u64,
    repomd: Arc<Entry>,
    signature: Option<Arc<Entry>>,
}

impl RepoFiles {
    /// Serving state over `app`, keeping up to `budget` bytes of file contents in memory.
    pub fn new(app: AppState, budget: u64) -> Arc<RepoFiles> {
        Arc::new(RepoFiles {
            root: app.repos_dir().to_path_buf(),
            app,
            budget,
            cache: RwLock::new(Cache::default()),
        })
    }

    /// Answers GET or HEAD of `rel` (a path below `repos/`, already percent-decoded).
    pub async fn serve(self: &Arc<Self>, rel: &str, method: &Method, headers: &HeaderMap) -> ServiceResult<Response> {
        let not_found = || ServiceError::NotFound(format!("no file /repo/{rel}"));
        if !servable(rel) {
            return Err(not_found());
        }
        // With `redirect_downloads`, packages come from the bucket (its copy was written at upload,
        // so it is good even when the local one was found corrupt).
        if let Some(mirror) = self.app.mirror.as_ref().filter(|m| m.redirects(rel)) {
            let mirror = mirror.clone();
            let key = rel.to_string();
            let url = tokio::task::spawn_blocking(move || mirror.download_url(&key))
                .await
                .map_err(|e| ServiceError::Internal(format!("task failed: {e}")))?;
            if let Some(url) = url {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::FOUND;
                let h = response.headers_mut();
                h.insert(header::LOCATION, value(&url)?);
                // The URL expires: no cache may keep the redirect.
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                return Ok(response);
            }
        }
        // Before the cache: a file found corrupt is refused even if a good copy is in memory,
        // so that what clients get never depends on what happened to be cached. One atomic
        // load while nothing is corrupt.
        if let Some(m) = self.app.corrupt_file(rel) {
            tracing::error!(file = %rel, expected = %m.expected, found = %m.found, repair = %m.repair, "refused to serve a corrupt file");
            return Err(ServiceError::Corrupt(format!(
                "/repo/{rel} is corrupt on the server ({} expected, {} found); the administrator must {}",
                m.expected, m.found, m.repair
            )));
        }
        if self.app.pending.any() {
            if let Some(entry) = self.in_memory(rel)? {
                return respond(&entry, method, headers);
            }
        }
        let generation = self.app.files_generation();
        let entry = match rel.rsplit_once('/') {
            Some((dir, name @ ("repomd.xml" | "repomd.xml.asc"))) if dir.ends_with("/repodata") => {
                let snapshot = self.snapshot(dir, generation).await?;
                if name == "repomd.xml" {
                    Some(snapshot.repomd.clone())
                } else {
                    snapshot.signature.clone()
                }
            }
            _ => self.file(rel, generation).await?,
        };
        let entry = match entry {
            Some(entry) => entry,
            None => self.missing(rel).await?.ok_or_else(not_found)?,
        };
        respond(&entry, method, headers)
    }

    /// A repository file this replica does not have: when other replicas publish, it may be
    /// of a generation published since this one last looked. The replica catches up at once
    /// (or reads repodata through from the bucket when it cannot).
    async fn missing(self: &Arc<Self>, rel: &str) -> ServiceResult<Option<Arc<Entry>>> {
        if !self.app.db.may_be_shared() {
            return Ok(None);
        }
        let mut parts = rel.splitn(3, '/');
        let (Some(dist), Some(repo), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return Ok(None);
        };
        let Some(repo) = crate::domain::repo::RepoKind::parse(repo) else {
            return Ok(None);
        };
        let (app, dist_name) = (self.app.clone(), dist.to_string());
        let caught_up = tokio::task::spawn_blocking(move || app.catch_up_repository(&dist_name, repo))
            .await
            .map_err(|e| ServiceError::Internal(format!("task failed: {e}")))?;
        match caught_up {
            // Up to date now, by this request or by another one that got there first.
            Ok(_) => {
                if let Some(entry) = self.file(rel, self.app.files_generation()).await? {
                    return Ok(Some(entry));
                }
            }
            Err(e) => tracing::warn!(file = rel, error = %e, "cannot catch up with another replica's publication"),
        }
        Ok(self.read_through(rel).await?.map(Arc::new))
    }

    /// Repodata of a generation another replica published and this one does not serve yet,
    /// read through from the shared bucket (see [`crate::service::mirror::Mirror::shared_repodata`]).
    async fn read_through(&self, rel: &str) -> ServiceResult<Option<Entry>> {
        let Some(mirror) = self.app.mirror.clone() else {
            return Ok(None);
        };
        let key = rel.to_string();
        let bytes = tokio::task::spawn_blocking(move || mirror.shared_repodata(&key))
            .await
            .map_err(|e| ServiceError::Internal(format!("task failed: {e}")))?;
        let Some(bytes) = bytes.map(Bytes::from) else {
            return Ok(None);
        };
        let etag = name_etag(rel).unwrap_or_else(|| content_etag(&bytes));
        let len = bytes.len() as u64;
        let modified = whole_seconds(SystemTime::now());
        Ok(Some(self.held_entry(rel, &etag, len, modified, Some(bytes), None)?))
    }

    /// The entry of file `rel` whose contents are held in memory, whole or as pieces, rather
    /// than on disk.
    fn held_entry(
        &self,
        rel: &str,
        etag: &str,
        len: u64,
        modified: SystemTime,
        body: Option<Bytes>,
        parts: Option<Arc<[Bytes]>>,
    ) -> ServiceResult<Entry> {
        let name = rel.rsplit('/').next().unwrap_or("");
        Ok(Entry {
            generation: 0,
            len,
            identity: (0, 0, 0),
            modified,
            etag: value(etag)?,
            last_modified: value(&httpdate::fmt_http_date(modified))?,
            content_type: HeaderValue::from_static(content_type(name)),
            content_length: HeaderValue::from(len),
            cache_control: if is_immutable(rel) { IMMUTABLE } else { NO_CACHE },
            body,
            parts,
            path: self.root.join(rel),
        })
    }

    /// The file from a generation that is served from memory while it is written to disk:
    /// its repomd.xml, signature and new files (the files it shares with older generations
    /// are on disk already).
    fn in_memory(&self, rel: &str) -> ServiceResult<Option<Entry>> {
        let Some((dir, name)) = rel.rsplit_once('/').filter(|(dir, _)| dir.ends_with("/repodata")) else {
            return Ok(None);
        };
        let Some(generation) = self.app.pending.get(&self.root.join(dir)) else {
            return Ok(None);
        };
        let whole = if name == "repomd.xml" {
            Some(generation.repomd.clone())
        } else if name == "repomd.xml.asc" || name == crate::repodata::signature_name(&generation.revision) {
            // An unsigned generation has no signature, whatever an older one left on disk.
            let signature = generation.signature.clone();
            Some(signature.ok_or_else(|| ServiceError::NotFound(format!("no file /repo/{rel}")))?)
        } else {
            None
        };
        let (bytes, parts, len, modified) = if let Some(b) = whole {
            let len = b.len() as u64;
            (Some(b), None, len, generation.modified)
        } else if let Some(file) = generation.files.get(name) {
            (None, Some(file.parts.clone()), file.len, file.modified)
        } else {
            return Ok(None);
        };
        let etag = match (&bytes, name_etag(rel)) {
            (_, Some(tag)) => tag,
            (Some(b), None) => content_etag(b),
            (None, None) => return Ok(None),
        };
        Ok(Some(self.held_entry(rel, &etag, len, modified, bytes, parts)?))
    }

    async fn file(self: &Arc<Self>, rel: &str, generation: u64) -> ServiceResult<Option<Arc<Entry>>> {
        let previous = {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            match cache.files.get(rel) {
                Some(e) if e.generation == generation => return Ok(Some(e.clone())),
                other => other.cloned(),
            }
        };
        let this = self.clone();
        let key: Box<str> = rel.into();
        tokio::task::spawn_blocking(move || {
            let room = this
                .budget
                .saturating_sub(this.cache.read().unwrap_or_else(|p| p.into_inner()).bytes);
            let loaded = load(&this.root, &key, generation, previous.as_deref(), room)?;
            let mut cache = this.cache.write().unwrap_or_else(|p| p.into_inner());
            let old = match &loaded {
                Some(entry) => cache.files.insert(key, entry.clone()),
                None => cache.files.remove(&key),
            };
            let freed = old.and_then(|o| o.body.as_ref().map(|b| b.len() as u64)).unwrap_or(0);
            let added = loaded
                .as_ref()
                .and_then(|e| e.body.as_ref())
                .map_or(0, |b| b.len() as u64);
            cache.bytes = cache.bytes.saturating_sub(freed) + added;
            evict(&mut cache, this.budget);
            Ok(loaded)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("task failed: {e}")))?
    }

    async fn snapshot(self: &Arc<Self>, dir: &str, generation: u64) -> ServiceResult<Arc<Snapshot>> {
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            // With the cache off (`file_cache_mb = 0`) every request reads the disk, repomd too.
            if let Some(s) = cache
                .snapshots
                .get(dir)
                .filter(|s| s.generation == generation && self.budget > 0)
            {
                return Ok(s.clone());
            }
        }
        let this = self.clone();
        let key: Box<str> = dir.into();
        tokio::task::spawn_blocking(move || {
            let repomd = load(
                &this.root,
                &format!("{key}/repomd.xml"),
                generation,
                None,
                MAX_CACHED_FILE,
            )?
            .filter(|e| e.body.is_some())
            .ok_or_else(|| ServiceError::NotFound(format!("no file /repo/{key}/repomd.xml")))?;
            let body = repomd.body.as_deref().unwrap_or_default();
            // The signature of exactly this repomd.xml, whatever repomd.xml.asc says by now.
            let signature = match revision(body) {
                Some(rev) => {
                    let name = crate::repodata::signature_name(rev);
                    load(&this.root, &format!("{key}/{name}"), generation, None, MAX_CACHED_FILE)?
                        .filter(|e| e.body.is_some())
                }
                None => None,
            };
            let snapshot = Arc::new(Snapshot {
                generation,
                repomd,
                signature,
            });
            let mut cache = this.cache.write().unwrap_or_else(|p| p.into_inner());
            cache.snapshots.insert(key, snapshot.clone());
            Ok(snapshot)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("task failed: {e}")))?
    }
}

/// Whether a path may name a served file: relative, no empty, `.` or `..` segments, no
/// segment starting with a dot (temporary files), no NUL or backslash.
fn servable(rel: &str) -> bool {
    !rel.is_empty()
        && rel
            .split('/')
            .all(|s| !s.is_empty() && !s.starts_with('.') && !s.contains(['\0', '\\']))
}

/// The `<revision>` of a repomd.xml.
fn revision(repomd: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(repomd).ok()?;
    let start = text.find("<revision>")? + "<revision>".len();
    let len = text[start..].find("</revision>")?;
    Some(text[start..start + len].trim())
}

/// Drops cached contents until they fit the budget (arbitrary victims: cheap, and as good as
/// any policy for a working set that rarely exceeds it).
fn evict(cache: &mut Cache, budget: u64) {
    if cache.bytes <= budget {
        return;
    }
    let victims: Vec<Box<str>> = cache
        .files
        .iter()
        .filter(|(_, e)| e.body.is_some())
        .map(|(k, _)| k.clone())
        .collect();
    for key in victims {
        if cache.bytes <= budget {
            break;
        }
        if let Some(e) = cache.files.remove(&key) {
            cache.bytes = cache
                .bytes
                .saturating_sub(e.body.as_ref().map_or(0, |b| b.len() as u64));
        }
    }
}

/// Opens `root/rel` without following any symbolic link below `root`: every directory on the
/// way must be a real directory, and the file itself is opened with `O_NOFOLLOW`.
fn open_beneath(root: &Path, rel: &str) -> std::io::Result<Option<(File, std::fs::Metadata)>> {
    let mut dir = root.to_path_buf();
    let mut segments = rel.split('/').peekable();
    while let Some(segment) = segments.next() {
        if segments.peek().is_none() {
            break;
        }
        dir.push(segment);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Ok(None),
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(root.join(rel))
    {
        Ok(f) => f,
        // ELOOP: the file is a symbolic link.
        Err(e) if is_absent(&e) || e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    Ok(meta.file_type().is_file().then_some((file, meta)))
}

fn is_absent(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// Reads a file's entry; reuses `previous` (its contents) when the file did not change.
fn load(
    root: &Path,
    rel: &str,
    generation: u64,
    previous: Option<&Entry>,
    room: u64,
) -> ServiceResult<Option<Arc<Entry>>> {
    let Some((mut file, meta)) = open_beneath(root, rel)? else {
        return Ok(None);
    };
    let identity = (
        meta.dev(),
        meta.ino(),
        meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
    );
    if let Some(prev) = previous.filter(|p| p.identity == identity && p.len == meta.len()) {
        return Ok(Some(Arc::new(Entry {
            generation,
            len: prev.len,
            identity,
            modified: prev.modified,
            etag: prev.etag.clone(),
            last_modified: prev.last_modified.clone(),
            content_type: prev.content_type.clone(),
            content_length: prev.content_length.clone(),
            cache_control: prev.cache_control.clone(),
            body: prev.body.clone(),
            parts: None,
            path: prev.path.clone(),
        })));
    }
    let len = meta.len();
    let body = if len <= MAX_CACHED_FILE.min(room) {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)?;
        if bytes.len() as u64 != len {
            // Changed while read: not one of ours; serve it from disk.
            None
        } else {
            Some(Bytes::from(bytes))
        }
    } else {
        None
    };
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let immutable = is_immutable(rel);
    let etag = match (&body, immutable, name_etag(rel)) {
        // Checksum-named repodata: by its name, the same from memory and from disk (and on
        // any replica holding the file).
        (_, _, Some(tag)) => tag,
        // Mutable names: by content, so that an unchanged repomd.xml keeps its ETag.
        (Some(b), false, None) => content_etag(b),
        _ => format!("\"{:x}-{:x}-{:x}\"", identity.1, len, identity.2),
    };
    let name = rel.rsplit('/').next().unwrap_or(rel);
    Ok(Some(Arc::new(Entry {
        generation,
        len,
        identity,
        modified,
        etag: HeaderValue::from_str(&etag).map_err(|e| ServiceError::Internal(e.to_string()))?,
        last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(modified))
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
        content_type: HeaderValue::from_static(content_type(name)),
        content_length: HeaderValue::from(len),
        cache_control: if immutable { IMMUTABLE } else { NO_CACHE },
        body,
        parts: None,
        path: root.join(rel),
    })))
}

/// The ETag of a file by its contents.
fn content_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..12]))
}

/// The ETag of checksum-named repodata (`repodata/<sha256>-<kind>...`): from its name.
fn name_etag(rel: &str) -> Option<String> {
    let mut parts = rel.rsplit('/');
    let name = parts.next()?;
    let (hash, _) = name.split_once('-')?;
    (parts.next() == Some("repodata") && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("\"{}\"", &hash[..24]))
}

/// Packages and checksum-named repodata never change under their name.
fn is_immutable(rel: &str) -> bool {
    let mut parts = rel.rsplit('/');
    let name = parts.next().unwrap_or("");
    match parts.next() {
        Some("Packages") => true,
        Some("repodata") => name
            .split_once('-')
            .is_some_and(|(hash, _)| hash.len() >= 32 && hash.bytes().all(|b| b.is_ascii_hexdigit())),
        _ => false,
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "rpm" => "application/x-rpm",
        "xml" => "text/xml",
        "gz" => "application/gzip",
        "zst" => "application/zstd",
        "bz2" => "application/x-bzip2",
        "xz" => "application/x-xz",
        "asc" => "application/pgp-signature",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn value(s: &str) -> ServiceResult<HeaderValue> {
    HeaderValue::from_str(s).map_err(|e| ServiceError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::answer::slices;
    use super::*;

    #[test]
    fn ranges_of_pieces_are_cut_without_copying() {
        let parts: Vec<Bytes> = ["abc", "", "defg", "h"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        let cut = |a, b| slices(&parts, a, b).concat();
        assert_eq!(cut(0, 8), b"abcdefgh");
        assert_eq!(cut(2, 5), b"cde");
        assert_eq!(cut(3, 7), b"defg");
        assert_eq!(cut(7, 8), b"h");
        assert!(slices(&parts, 4, 4).is_empty());
    }

    #[test]
    fn checksum_named_repodata_has_an_etag_from_its_name() {
        let hash = "ab".repeat(32);
        assert_eq!(
            name_etag(&format!("el9/beta/repodata/{hash}-primary.xml.gz")),
            Some(format!("\"{}\"", &hash[..24]))
        );
        assert_eq!(name_etag("el9/beta/repodata/repomd.xml"), None);
        assert_eq!(name_etag(&format!("el9/beta/Packages/{hash}-x.rpm")), None);
    }

    #[test]
    fn servable_paths() {
        assert!(servable("el9/beta/Packages/a-1-1.noarch.rpm"));
        assert!(servable("el9/beta/repodata/repomd.xml"));
        for bad in [
            "",
            "el9//x",
            "el9/beta/repodata/.stagerepo-tmp-primary.xml.gz.1.2",
            "el9/beta/Packages/.a.rpm.tmp",
            "el9/../admin.token",
            "el9/./beta",
            "el9/beta/Packages/a\\b",
        ] {
            assert!(!servable(bad), "{bad}");
        }
    }

    #[test]
    fn immutable_names() {
        let h = "ab".repeat(32);
        assert!(is_immutable("el9/beta/Packages/a-1-1.noarch.rpm"));
        assert!(is_immutable(&format!("el9/beta/repodata/{h}-primary.xml.gz")));
        assert!(!is_immutable("el9/beta/repodata/repomd.xml"));
        assert!(!is_immutable("el9/beta/repodata/repomd-17.xml.asc"));
        assert!(!is_immutable("el9/beta/repodata/generations.json"));
    }

    #[test]
    fn revisions() {
        assert_eq!(
            revision(b"<repomd>\n  <revision>1700000000</revision>\n"),
            Some("1700000000")
        );
        assert_eq!(revision(b"<repomd/>"), None);
    }
}
