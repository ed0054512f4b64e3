//! One publication: streams -> compressed files beside the old ones -> repomd.xml by rename ->
//! generation bookkeeping -> pruning. The order is what keeps every repomd.xml a client may
//! hold resolvable: data files are durable before the repomd.xml naming them appears, and
//! nothing a kept generation names is deleted.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::fsutil::{sync_dir, write_atomic};
use super::generations::{prune, Generation, Generations};
use super::gzip_blocks::{self, block_ranges, BlockCache, Stream, StreamDigest};
use super::repomd::{Record, Repomd};
use super::{filelists, other, primary, ExtraData, PackageXml, Published, RepodataError, Signer};

/// The data types, in createrepo_c's repomd order.
const KINDS: [&str; 3] = ["primary", "filelists", "other"];

pub(crate) fn publish(
    cache: &mut BlockCache,
    repo_dir: &Path,
    packages: &[&PackageXml],
    keep: usize,
    now: i64,
    extras: &[ExtraData],
    signer: Option<&Signer<'_>>,
) -> Result<Published, RepodataError> {
    let repodata = repo_dir.join("repodata");
    std::fs::create_dir_all(&repodata)?;
    let now = u64::try_from(now).unwrap_or(0);

    let ranges = block_ranges(packages.iter().map(|p| p.pkgid.as_str()));
    let n = packages.len();
    let stream = |header: String, footer, pick: fn(&PackageXml) -> &str| Stream {
        header,
        blocks: ranges
            .iter()
            .map(|r| packages[r.clone()].iter().map(|p| pick(p)).collect())
            .collect(),
        footer,
    };
    let streams = [
        stream(primary::header(n), primary::FOOTER, |p| &p.primary),
        stream(filelists::header(n), filelists::FOOTER, |p| &p.filelists),
        stream(other::header(n), other::FOOTER, |p| &p.other),
    ];
    let digests = digest_all(&streams);
    let extra_digests: Vec<(String, u64)> = extras
        .iter()
        .map(|e| (hex::encode(Sha256::digest(e.xml.as_bytes())), e.xml.len() as u64))
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
            return Ok(Published {
                revision: cur.revision_number().unwrap_or(0),
                repomd_sha256: hex::encode(Sha256::digest(text.as_bytes())),
                changed: false,
                files,
                blocks_total: 0,
                blocks_compressed: 0,
            });
        }
    }

    let pairs: Vec<(&Stream<'_>, &StreamDigest)> = streams.iter().zip(&digests).collect();
    let (compressed, stats) = cache.assemble(repo_dir, &pairs);
    let mut records = Vec::with_capacity(KINDS.len());
    let mut files = Vec::with_capacity(KINDS.len());
    for ((kind, file), digest) in KINDS.iter().zip(&compressed).zip(&digests) {
        let checksum = hex::encode(file.sha256);
        let name = format!("{checksum}-{kind}.xml.gz");
        let timestamp = place_file(&repodata, &name, &file.bytes, now)?;
        records.push(Record {
            kind: (*kind).to_owned(),
            checksum,
            open_checksum: Some(hex::encode(digest.open_sha256)),
            href: format!("repodata/{name}"),
            timestamp,
            size: file.bytes.len() as u64,
            open_size: Some(digest.open_size),
        });
        files.push(name);
    }
    for (extra, (open_sha, open_size)) in extras.iter().zip(&extra_digests) {
        let bytes = gzip_whole(extra.xml.as_bytes())?;
        let checksum = hex::encode(Sha256::digest(&bytes));
        let name = format!("{checksum}-{}.xml.gz", extra.kind);
        let timestamp = place_file(&repodata, &name, &bytes, now)?;
        records.push(Record {
            kind: extra.kind.clone(),
            checksum,
            open_checksum: Some(open_sha.clone()),
            href: format!("repodata/{name}"),
            timestamp,
            size: bytes.len() as u64,
            open_size: Some(*open_size),
        });
        files.push(name);
    }
    sync_dir(&repodata)?;

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
    if let Some(sig) = &signature {
        // The generation's own signature is durable before its repomd.xml appears: whoever
        // fetched this repomd.xml can fetch the matching signature by the revision it names,
        // whatever publication comes next.
        write_atomic(&repodata, &signature_name(&revision.to_string()), sig.as_bytes(), None)?;
    }
    write_atomic(&repodata, "repomd.xml", repomd.as_bytes(), None)?;
    match &signature {
        // Right after repomd.xml, for clients (dnf) that only know the fixed name.
        Some(sig) => write_atomic(&repodata, "repomd.xml.asc", sig.as_bytes(), None)?,
        None => remove_signatures(&repodata)?,
    }
    sync_dir(&repodata)?;

    let mut generations = Generations::load(&repodata);
    if let Some(cur) = &current {
        generations.push(Generation {
            revision: cur.revision.clone(),
            files: file_names(cur),
        });
    }
    generations.push(Generation {
        revision: revision.to_string(),
        files: files.clone(),
    });
    generations.truncate(keep.saturating_add(1));
    generations.save(&repodata)?;
    prune(&repodata, &generations.referenced())?;
    prune_signatures(&repodata, keep.saturating_add(1))?;

    Ok(Published {
        revision,
        repomd_sha256: hex::encode(Sha256::digest(repomd.as_bytes())),
        changed: true,
        files,
        blocks_total: stats.blocks_total,
        blocks_compressed: stats.blocks_compressed,
    })
}

/// Hashes the three streams, in parallel when there are cores for it.
fn digest_all(streams: &[Stream<'_>; 3]) -> Vec<StreamDigest> {
    std::thread::scope(|scope| {
        let [a, b, c] = streams;
        let first = scope.spawn(|| gzip_blocks::digest(a));
        let second = scope.spawn(|| gzip_blocks::digest(b));
        let third = gzip_blocks::digest(c);
        vec![
            first.join().expect("digest worker panicked"),
            second.join().expect("digest worker panicked"),
            third,
        ]
    })
}

/// Writes a content-addressed file unless an intact copy exists (an older generation with the
/// same content, e.g. after a rollback); returns its timestamp, which like createrepo_c's is
/// the file's mtime (`now` for a file written now).
fn place_file(repodata: &Path, name: &str, bytes: &[u8], now: u64) -> Result<i64, RepodataError> {
    let path = repodata.join(name);
    if let Ok(meta) = std::fs::metadata(&path) {
        let intact = meta.len() == bytes.len() as u64 && std::fs::read(&path).is_ok_and(|old| old == bytes);
        let mtime = meta.modified().ok().and_then(|m| m.duration_since(UNIX_EPOCH).ok());
        if let (true, Some(mtime)) = (intact, mtime) {
            return Ok(mtime.as_secs() as i64);
        }
    }
    write_atomic(repodata, name, bytes, Some(UNIX_EPOCH + Duration::from_secs(now)))?;
    Ok(now as i64)
}

/// The name (inside repodata/) of the signature of the repomd.xml of `revision`, kept per
/// generation beside the fixed `repomd.xml.asc`.
pub fn signature_name(revision: &str) -> String {
    format!("repomd-{revision}.xml.asc")
}

/// The revision a per-generation signature file is named after.
fn signature_revision(name: &str) -> Option<u64> {
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
fn file_names(repomd: &Repomd) -> Vec<String> {
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
    digests: &[StreamDigest],
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

/// Compresses a small metadata file in one gzip member.
fn gzip_whole(data: &[u8]) -> Result<Vec<u8>, RepodataError> {
    use std::io::Write;
    let mut enc =
        flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), flate2::Compression::default());
    enc.write_all(data)?;
    Ok(enc.finish()?)
}
