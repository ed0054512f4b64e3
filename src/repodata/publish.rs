//! One publication: the layout changed -> compressed files beside the old ones -> repomd.xml
//! by rename -> generation bookkeeping -> pruning. The order is what keeps every repomd.xml a
//! client may hold resolvable: data files exist before the repomd.xml naming them appears, and
//! nothing a kept generation names is deleted.
//!
//! Nothing here waits for the disk (no fsync): every file is derived from the database, which
//! records the publication durably, and at start the current generation is verified
//! ([`verify`]) and rewritten when a crash left it incomplete. Waiting for the disk would make
//! each publication cost the size of the repository (a 50,000-package repository has about
//! 20 MB of metadata), which is what the layout avoids everywhere else.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::fsutil::{sync_dir, write_atomic, write_derived};
use super::generations::{prune, Generation, Generations};
use super::layout::{Layout, Loader, StreamDigest, STREAMS};
use super::pending::{MemFile, PendingGeneration};
use super::repomd::{Record, Repomd};
use super::{ExtraData, Published, RepodataError, Signer};

/// The data types, in createrepo_c's repomd order (the layout's stream order).
const KINDS: [&str; STREAMS] = ["primary", "filelists", "other"];

/// What one publication changes: packages leaving, packages appended (in this order).
pub(crate) struct Change<'a> {
    pub removed: &'a [&'a str],
    pub added: &'a [&'a str],
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn publish(
    layout: &mut Layout,
    repo_dir: &Path,
    change: Change<'_>,
    load: &mut Loader<'_>,
    keep: usize,
    now: i64,
    extras: &[ExtraData],
    signer: Option<&Signer<'_>>,
) -> Result<(Published, Option<DiskJob>), RepodataError> {
    let repodata = repo_dir.join("repodata");
    std::fs::create_dir_all(&repodata)?;
    let now = u64::try_from(now).unwrap_or(0);

    let stats = layout
        .apply(change.removed, change.added, load)
        .map_err(RepodataError::Load)?;
    let digests = layout.digests();
    for e in extras {
        layout.extras.entry(e.kind.clone()).or_default().update(&e.pieces);
    }
    layout.extras.retain(|kind, _| extras.iter().any(|e| e.kind == *kind));
    let extra_digests: Vec<(String, u64)> = extras
        .iter()
        .map(|e| {
            let d = layout.extras[&e.kind].digest();
            (hex::encode(d.open_sha256), d.open_size)
        })
        .collect();

    let current_text = match std::fs::read_to_string(repodata.join("repomd.xml")) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let current = current_text.as_deref().and_then(Repomd::parse);
    if let (Some(text), Some(cur)) = (&current_text, &current) {
        let signed_ok = signer.is_none() || repodata.join("repomd.xml.asc").exists();
        if let Some(files) = unchanged(repo_dir, cur, &digests, extras, &extra_digests).filter(|_| signed_ok) {
            let published = Published {
                revision: cur.revision_number().unwrap_or(0),
                repomd_sha256: hex::encode(Sha256::digest(text.as_bytes())),
                changed: false,
                files,
                blocks_total: 0,
                blocks_compressed: 0,
                bytes: cur.records.iter().map(|r| r.size).sum(),
            };
            return Ok((published, None));
        }
    }

    let mut records = Vec::with_capacity(KINDS.len() + extras.len());
    let mut files = Vec::with_capacity(KINDS.len() + extras.len());
    let mut to_write = Vec::new();
    let streams = KINDS.iter().enumerate().map(|(s, kind)| {
        let name = format!("{}-{kind}.xml.gz", hex::encode(digests[s].sha256));
        (kind.to_string(), name, digests[s].clone(), Source::Stream(s))
    });
    let extra_files = extras.iter().map(|e| {
        let d = layout.extras[&e.kind].digest();
        let name = format!("{}-{}.xml.gz", hex::encode(d.sha256), e.kind);
        (e.kind.clone(), name, d, Source::Extra(&e.kind))
    });
    for (kind, name, digest, source) in streams.chain(extra_files) {
        let timestamp = match intact_mtime(&repodata, &name, digest.size) {
            Some(t) => t,
            None => {
                let parts = match source {
                    Source::Stream(s) => layout.shared_pieces(s),
                    Source::Extra(kind) => layout.extras[kind].shared_members(),
                };
                to_write.push(FileToWrite {
                    name: name.clone(),
                    parts,
                    size: digest.size,
                    mtime: now,
                });
                now as i64
            }
        };
        records.push(Record {
            kind,
            checksum: hex::encode(digest.sha256),
            open_checksum: Some(hex::encode(digest.open_sha256)),
            href: format!("repodata/{name}"),
            timestamp,
            size: digest.size,
            open_size: Some(digest.open_size),
        });
        files.push(name);
    }
    let bytes = records.iter().map(|r| r.size).sum();

    // Never backwards: old yum refuses a repomd.xml older than the one it has.
    let revision = match current.as_ref().and_then(Repomd::revision_number) {
        Some(prev) => now.max(prev.saturating_add(1)),
        None => now,
    };
    let repomd = Repomd {
        revision: revision.to_string(),
        records,
    }
    .render();
    let signature = signer
        .map(|sign| sign(repomd.as_bytes()))
        .transpose()
        .map_err(RepodataError::Sign)?;

    let published = Published {
        revision,
        repomd_sha256: hex::encode(Sha256::digest(repomd.as_bytes())),
        changed: true,
        files: files.clone(),
        blocks_total: stats.blocks_total,
        blocks_compressed: stats.blocks_compressed,
        bytes,
    };
    let job = DiskJob {
        repodata,
        files: to_write,
        revision: revision.to_string(),
        repomd: repomd.into(),
        signature: signature.map(Bytes::from),
        previous: current.map(|cur| Generation {
            revision: cur.revision.clone(),
            files: file_names(&cur),
        }),
        file_names: files,
        keep,
        now,
    };
    Ok((published, Some(job)))
}

