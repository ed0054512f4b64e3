//! Backup of a running server's data directory, and offline restore.
//!
//! A backup directory holds:
//! - `stagerepo.db`: SQLite's online backup of the database;
//! - `store/xx/<sha256>`: every package file, a hard link to the live store where the file
//!   system allows (package files are never modified), else a copy;
//! - `repos/<dist>/<repo>/`: copies of the metadata, and `Packages/` entries as hard links into
//!   the backup's own `store/`;
//! - `admin.token` and `secret.key` (mode 0600; the key opens the sealed webhook secrets);
//! - the directory itself is 0750 and `stagerepo.db` 0600, whatever the umask;
//! - `manifest.json`, written last: every file with its sha256 and size (a `Packages/` entry
//!   names the store file it links to). A directory without it is not a complete backup.
//!
//! The snapshot is taken with every repository's publication lock held (and the database
//! copied under its connection lock), so the repositories on disk and the database agree.
//! Package files are listed after the database is copied: a package the database knows was
//! stored before its row was written, so it is in the listing. Package files are never
//! modified or deleted, so copying them (when they cannot be linked) and hashing them happen
//! after the locks are released; publications wait only for the listing and the metadata.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::auth::Actor;
use super::{App, ServiceError, ServiceResult};
use crate::db::DbError;

/// Name of the manifest in a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Version of the backup layout this build writes and reads.
pub const FORMAT: u32 = 1;

const DATABASE_FILE: &str = "stagerepo.db";
const TOKEN_FILE: &str = "admin.token";
/// Files copied with mode 0600.
const PRIVATE_FILES: [&str; 2] = [TOKEN_FILE, crate::secrets::KEY_FILE];

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// The stagerepo version that wrote it.
    pub stagerepo_version: String,
    /// Seconds since the epoch when the snapshot was taken.
    pub created_at: i64,
    /// Every file, sorted by path.
    pub files: Vec<ManifestEntry>,
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Path relative to the backup directory, with `/` separators.
    pub path: String,
    /// Hex sha256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// For a repository's `Packages/` entry: the store file it is a hard link to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_to: Option<String>,
}

/// The answer to a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupOutcome {
    /// Where the backup was written.
    pub dir: String,
    /// Files in the manifest.
    pub files: usize,
    /// Package files in the store.
    pub packages: usize,
    /// Bytes of the package files.
    pub package_bytes: u64,
    /// Package files hard-linked to the live store.
    pub linked: usize,
    /// Package files copied (another file system).
    pub copied: usize,
    /// Milliseconds the publication locks were held.
    pub locked_millis: u128,
    /// Milliseconds in all.
    pub millis: u128,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    /// The new data directory.
    pub data_dir: String,
    /// Files restored (and verified).
    pub files: usize,
    /// Bytes verified.
    pub bytes: u64,
}

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The server resolves the backup directory itself, so it must be absolute.
    #[error("the backup directory must be an absolute path on the server, not {0}")]
    RelativePath(PathBuf),
    /// Backups and restores go into new directories only.
    #[error("{0} exists and is not empty; use a new directory")]
    NotEmpty(PathBuf),
    /// The destination cannot be written.
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    /// The source cannot be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// The database backup failed.
    #[error("database backup: {0}")]
    Db(#[from] DbError),
    /// A file does not have the content it should.
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
    /// The backup's manifest is missing or unusable.
    #[error("{path}: not a usable stagerepo backup: {message}")]
    Manifest { path: PathBuf, message: String },
}

