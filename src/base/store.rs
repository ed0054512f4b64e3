//! Saved base repositories: one gzip-compressed JSON file per base, `<name>.base.json.gz`,
//! replaced atomically (temporary file, fsync, rename, fsync of the directory).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{BaseError, BaseRepo};

/// Version of the file layout; files of another version are refused (re-import the base).
const FORMAT: u32 = 1;
const SUFFIX: &str = ".base.json.gz";

#[derive(Serialize)]
struct StoredRef<'a> {
    format: u32,
    repo: &'a BaseRepo,
}

#[derive(Deserialize)]
struct Stored {
    format: u32,
    repo: BaseRepo,
}

/// The path of base `name` in `dir`.
pub(crate) fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{SUFFIX}"))
}

fn write_err(path: &Path, source: std::io::Error) -> BaseError {
    BaseError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `repo` to `dir` (created if missing); returns the file's path.
pub(crate) fn save(repo: &BaseRepo, dir: &Path) -> Result<PathBuf, BaseError> {
    super::check_name(&repo.name)?;
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let target = path_of(dir, &repo.name);
    let tmp = tempfile::Builder::new()
        .prefix(".stagerepo-base-")
        .tempfile_in(dir)
        .map_err(|e| write_err(dir, e))?;
    let file = tmp.as_file().try_clone().map_err(|e| write_err(tmp.path(), e))?;
    let mut gz = flate2::write::GzEncoder::new(BufWriter::with_capacity(1 << 20, file), flate2::Compression::new(3));
    serde_json::to_writer(&mut gz, &StoredRef { format: FORMAT, repo })
        .map_err(|e| write_err(tmp.path(), std::io::Error::other(e)))?;
    let mut out = gz.finish().map_err(|e| write_err(tmp.path(), e))?;
    out.flush().map_err(|e| write_err(tmp.path(), e))?;
    tmp.as_file().sync_all().map_err(|e| write_err(tmp.path(), e))?;
    drop(out);
    tmp.persist(&target).map_err(|e| write_err(&target, e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| write_err(dir, e))?;
    Ok(target)
}

/// Reads a saved base file.
pub(crate) fn load_file(path: &Path) -> Result<BaseRepo, BaseError> {
    let file = File::open(path).map_err(|e| BaseError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let gz = flate2::read::GzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let stored: Stored =
        serde_json::from_reader(BufReader::with_capacity(1 << 20, gz)).map_err(|e| BaseError::Corrupt {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
    if stored.format != FORMAT {
        return Err(BaseError::Corrupt {
            path: path.display().to_string(),
            detail: format!(
                "format {} (this version reads {FORMAT}); import the base again",
                stored.format
            ),
        });
    }
    Ok(stored.repo)
}

/// Reads base `name` from `dir`.
pub(crate) fn load(dir: &Path, name: &str) -> Result<BaseRepo, BaseError> {
    super::check_name(name)?;
    let path = path_of(dir, name);
    if !path.exists() {
        return Err(BaseError::NotSaved {
            name: name.to_string(),
            dir: dir.display().to_string(),
        });
    }
    load_file(&path)
}

/// Names of the bases saved in `dir` (sorted; none when `dir` does not exist).
pub(crate) fn list(dir: &Path) -> Result<Vec<String>, BaseError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(BaseError::Io {
                path: dir.display().to_string(),
                source: e,
            })
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| BaseError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        if let Some(name) = entry.file_name().to_str().and_then(|f| f.strip_suffix(SUFFIX)) {
            if crate::domain::names::is_valid_name(name) {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Deletes base `name` from `dir`; false when it was not there.
pub(crate) fn remove(dir: &Path, name: &str) -> Result<bool, BaseError> {
    super::check_name(name)?;
    let path = path_of(dir, name);
    match std::fs::remove_file(&path) {
        Ok(()) => {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| write_err(dir, e))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(write_err(&path, e)),
    }
}
