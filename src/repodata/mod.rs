//! The createrepo_c analogue: per-package XML fragments rendered once, and repodata publication.

use std::path::{Path, PathBuf};

use crate::domain::package::PackageMeta;

/// The three XML fragments of one package (`<package>` elements of primary, filelists, other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageXml {
    pub pkgid: String,
    pub primary: String,
    pub filelists: String,
    pub other: String,
}

/// Renders a package's fragments with `location_href` (e.g. `Packages/foo-1-1.noarch.rpm`).
pub fn render(meta: &PackageMeta, location_href: &str) -> PackageXml {
    todo!("{meta:?} {location_href}")
}

/// Errors while writing repodata.
#[derive(Debug, thiserror::Error)]
pub enum RepodataError {
    #[error("writing repodata: {0}")]
    Io(#[from] std::io::Error),
}

/// What one publication wrote.
#[derive(Debug, Clone)]
pub struct Published {
    /// The `<revision>` written into repomd.xml.
    pub revision: u64,
    /// sha256 of the repomd.xml bytes.
    pub repomd_sha256: String,
    /// Whether repomd.xml was rewritten (false when the content was unchanged).
    pub changed: bool,
    /// repodata/ file names referenced by this repomd.xml.
    pub files: Vec<String>,
}

/// Writes repodata for a repository whose root is `repo_dir`; keeps compressed blocks cached
/// between publications so that publishing one more release re-compresses almost nothing.
#[derive(Default)]
pub struct RepoWriter {}

impl RepoWriter {
    /// Publishes `packages` (in this order) into `repo_dir/repodata`: new files beside the old,
    /// fsynced, then repomd.xml replaced by rename; metadata of the last `keep` generations stays.
    pub fn publish(
        &self,
        repo_dir: &Path,
        packages: &[&PackageXml],
        keep: usize,
        now: i64,
    ) -> Result<Published, RepodataError> {
        let _: PathBuf = repo_dir.to_path_buf();
        todo!("{} {keep} {now}", packages.len())
    }
}
