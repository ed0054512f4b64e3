//! Reads an RPM file's lead, signature and header (never the payload) into [`PackageMeta`].
//!
//! The result is what createrepo_c 0.17 (`cr_package_from_rpm`, parsehdr.c) puts into its
//! `cr_Package`, strings already converted the way its XML writer converts them, so that
//! repodata rendered from it matches `createrepo_c` output field for field.

mod deps;
mod raw;
mod rpmvs;
mod structure;
mod tag_types;
mod tags;
mod text;
pub mod verify;

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::path::Path;

use crate::domain::package::{Changelog, FileKind, PackageFile, PackageMeta};
use raw::{RawHeader, RawPackage};
use tags::*;
use text::{has_control_chars, xml_text};
pub use verify::{verify_bytes, verify_reader, IntegrityError, StreamVerifier, Verified};

/// Why a file is not an acceptable binary RPM.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The bytes are not an RPM, or its header does not parse.
    #[error("not a valid RPM: {0}")]
    Invalid(String),
    /// A source RPM where a binary one is required.
    #[error("{0} is a source RPM; only binary RPMs can be uploaded")]
    SourcePackage(String),
    /// The file could not be read.
    #[error("reading the package: {0}")]
    Io(#[from] std::io::Error),
}

/// createrepo_c's default `--changelog-limit`: only the newest entries reach other.xml.
pub const DEFAULT_CHANGELOG_LIMIT: usize = 10;

/// Knobs of header reading that createrepo_c exposes as options.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Keep at most this many (newest) changelog entries; `None` keeps all. createrepo_c's
    /// default is 10 ([`DEFAULT_CHANGELOG_LIMIT`]).
    pub changelog_limit: Option<usize>,
    /// Also mark requires of `%pretrans`/`%posttrans` scriptlets `pre="1"`, as createrepo_c
    /// 1.1.1 and later do. Off by default: 0.17 (Debian 12, EL7-era tooling) marks only
    /// PREREQ, `%pre` and `%post` requires.
    pub trans_requires_are_pre: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            changelog_limit: Some(DEFAULT_CHANGELOG_LIMIT),
            trans_requires_are_pre: false,
        }
    }
}

/// Parses the package at `path`; `pkgid` is its sha256 (already computed while it streamed in),
/// `time_file` the time recorded as its file time. Uses createrepo_c's default options.
pub fn read_package(path: &Path, pkgid: &str, time_file: i64) -> Result<PackageMeta, HeaderError> {
    read_package_with(path, pkgid, time_file, &ReadOptions::default())
}

/// [`read_package`] with explicit options.
pub fn read_package_with(
    path: &Path,
    pkgid: &str,
    time_file: i64,
    options: &ReadOptions,
) -> Result<PackageMeta, HeaderError> {
    let mut file = File::open(path)?;
    let raw = raw::read_raw_package(&mut file)?;
    let hdr = &raw.header;
    let name_bytes = hdr.string(NAME).unwrap_or_default();
    if raw.lead_type == 1 || hdr.number(SOURCEPACKAGE).unwrap_or(0) != 0 || !hdr.has(SOURCERPM) {
        return Err(HeaderError::SourcePackage(xml_text(name_bytes)));
    }
    if name_bytes.is_empty() {
        return Err(HeaderError::Invalid("the header has no package name".into()));
    }

    let mut checked: Vec<&[u8]> = Vec::new();
    let mut text = |tag: u32| {
        let bytes = hdr.string(tag).unwrap_or_default();
        checked.push(bytes);
        xml_text(bytes)
    };
    let name = text(NAME);
    let arch = text(ARCH);
    let version = text(VERSION);
    let release = text(RELEASE);
    let summary = text(SUMMARY);
    let description = text(DESCRIPTION);
    let url = text(URL);
    let license = text(LICENSE);
    let vendor = text(VENDOR);
    let group = text(GROUP);
    let buildhost = text(BUILDHOST);
    let sourcerpm = text(SOURCERPM);
    let packager = text(PACKAGER);

    let (files, raw_paths) = read_files(hdr)?;
    let deps = deps::read_deps(hdr, &raw_paths, options.trans_requires_are_pre);
    let (changelogs, raw_changelogs) = read_changelogs(hdr, options.changelog_limit);

    // createrepo_c refuses such packages outright (CRE_XMLDATA), since XML cannot carry them.
    let forbidden = checked
        .iter()
        .copied()
        .chain(raw_paths.iter().map(Vec::as_slice))
        .chain(deps.raw_strings.iter().map(Vec::as_slice))
        .chain(raw_changelogs.iter().map(Vec::as_slice))
        .any(has_control_chars);
    if forbidden {
        return Err(HeaderError::Invalid(
            "metadata contains control characters (ASCII < 32 other than tab, CR, LF)".into(),
        ));
    }

    Ok(PackageMeta {
        pkgid: pkgid.to_owned(),
        name,
        arch,
        epoch: hdr.number(EPOCH).unwrap_or(0),
        version,
        release,
        summary,
        description,
        packager,
        url,
        time_file,
        time_build: hdr.numbers(BUILDTIME).and_then(|v| v.first().copied()).unwrap_or(0) as i64,
        license,
        vendor,
        group,
        buildhost,
        sourcerpm,
        header_start: raw.header_start,
        header_end: raw.header_end,
        size_package: raw.file_size,
        size_installed: size_installed(hdr),
        size_archive: size_archive(&raw),
        provides: deps.provides,
        requires: deps.requires,
        conflicts: deps.conflicts,
        obsoletes: deps.obsoletes,
        suggests: deps.suggests,
        enhances: deps.enhances,
        recommends: deps.recommends,
        supplements: deps.supplements,
        files,
        changelogs,
    })
}

