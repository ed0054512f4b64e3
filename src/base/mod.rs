//! Base repositories: the OS and EPEL repositories a distribution's middleware builds on.
//! Their packages provide what production packages require without being served by us.
//!
//! [`BaseRepo::import`] reads a yum repository (an `http(s)://` URL, a `file://` URL or a
//! local directory: the root that holds `repodata/`): `repodata/repomd.xml`, then primary and
//! filelists (gzip, zstd, xz, bzip2 or plain), streamed through quick-xml and verified against
//! the sha256 in repomd.xml, into [`DepPackage`]s. A base is saved to and loaded from a
//! directory the caller chooses ([`BaseRepo::save`], [`BaseRepo::load`]).
//!
//! Importing from a URL uses reqwest's *blocking* client: call it from a thread where
//! blocking is allowed (in the server, `spawn_blocking`), never from an async task.

mod parse;
mod source;
mod store;

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::closure::{DepPackage, ProviderIndex};
use source::Source;

/// A base repository as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRepo {
    /// The name it is known by (e.g. `el9-baseos`), also its file name when saved.
    pub name: String,
    /// Where it was imported from (URL or path, as given).
    pub source: String,
    /// When it was imported, Unix seconds.
    pub imported_at: i64,
    /// Its packages, with their full file lists.
    pub packages: Vec<DepPackage>,
}