/// Where a metadata file's compressed pieces come from.
enum Source<'a> {
    /// One of the layout's streams (primary, filelists, other).
    Stream(usize),
    /// An extra file (updateinfo), by kind.
    Extra(&'a str),
}

/// A file of a new generation that is not on disk yet.
pub(crate) struct FileToWrite {
    pub name: String,
    pub parts: Vec<Bytes>,
    pub size: u64,
    /// Its timestamp in repomd.xml, set as its mtime.
    pub mtime: u64,
}

/// What a publication still has to write, in the order that keeps every repomd.xml a client
/// may hold resolvable: the new files, the per-generation signature, repomd.xml, then its
/// fixed-name signature, the generation bookkeeping and the pruning of what left the window.
pub(crate) struct DiskJob {
    pub repodata: PathBuf,
    pub files: Vec<FileToWrite>,
    pub revision: String,
    pub repomd: Bytes,
    pub signature: Option<Bytes>,
    /// The generation being replaced (the current repomd.xml on disk).
    pub previous: Option<Generation>,
    pub file_names: Vec<String>,
    pub keep: usize,
    pub now: u64,
}

impl DiskJob {
    /// Bytes of the files still to write.
    pub(crate) fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The generation as served from memory until this job is done.
    pub(crate) fn in_memory(&self) -> PendingGeneration {
        let at = |t: u64| UNIX_EPOCH + Duration::from_secs(t);
        PendingGeneration {
            revision: self.revision.clone(),
            repomd: self.repomd.clone(),
            modified: at(self.now),
            signature: self.signature.clone(),
            files: self
                .files
                .iter()
                .map(|f| {
                    let file = MemFile {
                        parts: f.parts.clone().into(),
                        len: f.size,
                        modified: at(f.mtime),
                    };
                    (f.name.clone(), file)
                })
                .collect(),
        }
    }

