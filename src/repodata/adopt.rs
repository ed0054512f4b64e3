//! Taking over a generation another writer published: a replica serves the very files the
//! publishing replica wrote (fetched from the bucket), so that every replica serves the same
//! bytes under the same names and a host may fetch repomd.xml from one and the files it names
//! from another.
//!
//! The adopted generation goes to disk in a publication's order (files, per-generation
//! signature, repomd.xml, bookkeeping, pruning), so the window of kept generations and every
//! reader's guarantee are the same as for a generation written here.

use std::path::Path;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::generations::Generation;
use super::publish::{file_names, intact_mtime, DiskJob, FileToWrite};
use super::repomd::Repomd;
use super::{Published, RepodataError};

/// Fetches a file of the generation by its href (`repodata/<name>`).
pub type Fetch<'a> = dyn FnMut(&str) -> Result<Bytes, String> + 'a;

/// Prepares the generation described by `repomd` (and its `signature`) for `repo_dir`: the
/// files not already there intact are fetched and checked against the checksum and size
/// repomd.xml records. Returns no job when `repomd` is the one already served.
pub(crate) fn adopt(
    repo_dir: &Path,
    repomd: Bytes,
    signature: Option<Bytes>,
    fetch: &mut Fetch<'_>,
    keep: usize,
    now: i64,
) -> Result<(Published, Option<DiskJob>), RepodataError> {
    let repodata = repo_dir.join("repodata");
    std::fs::create_dir_all(&repodata)?;
    let text = std::str::from_utf8(&repomd)
        .ok()
        .and_then(Repomd::parse)
        .filter(|r| !r.revision.is_empty() && !r.records.is_empty())
        .ok_or_else(|| RepodataError::Load("the generation to adopt has no readable repomd.xml".into()))?;
    let current = std::fs::read(repodata.join("repomd.xml")).ok();
    let published = Published {
        revision: text.revision_number().unwrap_or(0),
        repomd_sha256: hex::encode(Sha256::digest(&repomd)),
        changed: current.as_deref() != Some(&repomd[..]),
        files: file_names(&text),
        blocks_total: 0,
        blocks_compressed: 0,
        bytes: text.records.iter().map(|r| r.size).sum(),
    };
    if !published.changed {
        return Ok((published, None));
    }
    let mut files = Vec::new();
    for record in &text.records {
        // Only plain names inside repodata/: whatever the bucket says, nothing is written
        // anywhere else.
        let name = record
            .href
            .strip_prefix("repodata/")
            .filter(|n| !n.is_empty() && !n.contains('/') && !n.starts_with('.'))
            .ok_or_else(|| RepodataError::Load(format!("repomd.xml names {} outside repodata/", record.href)))?;
        if intact_mtime(&repodata, name, record.size).is_some() {
            continue;
        }
        let bytes = fetch(&record.href).map_err(RepodataError::Load)?;
        let sha = hex::encode(Sha256::digest(&bytes));
        if bytes.len() as u64 != record.size || sha != record.checksum {
            return Err(RepodataError::Load(format!(
                "{}: repomd.xml records sha256 {} and {} bytes, the copy fetched has {sha} and {} bytes",
                record.href,
                record.checksum,
                record.size,
                bytes.len()
            )));
        }
        files.push(FileToWrite {
            name: name.to_string(),
            parts: vec![bytes],
            size: record.size,
            mtime: u64::try_from(record.timestamp).unwrap_or(0),
        });
    }
    let previous = current
        .as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(Repomd::parse)
        .map(|cur| Generation {
            revision: cur.revision.clone(),
            files: file_names(&cur),
        });
    let job = DiskJob {
        repodata,
        files,
        revision: text.revision.clone(),
        repomd,
        signature,
        previous,
        file_names: file_names(&text),
        keep,
        now: u64::try_from(now).unwrap_or(0),
    };
    Ok((published, Some(job)))
}