impl From<BackupError> for ServiceError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::RelativePath(_) | BackupError::Write { .. } => ServiceError::Invalid(e.to_string()),
            // PostgreSQL: the database is backed up with its own tools (pg_dump).
            BackupError::Db(DbError::Unsupported(m)) => ServiceError::Invalid(m),
            // A corrupt stored package is a state the admin repairs, not a server failure.
            BackupError::NotEmpty(_) | BackupError::Corrupt { .. } => ServiceError::Conflict(e.to_string()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

fn write_err(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn read_err(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Read {
        path: path.to_path_buf(),
        source,
    }
}

impl App {
    /// Runs `f` with every repository's publication lock held (taken in a fixed order), so
    /// that no publication is under way or starts while it runs.
    pub fn with_publications_paused<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut keys: Vec<_> = self.publishers.keys().collect();
        keys.sort();
        let _guards: Vec<_> = keys
            .into_iter()
            .map(|k| self.publishers[k].lock().unwrap_or_else(|p| p.into_inner()))
            .collect();
        f()
    }

    /// `POST /api/v1/admin/backup`: writes a consistent backup into the new directory `dir`
    /// while the server keeps serving (admin only).
    pub fn backup(&self, actor: &Actor, dir: &Path) -> ServiceResult<BackupOutcome> {
        actor.require_admin()?;
        self.pending.flush_all();
        let outcome = match self.backup_into(dir) {
            Err(e @ BackupError::Corrupt { .. }) => {
                // Mark what is damaged, as `admin verify` would: it is then refused for
                // download, and a re-upload of its bytes repairs it (an unmarked package's
                // re-upload is a no-op).
                if let Err(v) = self.check_storage(None) {
                    tracing::error!(error = %v, "checking the store after a corrupt package stopped a backup");
                }
                return Err(e.into());
            }
            other => other?,
        };
        tracing::info!(dir = %dir.display(), files = outcome.files, packages = outcome.packages,
            linked = outcome.linked, copied = outcome.copied, locked_ms = outcome.locked_millis as u64,
            ms = outcome.millis as u64, actor = %actor.label(), "backup written");
        Ok(outcome)
    }

    fn backup_into(&self, dir: &Path) -> Result<BackupOutcome, BackupError> {
        if !dir.is_absolute() {
            return Err(BackupError::RelativePath(dir.to_path_buf()));
        }
        self.db.check_backup()?;
        ensure_new_dir(dir)?;
        let result = self.write_backup(dir);
        if result.is_err() {
            // The directory was empty: leave it so, not half a backup.
            if let Ok(items) = fs::read_dir(dir) {
                for item in items.flatten() {
                    let _ = fs::remove_dir_all(item.path()).or_else(|_| fs::remove_file(item.path()));
                }
            }
        }
        result
    }

    fn write_backup(&self, dir: &Path) -> Result<BackupOutcome, BackupError> {
        let started = Instant::now();
        let data = self.config.data_dir.clone();
        let mut entries: BTreeMap<String, ManifestEntry> = BTreeMap::new();
        let (mut linked, mut copied) = (0, 0);
        let mut store_paths = Vec::new();
        // Work that needs no lock, since package files are never modified or deleted: copies of
        // package files that could not be linked, and the Packages/ links into the backup.
        let mut to_copy: Vec<(PathBuf, String)> = Vec::new();
        let mut to_link: Vec<(String, String)> = Vec::new();
        let created_at = self.clock.now();

        let locked = Instant::now();
        self.with_publications_paused(|| -> Result<(), BackupError> {
            let db = dir.join(DATABASE_FILE);
            self.db.backup_to(&db)?;
            entries.insert(DATABASE_FILE.into(), entry_of(DATABASE_FILE, &db)?);

            // Package files: remembered by inode, to find what each Packages/ entry links to.
            let mut by_inode: HashMap<(u64, u64), String> = HashMap::new();
            for (rel, src) in walk_files(&data.join("store"))? {
                let rel = format!("store/{rel}");
                let dest = dir.join(&rel);
                create_parent(&dest)?;
                if fs::hard_link(&src, &dest).is_ok() {
                    linked += 1;
                } else {
                    to_copy.push((src.clone(), rel.clone()));
                }
                let meta = fs::metadata(&src).map_err(read_err(&src))?;
                by_inode.insert((meta.dev(), meta.ino()), rel.clone());
                store_paths.push(rel);
            }

            for (rel, src) in walk_files(&data.join("repos"))? {
                let name = rel.rsplit('/').next().unwrap_or_default();
                if name.starts_with('.') {
                    continue; // a temporary file of an interrupted publication
                }
                let rel = format!("repos/{rel}");
                let meta = fs::metadata(&src).map_err(read_err(&src))?;
                let in_packages = rel.rsplit('/').nth(1) == Some("Packages");
                match by_inode.get(&(meta.dev(), meta.ino())).filter(|_| in_packages) {
                    Some(target) => {
                        to_link.push((rel.clone(), target.clone()));
                        entries.insert(
                            rel.clone(),
                            ManifestEntry {
                                path: rel,
                                sha256: String::new(), // filled in from the target below
                                size: meta.len(),
                                link_to: Some(target.clone()),
                            },
                        );
                    }
                    None => {
                        let dest = dir.join(&rel);
                        copy_file(&src, &dest)?;
                        entries.insert(rel.clone(), entry_of(&rel, &dest)?);
                    }
                }
            }

            for name in PRIVATE_FILES {
                let src = data.join(name);
                if src.exists() {
                    let dest = dir.join(name);
                    crate::db::create_private(&dest).map_err(write_err(&dest))?;
                    copy_file(&src, &dest)?;
                    fs::set_permissions(&dest, fs::Permissions::from_mode(0o600)).map_err(write_err(&dest))?;
                    entries.insert(name.into(), entry_of(name, &dest)?);
                }
            }
            Ok(())
        })?;
        let locked_millis = locked.elapsed().as_millis();
        for (src, rel) in &to_copy {
            copy_file(src, &dir.join(rel))?;
            copied += 1;
        }
        for (rel, target) in &to_link {
            hard_link_or_copy(&dir.join(target), &dir.join(rel))?;
        }

        // Outside the locks: package files are immutable; hash them and check their names.
        let mut package_bytes = 0;
        for rel in &store_paths {
            let entry = entry_of(rel, &dir.join(rel))?;
            let named = rel.rsplit('/').next().unwrap_or_default();
            if entry.sha256 != named {
                // Named by its file, with the repair, so that the admin can act on it.
                let package = match self.db.packages_by_sha(&[named.to_string()]) {
                    Ok(p) if !p.is_empty() => format!(
                        "; the stored package {0} is corrupt (now refused for download, see `stagerepo admin verify`): re-upload {0} (the same bytes), then back up again",
                        p[0].filename
                    ),
                    _ => String::new(),
                };
                return Err(BackupError::Corrupt {
                    path: data.join(rel).display().to_string(),
                    message: format!(
                        "content has sha256 {}, not the one its name says{package}",
                        entry.sha256
                    ),
                });
            }
            package_bytes += entry.size;
            entries.insert(rel.clone(), entry);
        }
        let store_sha: HashMap<String, String> = store_paths
            .iter()
            .map(|p| (p.clone(), entries[p].sha256.clone()))
            .collect();
        for e in entries.values_mut() {
            if let Some(target) = &e.link_to {
                e.sha256 = store_sha[target].clone();
            }
        }

        let manifest = Manifest {
            format: FORMAT,
            stagerepo_version: env!("CARGO_PKG_VERSION").into(),
            created_at,
            files: entries.into_values().collect(),
        };
        write_manifest(dir, &manifest)?;
        Ok(BackupOutcome {
            dir: dir.display().to_string(),
            files: manifest.files.len(),
            packages: store_paths.len(),
            package_bytes,
            linked,
            copied,
            locked_millis,
            millis: started.elapsed().as_millis(),
        })
    }
}

/// Reads and checks a backup's manifest.
pub fn read_manifest(backup: &Path) -> Result<Manifest, BackupError> {
    let path = backup.join(MANIFEST_FILE);
    let bad = |message: String| BackupError::Manifest {
        path: path.clone(),
        message,
    };
    let text = fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(bad(format!("format {} is not the supported {FORMAT}", manifest.format)));
    }
    for e in &manifest.files {
        for p in std::iter::once(&e.path).chain(e.link_to.iter()) {
            if !is_safe_relative(p) {
                return Err(bad(format!("{p:?} is not a plain relative path")));
            }
        }
    }
    if !manifest.files.iter().any(|e| e.path == DATABASE_FILE) {
        return Err(bad(format!("{DATABASE_FILE} is not listed")));
    }
    Ok(manifest)
}

