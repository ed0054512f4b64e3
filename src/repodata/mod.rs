//! The createrepo_c analogue: per-package XML fragments rendered once, and repodata publication.
//!
//! Fragments are byte-identical to createrepo_c 0.17's `cr_xml_dump_*` output for the same
//! [`PackageMeta`]; publication writes `--no-database`, `--unique-md-filenames`, gzip, sha256
//! repodata, so that clients see what they would see from `createrepo_c`.

mod filelists;
mod fsutil;
mod generations;
mod gzip_blocks;
mod other;
mod primary;
mod publish;
pub use generations::remove_leftovers;
pub use publish::{resign, signature_name, SignatureCheck};

/// A data file a repomd.xml names: where, and the sha256 (hex) and size it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Relative to the repository root, e.g. `repodata/<sha>-primary.xml.gz`.
    pub href: String,
    pub sha256: String,
    pub size: u64,
}

/// The data files a repomd.xml lists; `None` when it does not parse.
pub fn repomd_files(text: &str) -> Option<Vec<ListedFile>> {
    Some(
        repomd::Repomd::parse(text)?
            .records
            .into_iter()
            .map(|r| ListedFile {
                href: r.href,
                sha256: r.checksum,
                size: r.size,
            })
            .collect(),
    )
}
#[cfg(test)]
mod publish_tests;
mod repomd;
pub mod updateinfo;
mod xml;

use std::path::Path;
use std::sync::Mutex;

use crate::domain::package::{FileKind, PackageMeta};
use xml::{attr, push_text};

/// The three XML fragments of one package (`<package>` elements of primary, filelists, other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageXml {
    /// The package's pkgid; publication derives block boundaries from it.
    pub pkgid: String,
    /// `<package type="rpm">...</package>\n` of primary.xml.
    pub primary: String,
    /// `<package pkgid=...>...</package>\n` of filelists.xml.
    pub filelists: String,
    /// `<package pkgid=...>...</package>\n` of other.xml.
    pub other: String,
}

/// Renders a package's fragments with `location_href` (e.g. `Packages/foo-1-1.noarch.rpm`).
pub fn render(meta: &PackageMeta, location_href: &str) -> PackageXml {
    PackageXml {
        pkgid: meta.pkgid.clone(),
        primary: primary::render(meta, location_href),
        filelists: filelists::render(meta),
        other: other::render(meta),
    }
}

/// `<version epoch=".." ver=".." rel=".."/>`, shared by the three fragments.
fn version_element(o: &mut String, meta: &PackageMeta) {
    o.push_str("  <version");
    attr(o, "epoch", &meta.epoch.to_string());
    attr(o, "ver", &meta.version);
    attr(o, "rel", &meta.release);
    o.push_str("/>\n");
}

/// `<file>` elements for the files `keep` selects; plain files carry no type.
fn files(o: &mut String, indent: &str, meta: &PackageMeta, keep: impl Fn(&str) -> bool) {
    for f in meta.files.iter().filter(|f| keep(&f.path)) {
        o.push_str(indent);
        o.push_str("<file");
        match f.kind {
            FileKind::File => {}
            FileKind::Dir => o.push_str(" type=\"dir\""),
            FileKind::Ghost => o.push_str(" type=\"ghost\""),
        }
        o.push('>');
        push_text(o, &f.path);
        o.push_str("</file>\n");
    }
}

/// Errors while writing repodata.
#[derive(Debug, thiserror::Error)]
pub enum RepodataError {
    /// A file or directory operation failed; the previous repomd.xml is still in place.
    #[error("writing repodata: {0}")]
    Io(#[from] std::io::Error),
    /// The signer refused; nothing was replaced.
    #[error("signing repomd.xml: {0}")]
    Sign(String),
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
    /// Package blocks in the three files (0 when unchanged).
    pub blocks_total: usize,
    /// Blocks that had to be compressed, i.e. were not in the cache (0 when unchanged).
    pub blocks_compressed: usize,
}

/// An additional metadata file of a repository, e.g. `updateinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraData {
    /// The repomd.xml data type, also part of the file name.
    pub kind: String,
    /// The uncompressed XML.
    pub xml: String,
}

/// Signs repomd.xml: returns an armoured detached signature, or why it could not.
pub type Signer<'a> = dyn Fn(&[u8]) -> Result<String, String> + 'a;

/// Writes repodata for a repository whose root is `repo_dir`; keeps compressed blocks cached
/// between publications so that publishing one more release re-compresses almost nothing.
///
/// One writer can serve several repositories (they share cached blocks); publications through
/// it are serialized. Only one writer (one process) may publish a given `repo_dir`.
#[derive(Default)]
pub struct RepoWriter {
    cache: Mutex<gzip_blocks::BlockCache>,
}

impl RepoWriter {
    /// Publishes `packages` (in this order) into `repo_dir/repodata`: new files beside the old,
    /// fsynced, then repomd.xml replaced by rename. The files of the current generation and of
    /// the `keep` generations before it stay; older metadata files of ours are deleted.
    ///
    /// When the content equals what the current repomd.xml describes, nothing is written and
    /// `changed` is false (dnf's cache relies on repomd.xml staying byte-identical). Otherwise
    /// the revision is `max(now, previous + 1)`. `now` is Unix seconds, also used as the
    /// timestamp (and mtime) of newly written files.
    pub fn publish(
        &self,
        repo_dir: &Path,
        packages: &[&PackageXml],
        keep: usize,
        now: i64,
    ) -> Result<Published, RepodataError> {
        // A panic mid-publication leaves the cache consistent (entries are whole), so a
        // poisoned lock is safe to reuse.
        self.publish_with(repo_dir, packages, keep, now, &[], None)
    }

    /// [`RepoWriter::publish`] with extra metadata files (e.g. `updateinfo`, listed in
    /// repomd.xml after the package data) and an optional signer of repomd.xml, whose
    /// armoured detached signature is written as `repomd.xml.asc`.
    pub fn publish_with(
        &self,
        repo_dir: &Path,
        packages: &[&PackageXml],
        keep: usize,
        now: i64,
        extras: &[ExtraData],
        signer: Option<&Signer<'_>>,
    ) -> Result<Published, RepodataError> {
        // A panic mid-publication leaves the cache consistent (entries are whole), so a
        // poisoned lock is safe to reuse.
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        publish::publish(&mut cache, repo_dir, packages, keep, now, extras, signer)
    }
}
