//! The createrepo_c analogue: per-package XML fragments rendered once, and repodata publication.
//!
//! Fragments are byte-identical to createrepo_c 0.17's `cr_xml_dump_*` output for the same
//! [`PackageMeta`]; publication writes `--no-database`, `--unique-md-filenames`, gzip, sha256
//! repodata, so that clients see what they would see from `createrepo_c`.

mod adopt;
mod filelists;
mod fsutil;
mod generations;
mod layout;
mod other;
mod pending;
mod pieces;
mod primary;
mod publish;
pub use adopt::Fetch;
pub use generations::{is_managed_name, next_window, remove_leftovers, Window};
pub use layout::Loader;
pub use pending::{MemFile, Pending, PendingGeneration};
pub use publish::{resign, signature_name, signature_revision, verify, SignatureCheck};

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
/// The `<revision>` of a repomd.xml; `None` when it does not parse.
pub fn repomd_revision(text: &str) -> Option<String> {
    Some(repomd::Repomd::parse(text)?.revision)
}

#[cfg(test)]
mod publish_tests;
mod repomd;
pub mod updateinfo;
mod xml;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    /// The fragments of a package could not be had; nothing was replaced.
    #[error("package metadata for the repository: {0}")]
    Load(String),
    /// The new files could not be copied where other replicas read them; nothing was replaced.
    #[error("copying the new repodata to the object store: {0}")]
    Share(String),
}

/// Makes sure a file of a new generation (by its name inside repodata/; its contents through
/// the loader, asked only when needed) is where other replicas read it, before any client can
/// see the repomd.xml naming it.
pub type Share =
    dyn Fn(&str, &mut dyn FnMut() -> std::io::Result<Vec<bytes::Bytes>>) -> Result<(), String> + Send + Sync;

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
    /// Bytes of the files repomd.xml names.
    pub bytes: u64,
}

/// An additional metadata file of a repository, e.g. `updateinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraData {
    /// The repomd.xml data type, also part of the file name.
    pub kind: String,
    /// The uncompressed XML as pieces, concatenated in order (e.g. header, one per advisory,
    /// footer). Each is compressed as its own gzip member, and the pieces the previous
    /// publication of this kind started with are neither compressed nor hashed again.
    pub pieces: Vec<std::sync::Arc<str>>,
}

impl ExtraData {
    /// A file given as one piece.
    pub fn whole(kind: &str, xml: String) -> ExtraData {
        ExtraData {
            kind: kind.to_string(),
            pieces: vec![xml.into()],
        }
    }
}

/// Signs repomd.xml: returns an armoured detached signature, or why it could not.
pub type Signer<'a> = dyn Fn(&[u8]) -> Result<String, String> + 'a;

/// Writes repodata for repositories; keeps each repository's layout (its packages in
/// publication order as compressed blocks, with the hash state after each) between
/// publications, so that publishing one more release compresses and hashes only the release.
///
/// Packages new to a repository are appended after the others, which keep their place: the
/// order of the metadata is not createrepo_c's (it is free for every reader), the content is.
/// Only one writer (one process) may publish a given `repo_dir`; publications through one
/// writer are serialized.
#[derive(Default)]
pub struct RepoWriter {
    layouts: Mutex<HashMap<PathBuf, layout::Layout>>,
    /// Where generations wait while written behind, and from what size they are.
    behind: Option<(Arc<Pending>, u64)>,
    /// Where the new files of each generation go first (a bucket shared by replicas).
    share: Option<Arc<Share>>,
}

impl RepoWriter {
    /// A writer that writes a generation of at least `threshold` bytes of new files behind,
    /// serving it from `pending` meanwhile (see [`pending`]). Such a write starts with
    /// [`RepoWriter::start_writes`] (or the next publication or flush), so that the caller can
    /// first record the publication: its database commit then does not wait behind the
    /// file system's journal for megabytes of fresh metadata.
    pub fn writing_behind(pending: Arc<Pending>, threshold: u64) -> RepoWriter {
        RepoWriter {
            behind: Some((pending, threshold)),
            ..RepoWriter::default()
        }
    }

    /// This writer with `share` called on every new file of a generation (and on its
    /// per-generation signature) before the generation is served.
    pub fn sharing(mut self, share: Arc<Share>) -> RepoWriter {
        self.share = Some(share);
        self
    }

