//! Package metadata as createrepo_c models it: everything repodata needs, read once from the header.

use serde::{Deserialize, Serialize};

/// One dependency entry (provides, requires, conflicts, obsoletes and the weak kinds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The capability name, e.g. `libfoo.so.1()(64bit)` or `(a or b)` for rich deps.
    pub name: String,
    /// `EQ`, `LT`, `LE`, `GT`, `GE` as createrepo_c writes them; `None` when unversioned.
    pub flags: Option<String>,
    /// Epoch as written in the metadata (`None` when the header has no version part).
    pub epoch: Option<String>,
    /// Version part.
    pub version: Option<String>,
    /// Release part.
    pub release: Option<String>,
    /// `pre="1"` (only meaningful for requires).
    pub pre: bool,
}

/// The kind of a packaged file, as filelists distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    /// A regular file (or symlink, device...).
    File,
    /// A directory.
    Dir,
    /// A `%ghost` file.
    Ghost,
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFile {
    /// Full path, e.g. `/usr/bin/foo`.
    pub path: String,
    /// File, directory or ghost.
    pub kind: FileKind,
}

/// One changelog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changelog {
    /// Author line, e.g. `Jane Doe <jane@example.org> - 1.0-1`.
    pub author: String,
    /// Seconds since the epoch.
    pub date: i64,
    /// Entry text.
    pub text: String,
}

/// Everything known about one binary RPM, parsed from its header at upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageMeta {
    /// sha256 of the whole file, hex; createrepo_c's pkgid.
    pub pkgid: String,
    /// Package name.
    pub name: String,
    /// Architecture as in the header (`x86_64`, `noarch`...).
    pub arch: String,
    /// Epoch; 0 when the header has none.
    pub epoch: u64,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// One-line summary (the untranslated one of an i18n table).
    pub summary: String,
    /// Description (untranslated), line breaks kept.
    pub description: String,
    /// Packager; empty when the header has none, as for every missing string below.
    pub packager: String,
    /// Upstream URL.
    pub url: String,
    /// File modification time (for us: the upload time).
    pub time_file: i64,
    /// Build time from the header (Unix seconds).
    pub time_build: i64,
    /// License expression.
    pub license: String,
    /// Vendor.
    pub vendor: String,
    /// Group (untranslated).
    pub group: String,
    /// Host the package was built on.
    pub buildhost: String,
    /// Source RPM name; empty for a source package.
    pub sourcerpm: String,
    /// Offset of the main header in the file (after lead and padded signature header).
    pub header_start: u64,
    /// Offset just past the main header: where the payload starts.
    pub header_end: u64,
    /// Size of the RPM file.
    pub size_package: u64,
    /// Installed size (LONGSIZE, else SIZE).
    pub size_installed: u64,
    /// Payload archive size (LONGARCHIVESIZE, else ARCHIVESIZE/PAYLOADSIZE; 0 for rpm v6
    /// packages, which rpm 4.18 and so createrepo_c 0.17 do not read it from).
    pub size_archive: u64,
    /// Provides, in header order.
    pub provides: Vec<Dependency>,
    /// Requires after createrepo_c's filtering (no `rpmlib(`, no self-provided, no owned
    /// primary files, no exact duplicates, only the highest `libc.so.6` one, placed last).
    pub requires: Vec<Dependency>,
    /// Conflicts.
    pub conflicts: Vec<Dependency>,
    /// Obsoletes.
    pub obsoletes: Vec<Dependency>,
    /// Suggests (plus legacy weak OLDSUGGESTS without the STRONG flag).
    pub suggests: Vec<Dependency>,
    /// Enhances (plus legacy OLDENHANCES without STRONG).
    pub enhances: Vec<Dependency>,
    /// Recommends (plus MISSINGOK requires and legacy OLDSUGGESTS with STRONG, first).
    pub recommends: Vec<Dependency>,
    /// Supplements (plus legacy OLDENHANCES with STRONG).
    pub supplements: Vec<Dependency>,
    /// All files, in header order.
    pub files: Vec<PackageFile>,
    /// The newest entries (10 by default), oldest first, equal dates made unique.
    pub changelogs: Vec<Changelog>,
}

impl PackageMeta {
    /// `name-version-release.arch.rpm`, the only file name under which this package is accepted.
    pub fn canonical_filename(&self) -> String {
        format!("{}-{}-{}.{}.rpm", self.name, self.version, self.release, self.arch)
    }

    /// The package's NEVRA.
    pub fn nevra(&self) -> super::evr::Nevra {
        super::evr::Nevra {
            name: self.name.clone(),
            evr: super::evr::Evr::new(self.epoch, &self.version, &self.release),
            arch: self.arch.clone(),
        }
    }
}

/// Whether a file path belongs in primary.xml (and so is visible to dependency resolution
/// without downloading filelists): createrepo_c's (and yum's) historical rule, which tools on
/// both sides rely on, so it is kept as is, substring match on `bin/` included.
pub fn is_primary_file(path: &str) -> bool {
    is_primary_path_bytes(path.as_bytes())
}

/// [`is_primary_file`] over raw header bytes.
pub fn is_primary_path_bytes(path: &[u8]) -> bool {
    path.starts_with(b"/etc/") || path == b"/usr/lib/sendmail" || path.windows(4).any(|w| w == b"bin/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_file_rule() {
        assert!(is_primary_file("/etc/foo.conf"));
        assert!(is_primary_file("/usr/bin/foo"));
        assert!(is_primary_file("/usr/sbin/foo"));
        assert!(is_primary_file("/opt/robin/x"));
        assert!(is_primary_file("/usr/lib/sendmail"));
        assert!(!is_primary_file("/usr/lib/sendmail.x"));
        assert!(!is_primary_file("/etc"));
        assert!(!is_primary_file("/usr/bin"));
        assert!(!is_primary_file("/usr/share/doc/foo"));
    }
}