/// Why importing, saving or loading a base repository failed.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    /// The name cannot be used.
    #[error(
        "invalid base repository name {0:?}: use 1-64 ASCII letters, digits, '.', '_' or '-', \
         starting with a letter or digit"
    )]
    BadName(String),
    /// The source is neither a supported URL nor a path.
    #[error("unsupported source {0:?}: give an http(s):// or file:// URL or a local directory")]
    UnsupportedSource(String),
    /// The server could not be reached (DNS, connection, TLS, timeout...).
    #[error("cannot reach {url}: {detail}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// There is no `repodata/repomd.xml` where the repository should be.
    #[error("no repository at {0}: repodata/repomd.xml not found (give the directory or URL that holds repodata/)")]
    MissingRepomd(String),
    /// A file repomd.xml names is missing.
    #[error("{0} not found (repomd.xml names it)")]
    NotFound(String),
    /// repomd.xml lists no primary or no filelists metadata.
    #[error("{repomd} lists no {kind} metadata")]
    MissingMetadata {
        /// Location of repomd.xml.
        repomd: String,
        /// `primary` or `filelists`.
        kind: &'static str,
    },
    /// Reading a file or a response failed (including decompression errors).
    #[error("reading {path}: {source}")]
    Io {
        /// What was being read.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A metadata file is not the XML it should be.
    #[error("bad XML in {file}: {detail}")]
    BadXml {
        /// The file.
        file: String,
        /// What is wrong.
        detail: String,
    },
    /// A metadata file is compressed in a way we cannot read.
    #[error("{file}: unsupported compression .{ext} (supported: .gz, .zst, .xz, .bz2, uncompressed .xml)")]
    UnsupportedCompression {
        /// The file.
        file: String,
        /// Its extension.
        ext: String,
    },
    /// A metadata file does not have the checksum repomd.xml gives.
    #[error("{file}: sha256 {actual} differs from {expected} in repomd.xml (did the repository change during the import? try again)")]
    ChecksumMismatch {
        /// The file.
        file: String,
        /// From repomd.xml.
        expected: String,
        /// Of the bytes read.
        actual: String,
    },
    /// Writing the saved base failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file or directory.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// No base of that name is saved.
    #[error("no base repository named {name} is saved in {dir}")]
    NotSaved {
        /// The name asked for.
        name: String,
        /// The directory searched.
        dir: String,
    },
    /// A saved base file cannot be read back.
    #[error("{path} is not a readable base repository file: {detail}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

fn check_name(name: &str) -> Result<(), BaseError> {
    if crate::domain::names::is_valid_name(name) {
        Ok(())
    } else {
        Err(BaseError::BadName(name.to_string()))
    }
}

impl BaseRepo {
    /// Imports the repository at `source` (URL or local repository root) under `name`;
    /// `now` (Unix seconds) is recorded as the import time. Blocking.
    pub fn import(name: &str, source: &str, now: i64) -> Result<BaseRepo, BaseError> {
        check_name(name)?;
        let src = Source::parse(source)?;
        let repomd_rel = "repodata/repomd.xml";
        let repomd_at = src.location(repomd_rel);
        let mut repomd = String::new();
        src.open(repomd_rel)
            .map_err(|e| match e {
                BaseError::NotFound(_) => BaseError::MissingRepomd(src.location("")),
                other => other,
            })?
            .take(64 << 20)
            .read_to_string(&mut repomd)
            .map_err(|e| BaseError::Io {
                path: repomd_at.clone(),
                source: e,
            })?;
        let records = parse::parse_repomd(&repomd, &repomd_at)?;
        let record = |kind: &'static str| {
            records
                .iter()
                .find(|r| r.kind == kind && !r.href.is_empty())
                .ok_or_else(|| BaseError::MissingMetadata {
                    repomd: repomd_at.clone(),
                    kind,
                })
        };
        let primary = record("primary")?;
        let filelists = record("filelists")?;

        let pkgs = read_verified(&src, primary, |r, file| parse::parse_primary(r, file))?;
        let (pkgids, mut packages): (Vec<String>, Vec<DepPackage>) = pkgs.into_iter().unzip();
        let mut by_pkgid: HashMap<&str, usize> = HashMap::with_capacity(pkgids.len());
        for (i, id) in pkgids.iter().enumerate() {
            by_pkgid.entry(id.as_str()).or_insert(i);
        }
        read_verified(&src, filelists, |r, file| {
            parse::parse_filelists(r, file, &by_pkgid, &mut packages)
        })?;
        Ok(BaseRepo {
            name: name.to_string(),
            source: source.to_string(),
            imported_at: now,
            packages,
        })
    }

    /// Saves this base as `<dir>/<name>.base.json.gz`, atomically; returns the path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, BaseError> {
        store::save(self, dir)
    }

    /// Loads base `name` saved in `dir`.
    pub fn load(dir: &Path, name: &str) -> Result<BaseRepo, BaseError> {
        store::load(dir, name)
    }

    /// Loads a saved base file.
    pub fn load_file(path: &Path) -> Result<BaseRepo, BaseError> {
        store::load_file(path)
    }

    /// Names of the bases saved in `dir`, sorted.
    pub fn list(dir: &Path) -> Result<Vec<String>, BaseError> {
        store::list(dir)
    }

    /// Deletes base `name` from `dir`; false when it was not saved there.
    pub fn remove(dir: &Path, name: &str) -> Result<bool, BaseError> {
        store::remove(dir, name)
    }

    /// An index of this base's packages (copies them; see [`BaseRepo::into_index`]).
    pub fn index(&self) -> ProviderIndex {
        ProviderIndex::new(self.packages.clone())
    }

    /// Turns this base into an index of its packages, without copying.
    pub fn into_index(self) -> ProviderIndex {
        ProviderIndex::new(self.packages)
    }
}

/// Opens a metadata file, parses it through `parse`, reads it to its end and checks its
/// sha256 against repomd.xml (when repomd.xml gives a sha256).
fn read_verified<T>(
    src: &Source,
    record: &parse::Record,
    parse: impl FnOnce(&mut BufReader<Box<dyn Read + Send>>, &str) -> Result<T, BaseError>,
) -> Result<T, BaseError> {
    let location = src.location(&record.href);
    let raw = src.open(&record.href)?;
    let (reader, digest) = source::decompress(&record.href, raw)?;
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let value = parse(&mut reader, &location)?;
    // Whatever follows the document (nothing, normally) still counts for the checksum.
    io::copy(&mut reader, &mut io::sink()).map_err(|e| BaseError::Io {
        path: location.clone(),
        source: e,
    })?;
    if let Some(("sha256", expected)) = record.checksum.as_ref().map(|(k, v)| (k.as_str(), v.as_str())) {
        let actual = digest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(BaseError::ChecksumMismatch {
                file: location,
                expected: expected.to_string(),
                actual,
            });
        }
    }
    Ok(value)
}