/// rpm's `longsize` extension: LONGSIZE, else SIZE when it is a plain INT32.
fn size_installed(hdr: &RawHeader) -> u64 {
    if hdr.has(LONGSIZE) {
        return first(hdr.numbers(LONGSIZE)).unwrap_or(0);
    }
    first(hdr.int32_values(SIZE)).unwrap_or(0)
}

/// rpm's `longarchivesize` extension, after rpm merged the signature header's size tags into
/// the main header (only where the header lacks them, and only single values). rpm 4.18 does
/// not know v6 packages' PAYLOADSIZE tag, so createrepo_c 0.17 reports 0 for them; so do we.
fn size_archive(raw: &RawPackage) -> u64 {
    let (hdr, sig) = (&raw.header, &raw.signature);
    let single = |v: Option<Vec<u64>>| v.filter(|v| v.len() == 1).and_then(|v| v.first().copied());
    if hdr.has(LONGARCHIVESIZE) {
        return first(hdr.numbers(LONGARCHIVESIZE)).unwrap_or(0);
    }
    if let Some(v) = single(sig.numbers(SIGTAG_LONGARCHIVESIZE)) {
        return v;
    }
    if hdr.has(ARCHIVESIZE) {
        return first(hdr.int32_values(ARCHIVESIZE)).unwrap_or(0);
    }
    single(sig.int32_values(SIGTAG_PAYLOADSIZE)).unwrap_or(0)
}

fn first(values: Option<Vec<u64>>) -> Option<u64> {
    values.and_then(|v| v.first().copied())
}