    /// Waits until the files of every publication into `repo_dir` are on disk; returns the
    /// error of a background write that failed (its generation stays served from memory
    /// until the next publication writes one).
    pub fn flush(&self, repo_dir: &Path) -> Result<(), RepodataError> {
        match &self.behind {
            Some((pending, _)) => pending
                .flush(&repo_dir.join("repodata"))
                .map_err(|e| RepodataError::Io(std::io::Error::other(e))),
            None => Ok(()),
        }
    }

    /// Writes what a publication left to write, now or (large, with an overlay) behind.
    fn finish(&self, prepared: (Published, Option<publish::DiskJob>), sync: bool) -> Result<Published, RepodataError> {
        let (published, job) = prepared;
        let Some(job) = job else {
            return Ok(published);
        };
        if let Some(share) = &self.share {
            // Every file the generation names: one kept from an older generation may have
            // left the shared copy's window meanwhile.
            for name in &job.file_names {
                let mut load = || match job.files.iter().find(|f| f.name == *name) {
                    Some(file) => Ok(file.parts.clone()),
                    None => Ok(vec![std::fs::read(job.repodata.join(name))?.into()]),
                };
                share(name, &mut load).map_err(RepodataError::Share)?;
            }
            if let Some(sig) = &job.signature {
                share(&signature_name(&job.revision), &mut || Ok(vec![sig.clone()])).map_err(RepodataError::Share)?;
            }
        }
        match &self.behind {
            Some((pending, threshold)) if !sync && job.bytes() >= *threshold => {
                pending.park(job);
            }
            _ => {
                let repodata = job.repodata.clone();
                job.run()?;
                if let Some((pending, _)) = &self.behind {
                    // A generation left in memory by a failed write behind is replaced now.
                    pending.remove(&repodata);
                }
            }
        }
        Ok(published)
    }

    /// Drops a parked (not started) write into `repo_dir` and stops serving its generation:
    /// for a publication refused after its files were prepared (e.g. by the database).
    pub fn discard_writes(&self, repo_dir: &Path) {
        if let Some((pending, _)) = &self.behind {
            pending.discard(&repo_dir.join("repodata"));
        }
        // The layout went ahead to the refused set.
        if let Some(layout) = self.layouts.lock().unwrap_or_else(|e| e.into_inner()).get_mut(repo_dir) {
            layout.synced = false;
        }
    }

    /// Starts the writes behind that publications left parked, each on a thread of its own.
    pub fn start_writes(&self) {
        if let Some((pending, _)) = &self.behind {
            pending.start_writes();
        }
    }

    /// Waits for an earlier write behind into `repo_dir`; true when it failed (the next
    /// publication then writes synchronously, so that its errors reach the caller).
    fn settle(&self, repo_dir: &Path) -> bool {
        self.flush(repo_dir).is_err()
    }