    /// Writes the generation to disk.
    pub(crate) fn run(self) -> Result<(), RepodataError> {
        let repodata = &self.repodata;
        // The files are most of a publication's bytes: the first (primary) on one core, the
        // others on another.
        let written: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
            let place = |f: &FileToWrite| {
                let parts: Vec<&[u8]> = f.parts.iter().map(|p| &p[..]).collect();
                write_derived(
                    repodata,
                    &f.name,
                    &parts,
                    Some(UNIX_EPOCH + Duration::from_secs(f.mtime)),
                )
            };
            let mut files = self.files.iter();
            let first = files.next().map(|f| scope.spawn(move || place(f)));
            let rest: Vec<_> = files.map(place).collect();
            first
                .map(|h| h.join().expect("writer thread panicked"))
                .into_iter()
                .chain(rest)
                .collect()
        });
        written.into_iter().collect::<std::io::Result<()>>()?;
        if let Some(sig) = &self.signature {
            // The generation's own signature exists before its repomd.xml appears: whoever
            // fetched this repomd.xml can fetch the matching signature by the revision it
            // names, whatever publication comes next.
            write_derived(repodata, &signature_name(&self.revision), &[sig], None)?;
        }
        write_derived(repodata, "repomd.xml", &[&self.repomd], None)?;
        match &self.signature {
            // Right after repomd.xml, for clients (dnf) that only know the fixed name.
            Some(sig) => write_derived(repodata, "repomd.xml.asc", &[sig], None)?,
            None => remove_signatures(repodata)?,
        }

        let mut generations = Generations::load(repodata);
        if let Some(previous) = self.previous {
            generations.push(previous);
        }
        generations.push(Generation {
            revision: self.revision.clone(),
            files: self.file_names,
        });
        generations.truncate(self.keep.saturating_add(1));
        generations.save(repodata)?;
        prune(repodata, &generations.referenced())?;
        prune_signatures(repodata, self.keep.saturating_add(1))?;
        Ok(())
    }
}

/// The timestamp of `name` when an intact copy is already on disk (an older generation with
/// the same content, e.g. after a rollback): like createrepo_c's, a file's timestamp is its
/// mtime. The name carries the file's sha256.
pub(crate) fn intact_mtime(repodata: &Path, name: &str, size: u64) -> Option<i64> {
    let path = repodata.join(name);
    let meta = std::fs::metadata(&path).ok().filter(|m| m.len() == size)?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    file_sha256(&path)
        .is_ok_and(|sha| name.starts_with(&sha))
        .then_some(mtime.as_secs() as i64)
}

/// Hex sha256 of a file's bytes.
fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Whether every file the current repomd.xml of `repo_dir` names is present with the size and
/// checksum it records (false also when there is no readable repomd.xml). Publication does not
/// wait for the disk, so after a crash this is what tells whether the files are whole.
pub fn verify(repo_dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(repo_dir.join("repodata/repomd.xml")) else {
        return false;
    };
    let Some(repomd) = Repomd::parse(&text) else {
        return false;
    };
    repomd.records.iter().all(|r| {
        let path = repo_dir.join(&r.href);
        std::fs::metadata(&path).is_ok_and(|m| m.len() == r.size) && file_sha256(&path).is_ok_and(|s| s == r.checksum)
    })
}

/// The name (inside repodata/) of the signature of the repomd.xml of `revision`, kept per
/// generation beside the fixed `repomd.xml.asc`.
pub fn signature_name(revision: &str) -> String {
    format!("repomd-{revision}.xml.asc")
}

/// The revision a per-generation signature file is named after.
pub fn signature_revision(name: &str) -> Option<u64> {
    name.strip_prefix("repomd-")?.strip_suffix(".xml.asc")?.parse().ok()
}

/// A check that an armoured signature is valid for some data under the configured key.
pub type SignatureCheck<'a> = dyn Fn(&[u8], &str) -> bool + 'a;