/// The file list (createrepo_c needs dir and base names, flags and modes all present), plus
/// the raw full paths for the requires filter.
fn read_files(hdr: &RawHeader) -> Result<(Vec<PackageFile>, HashSet<Vec<u8>>), HeaderError> {
    let mut files = Vec::new();
    let mut paths = HashSet::new();
    let (dirs, bases, indexes) = if hdr.has(BASENAMES) {
        let dirs = hdr.strings(DIRNAMES).unwrap_or_default();
        let bases = hdr.strings(BASENAMES).unwrap_or_default();
        let indexes = hdr.numbers(DIRINDEXES);
        (dirs, bases, indexes)
    } else if let Some(old) = hdr.strings(OLDFILENAMES) {
        // Packages from before rpm 4 list full paths; rpm splits them on import.
        let mut dirs: Vec<&[u8]> = Vec::new();
        let mut bases = Vec::new();
        let mut indexes = Vec::new();
        for path in old {
            let cut = path.iter().rposition(|&b| b == b'/').map_or(0, |p| p + 1);
            let (dir, base) = path.split_at(cut);
            let index = match dirs.iter().position(|d| *d == dir) {
                Some(i) => i,
                None => {
                    dirs.push(dir);
                    dirs.len() - 1
                }
            };
            bases.push(base);
            indexes.push(index as u64);
        }
        (dirs, bases, Some(indexes))
    } else {
        return Ok((files, paths));
    };
    let (Some(indexes), Some(flags), Some(modes)) = (indexes, hdr.numbers(FILEFLAGS), hdr.numbers(FILEMODES)) else {
        return Ok((files, paths));
    };
    for (((base, index), flag), mode) in bases.iter().zip(&indexes).zip(&flags).zip(&modes) {
        let dir = usize::try_from(*index)
            .ok()
            .and_then(|i| dirs.get(i))
            .ok_or_else(|| HeaderError::Invalid(format!("file dir index {index} out of range")))?;
        let mut full = dir.to_vec();
        full.extend_from_slice(base);
        let kind = if mode & 0o170000 == 0o040000 {
            FileKind::Dir
        } else if flag & FILE_GHOST != 0 {
            FileKind::Ghost
        } else {
            FileKind::File
        };
        files.push(PackageFile {
            path: xml_text(&full),
            kind,
        });
        paths.insert(full);
    }
    Ok((files, paths))
}

/// Prepends `entry`; when it has the same time as the entry read before it, the run of
/// earlier entries with consecutive times moves one second later (createrepo_c's "ugly but
/// works" uniqueness fix, kept because the dates are visible in other.xml).
fn push_changelog(list: &mut VecDeque<Changelog>, last_time: &mut i64, entry: Changelog) {
    let time = entry.date;
    list.push_front(entry);
    if *last_time == time {
        for (expected, earlier) in (time..).zip(list.iter_mut().skip(1)) {
            if earlier.date != expected {
                break;
            }
            earlier.date += 1;
        }
    } else {
        *last_time = time;
    }
}

/// The newest `limit` changelog entries, oldest first (createrepo_c prepends while reading the
/// header's newest-first list and never reverses it).
fn read_changelogs(hdr: &RawHeader, limit: Option<usize>) -> (Vec<Changelog>, Vec<Vec<u8>>) {
    let (Some(times), Some(names), Some(texts)) = (
        hdr.numbers(CHANGELOGTIME),
        hdr.strings(CHANGELOGNAME),
        hdr.strings(CHANGELOGTEXT),
    ) else {
        return (Vec::new(), Vec::new());
    };
    let limit = limit.unwrap_or(usize::MAX);
    let mut raw_strings = Vec::new();
    // Newest entry at the front, as createrepo_c prepends to its list.
    let mut list: VecDeque<Changelog> = VecDeque::new();
    let mut last_time: i64 = 0;
    for ((&time, &name), &text) in times.iter().zip(&names).zip(&texts).take(limit) {
        let time = time as i64;
        // Trailing spaces of the author go, except a first character (createrepo_c's loop).
        let mut author = name;
        while author.len() > 1 && author.last() == Some(&b' ') {
            author = &author[..author.len() - 1];
        }
        raw_strings.push(author.to_vec());
        raw_strings.push(text.to_vec());
        let entry = Changelog {
            author: xml_text(author),
            date: time,
            text: xml_text(text),
        };
        push_changelog(&mut list, &mut last_time, entry);
    }
    (list.into_iter().collect(), raw_strings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn garbage_is_invalid_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.rpm");
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in [0usize, 1, 95, 96, 111, 112, 200, 5000] {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            std::fs::File::create(&path).unwrap().write_all(&bytes).unwrap();
            match read_package(&path, "x", 0) {
                Err(HeaderError::Invalid(_)) => {}
                other => panic!("len {len}: {other:?}"),
            }
        }
    }

    #[test]
    fn changelog_equal_times_are_spread() {
        let entry = |date| Changelog {
            author: String::new(),
            date,
            text: String::new(),
        };
        let mut list = VecDeque::new();
        let mut last = 0;
        for time in [50, 40, 40, 40, 10] {
            push_changelog(&mut list, &mut last, entry(time));
        }
        let dates: Vec<i64> = list.iter().map(|c| c.date).collect();
        assert_eq!(dates, vec![10, 40, 41, 42, 50]);
    }
}