/// `stagerepo restore DIR --data-dir NEW` (server stopped or elsewhere): verifies every file of
/// the backup against its manifest and builds the data directory `data_dir`, which must not
/// exist or be empty. It is built beside `data_dir` and renamed into place at the end.
pub fn restore(backup: &Path, data_dir: &Path) -> Result<RestoreOutcome, BackupError> {
    let manifest = read_manifest(backup)?;
    if data_dir.exists() && !is_empty_dir(data_dir)? {
        return Err(BackupError::NotEmpty(data_dir.to_path_buf()));
    }
    let name = data_dir
        .file_name()
        .ok_or_else(|| BackupError::Write {
            path: data_dir.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a directory name"),
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(write_err(&parent))?;
    let staging = parent.join(format!(".{name}.restoring"));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(write_err(&staging))?;
    }
    fs::create_dir(&staging).map_err(write_err(&staging))?;

    let mut bytes = 0;
    let by_path: HashMap<&str, &ManifestEntry> = manifest.files.iter().map(|e| (e.path.as_str(), e)).collect();
    for e in manifest.files.iter().filter(|e| e.link_to.is_none()) {
        let src = backup.join(&e.path);
        let (sha, size) = hash_file(&src)?;
        if size != e.size || sha != e.sha256 {
            return Err(BackupError::Corrupt {
                path: src.display().to_string(),
                message: format!(
                    "has {size} bytes with sha256 {sha}; the manifest says {} bytes with sha256 {}",
                    e.size, e.sha256
                ),
            });
        }
        bytes += size;
        let dest = staging.join(&e.path);
        if e.path.starts_with("store/") {
            link_or_copy(&src, &dest)?;
        } else {
            copy_file(&src, &dest)?;
        }
    }
    for e in manifest.files.iter().filter(|e| e.link_to.is_some()) {
        let target = e.link_to.as_deref().unwrap_or_default();
        match by_path.get(target) {
            Some(t) if t.link_to.is_none() && t.sha256 == e.sha256 => {}
            _ => {
                return Err(BackupError::Manifest {
                    path: backup.join(MANIFEST_FILE),
                    message: format!(
                        "{} links to {target}, which is not a listed file with its checksum",
                        e.path
                    ),
                })
            }
        }
        hard_link_or_copy(&staging.join(target), &staging.join(&e.path))?;
    }
    for name in PRIVATE_FILES {
        let path = staging.join(name);
        if path.exists() {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(write_err(&path))?;
        }
    }
    let db = staging.join(DATABASE_FILE);
    crate::db::restrict_files(&db).map_err(write_err(&db))?;
    fs::set_permissions(&staging, fs::Permissions::from_mode(0o750)).map_err(write_err(&staging))?;
    fs::File::open(staging.join(DATABASE_FILE))
        .and_then(|f| f.sync_all())
        .map_err(write_err(&staging))?;
    if data_dir.exists() {
        fs::remove_dir(data_dir).map_err(write_err(data_dir))?;
    }
    fs::rename(&staging, data_dir).map_err(write_err(data_dir))?;
    Ok(RestoreOutcome {
        data_dir: data_dir.display().to_string(),
        files: manifest.files.len(),
        bytes,
    })
}

/// A relative path of plain names (`a/b/c`): nothing absolute, empty, `.` or `..`.
fn is_safe_relative(p: &str) -> bool {
    p.split('/')
        .all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\0'))
        && Path::new(p).components().all(|c| matches!(c, Component::Normal(_)))
}

fn is_empty_dir(dir: &Path) -> Result<bool, BackupError> {
    Ok(fs::read_dir(dir).map_err(read_err(dir))?.next().is_none())
}

fn ensure_new_dir(dir: &Path) -> Result<(), BackupError> {
    let existed = dir.exists();
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    if !is_empty_dir(dir)? {
        return Err(BackupError::NotEmpty(dir.to_path_buf()));
    }
    // A backup holds the database and the admin token: not for other users.
    super::private_dir(dir, existed).map_err(write_err(dir))?;
    Ok(())
}

/// Every regular file under `root`, as (path relative to `root` with `/`, full path), sorted.
fn walk_files(root: &Path) -> Result<Vec<(String, PathBuf)>, BackupError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), BackupError> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound && dir == root => return Ok(()),
            Err(e) => return Err(read_err(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(read_err(dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(read_err(&path))?;
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((rel.join("/"), path));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

fn create_parent(path: &Path) -> Result<(), BackupError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(write_err(parent))?;
    }
    Ok(())
}

/// Hard-links `src` to `dest`, or copies it where linking is impossible; true when linked.
fn link_or_copy(src: &Path, dest: &Path) -> Result<bool, BackupError> {
    create_parent(dest)?;
    if fs::hard_link(src, dest).is_ok() {
        return Ok(true);
    }
    copy_file(src, dest)?;
    Ok(false)
}

fn hard_link_or_copy(src: &Path, dest: &Path) -> Result<(), BackupError> {
    link_or_copy(src, dest).map(|_| ())
}

fn copy_file(src: &Path, dest: &Path) -> Result<(), BackupError> {
    create_parent(dest)?;
    let mut from = fs::File::open(src).map_err(read_err(src))?;
    let mut to = fs::File::create(dest).map_err(write_err(dest))?;
    io::copy(&mut from, &mut to).map_err(write_err(dest))?;
    Ok(())
}

/// sha256 and size of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), BackupError> {
    let mut f = fs::File::open(path).map_err(read_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(read_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

fn entry_of(rel: &str, file: &Path) -> Result<ManifestEntry, BackupError> {
    let (sha256, size) = hash_file(file)?;
    Ok(ManifestEntry {
        path: rel.to_string(),
        sha256,
        size,
        link_to: None,
    })
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let tmp = dir.join(".manifest.json.tmp");
    let path = dir.join(MANIFEST_FILE);
    let mut f = fs::File::create(&tmp).map_err(write_err(&tmp))?;
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Write {
        path: path.clone(),
        source: io::Error::other(e),
    })?;
    f.write_all(&text).and_then(|_| f.sync_all()).map_err(write_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(write_err(&path))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(write_err(dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_must_stay_inside() {
        assert!(is_safe_relative("store/ab/abc"));
        assert!(!is_safe_relative("../etc/passwd"));
        assert!(!is_safe_relative("/etc/passwd"));
        assert!(!is_safe_relative("store/./x"));
        assert!(!is_safe_relative(""));
    }

    #[test]
    fn restore_refuses_tampered_files_and_escaping_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("b");
        fs::create_dir_all(backup.join("store/ab")).unwrap();
        fs::write(backup.join(DATABASE_FILE), b"db").unwrap();
        fs::write(backup.join("store/ab/abc"), b"pkg").unwrap();
        let mut manifest = Manifest {
            format: FORMAT,
            stagerepo_version: "0".into(),
            created_at: 0,
            files: vec![
                entry_of(DATABASE_FILE, &backup.join(DATABASE_FILE)).unwrap(),
                entry_of("store/ab/abc", &backup.join("store/ab/abc")).unwrap(),
            ],
        };
        write_manifest(&backup, &manifest).unwrap();
        let out = restore(&backup, &dir.path().join("data")).unwrap();
        assert_eq!(out.files, 2);
        assert_eq!(fs::read(dir.path().join("data/store/ab/abc")).unwrap(), b"pkg");
        // Into a directory that is not empty: refused.
        assert!(matches!(
            restore(&backup, &dir.path().join("data")),
            Err(BackupError::NotEmpty(_))
        ));

        fs::write(backup.join("store/ab/abc"), b"pkG").unwrap();
        let err = restore(&backup, &dir.path().join("data2")).unwrap_err();
        assert!(matches!(err, BackupError::Corrupt { .. }), "{err}");
        assert!(!dir.path().join("data2").exists());

        manifest.files[1].path = "../escape".into();
        write_manifest(&backup, &manifest).unwrap();
        let err = restore(&backup, &dir.path().join("data3")).unwrap_err();
        assert!(matches!(err, BackupError::Manifest { .. }), "{err}");
    }
}