/// Brings the signatures of the current repomd.xml of `repo_dir` in line with the signing
/// configuration (at start, when the key may have been added, changed or removed): with a
/// signer, signs repomd.xml again unless both its signatures (the per-generation one and
/// `repomd.xml.asc`) pass `valid`; without one, removes every signature. repomd.xml itself
/// is never rewritten. Returns whether a file changed.
pub fn resign(repo_dir: &Path, signer: Option<(&Signer<'_>, &SignatureCheck<'_>)>) -> Result<bool, RepodataError> {
    let repodata = repo_dir.join("repodata");
    let repomd = match std::fs::read(repodata.join("repomd.xml")) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let Some((sign, valid)) = signer else {
        let had = std::fs::read_dir(&repodata)?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(".asc"));
        remove_signatures(&repodata)?;
        return Ok(had);
    };
    let revision = std::str::from_utf8(&repomd)
        .ok()
        .and_then(Repomd::parse)
        .map(|r| r.revision)
        .unwrap_or_default();
    let names = ["repomd.xml.asc".to_string(), signature_name(&revision)];
    let good = |name: &str| std::fs::read_to_string(repodata.join(name)).is_ok_and(|sig| valid(&repomd, &sig));
    if names.iter().all(|n| good(n)) {
        return Ok(false);
    }
    let sig = sign(&repomd).map_err(RepodataError::Sign)?;
    // The per-generation copy first, as in a publication.
    write_atomic(&repodata, &names[1], sig.as_bytes(), None)?;
    write_atomic(&repodata, &names[0], sig.as_bytes(), None)?;
    sync_dir(&repodata)?;
    Ok(true)
}

/// Removes every signature (signing turned off).
pub(crate) fn remove_signatures(repodata: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(repodata)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        if name == "repomd.xml.asc" || signature_revision(&name).is_some() {
            match std::fs::remove_file(repodata.join(&name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Keeps the per-generation signatures of the newest `keep` revisions.
fn prune_signatures(repodata: &Path, keep: usize) -> std::io::Result<()> {
    let mut found: Vec<(u64, String)> = std::fs::read_dir(repodata)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            signature_revision(&name).map(|r| (r, name))
        })
        .collect();
    found.sort();
    let excess = found.len().saturating_sub(keep.max(1));
    for (_, name) in &found[..excess] {
        match std::fs::remove_file(repodata.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The file names (inside repodata/) a repomd.xml references.
pub(crate) fn file_names(repomd: &Repomd) -> Vec<String> {
    repomd
        .records
        .iter()
        .filter_map(|r| r.href.strip_prefix("repodata/"))
        .filter(|name| !name.contains('/'))
        .map(str::to_owned)
        .collect()
}

/// When the current repomd.xml already describes exactly this content (same three data types,
/// same uncompressed checksums and sizes, files present), returns its file names.
fn unchanged(
    repo_dir: &Path,
    current: &Repomd,
    digests: &[StreamDigest; STREAMS],
    extras: &[ExtraData],
    extra_digests: &[(String, u64)],
) -> Option<Vec<String>> {
    if current.records.len() != KINDS.len() + extras.len() {
        return None;
    }
    let mut files = Vec::with_capacity(KINDS.len());
    for (kind, digest) in KINDS.iter().zip(digests) {
        let rec = current.records.iter().find(|r| r.kind == *kind)?;
        let same = rec.open_checksum.as_deref() == Some(hex::encode(digest.open_sha256).as_str())
            && rec.open_size == Some(digest.open_size);
        let name = rec.href.strip_prefix("repodata/").filter(|n| !n.contains('/'))?;
        let on_disk = std::fs::metadata(repo_dir.join("repodata").join(name)).ok()?;
        if !same || on_disk.len() != rec.size {
            return None;
        }
        files.push(name.to_owned());
    }
    for (extra, (open_sha, open_size)) in extras.iter().zip(extra_digests) {
        let rec = current.records.iter().find(|r| r.kind == extra.kind)?;
        let name = rec.href.strip_prefix("repodata/").filter(|n| !n.contains('/'))?;
        let present = std::fs::metadata(repo_dir.join("repodata").join(name)).is_ok_and(|m| m.len() == rec.size);
        if rec.open_checksum.as_deref() != Some(open_sha.as_str()) || rec.open_size != Some(*open_size) || !present {
            return None;
        }
        files.push(name.to_owned());
    }
    Some(files)
}