    /// Publishes `packages` into `repo_dir/repodata`: new files beside the old, then
    /// repomd.xml replaced by rename. The files of the current generation and of the `keep`
    /// generations before it stay; older metadata files of ours are deleted. Packages the
    /// writer has not published into `repo_dir` before are appended in the order given.
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
        let given: HashMap<&str, &PackageXml> = packages.iter().map(|p| (p.pkgid.as_str(), *p)).collect();
        let sync = self.settle(repo_dir);
        let mut layouts = self.layouts.lock().unwrap_or_else(|e| e.into_inner());
        let layout = layouts.entry(repo_dir.to_path_buf()).or_default();
        layout.synced = false;
        let removed: Vec<String> = layout
            .pkgids()
            .filter(|p| !given.contains_key(p))
            .map(str::to_owned)
            .collect();
        let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        let added: Vec<&str> = packages
            .iter()
            .map(|p| p.pkgid.as_str())
            .filter(|p| !layout.contains(p) && seen.insert(*p))
            .collect();
        let mut load = |ids: &[&str]| -> Result<Vec<PackageXml>, String> {
            ids.iter()
                .map(|id| {
                    given
                        .get(id)
                        .map(|x| (*x).clone())
                        .ok_or_else(|| format!("no fragments for {id}"))
                })
                .collect()
        };
        // Layouts change only as a whole (see `Layout::apply`), so a poisoned lock is safe.
        let change = publish::Change {
            removed: &removed,
            added: &added,
        };
        let prepared = publish::publish(layout, repo_dir, change, &mut load, keep, now, extras, signer)?;
        drop(layouts);
        self.finish(prepared, sync)
    }

    /// Publishes exactly the packages `set` (sorted, without duplicates) into `repo_dir`,
    /// fetching through `load` the fragments of the packages whose block is (re)written: the
    /// new ones, those sharing a block with a package that leaves, and all of them the first
    /// time this writer publishes `repo_dir`. The cost follows the change, not the set.
    #[allow(clippy::too_many_arguments)]
    pub fn publish_set(
        &self,
        repo_dir: &Path,
        set: &[String],
        load: &mut Loader<'_>,
        keep: usize,
        now: i64,
        extras: &[ExtraData],
        signer: Option<&Signer<'_>>,
    ) -> Result<Published, RepodataError> {
        self.publish_change(repo_dir, set, None, load, keep, now, extras, signer)
    }

    /// [`RepoWriter::publish_set`] given also the change (`added`, `removed`, sorted) from
    /// the set of this writer's last successful publication into `repo_dir`, so that a
    /// publication does not compare the whole set with the layout. Without one, or when the
    /// layout is not at that set (a failed publication moved it), the sets are compared.
    #[allow(clippy::too_many_arguments)]
    pub fn publish_change(
        &self,
        repo_dir: &Path,
        set: &[String],
        change: Option<(&[String], &[String])>,
        load: &mut Loader<'_>,
        keep: usize,
        now: i64,
        extras: &[ExtraData],
        signer: Option<&Signer<'_>>,
    ) -> Result<Published, RepodataError> {
        debug_assert!(set.windows(2).all(|w| w[0] < w[1]), "publish_set takes a sorted set");
        let sync = self.settle(repo_dir);
        let mut layouts = self.layouts.lock().unwrap_or_else(|e| e.into_inner());
        let layout = layouts.entry(repo_dir.to_path_buf()).or_default();
        let known = change.filter(|(added, removed)| {
            layout.synced
                && layout.len() + added.len() == set.len() + removed.len()
                && removed.iter().all(|r| layout.contains(r))
                && !added.iter().any(|a| layout.contains(a))
        });
        let (added, removed): (Vec<&str>, Vec<String>) = match known {
            Some((added, removed)) => (added.iter().map(String::as_str).collect(), removed.to_vec()),
            None => {
                // Both sides are sorted: one merge finds what leaves and what comes.
                let mut removed = Vec::new();
                let mut added = Vec::new();
                let mut have = layout.pkgids().peekable();
                for want in set {
                    while let Some(h) = have.next_if(|h| *h < want.as_str()) {
                        removed.push(h.to_owned());
                    }
                    if have.next_if(|h| *h == want.as_str()).is_none() {
                        added.push(want.as_str());
                    }
                }
                removed.extend(have.map(str::to_owned));
                (added, removed)
            }
        };
        let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
        let change = publish::Change {
            removed: &removed,
            added: &added,
        };
        // Until this publication succeeds the layout may be ahead of the files.
        layout.synced = false;
        let prepared = publish::publish(layout, repo_dir, change, load, keep, now, extras, signer)?;
        drop(layouts);
        let published = self.finish(prepared, sync)?;
        if let Some(layout) = self.layouts.lock().unwrap_or_else(|e| e.into_inner()).get_mut(repo_dir) {
            layout.synced = true;
        }
        Ok(published)
    }

    /// Serves the generation another writer published into a copy of `repo_dir` (a replica's,
    /// from the bucket): `repomd` and its `signature` as they are, the files it names fetched
    /// through `fetch` unless already here, each checked against repomd.xml. The next
    /// publication through this writer compares the whole set with its layout, which no longer
    /// describes the files.
    pub fn adopt(
        &self,
        repo_dir: &Path,
        repomd: bytes::Bytes,
        signature: Option<bytes::Bytes>,
        fetch: &mut Fetch<'_>,
        keep: usize,
        now: i64,
    ) -> Result<Published, RepodataError> {
        let sync = self.settle(repo_dir);
        if let Some(layout) = self.layouts.lock().unwrap_or_else(|e| e.into_inner()).get_mut(repo_dir) {
            layout.synced = false;
        }
        let prepared = adopt::adopt(repo_dir, repomd, signature, fetch, keep, now)?;
        self.finish(prepared, sync)
    }

    /// Number of packages laid out for `repo_dir` (0 before its first publication here).
    pub fn published_count(&self, repo_dir: &Path) -> usize {
        let layouts = self.layouts.lock().unwrap_or_else(|e| e.into_inner());
        layouts.get(repo_dir).map_or(0, layout::Layout::len)
    }
}
