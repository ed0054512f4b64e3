//! Metadata files as multi-member gzip, with the members cached between publications.
//!
//! Compression is nearly all the cost of publishing. A gzip file may be a sequence of
//! members, each a complete gzip stream, which every reader of repodata (zlib's gzread,
//! librepo, libsolv, Python's gzip) decompresses as one concatenated text. So each file is
//! written as a header member (it holds `packages="N"`, which changes with every publication),
//! one member per block of packages, and a footer member. Blocks are content-defined: a block
//! ends after a package whose pkgid hash meets a condition, so inserting or removing a package
//! changes only the block around it, and every other block's compressed member is reused from
//! the cache, keyed by the sha256 of its uncompressed content.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

/// One in this many packages ends a block: blocks of ~64 packages on average.
const BLOCK_MODULUS: u64 = 64;
/// Hard cap, so a run of unlucky hashes cannot make one huge block.
const MAX_BLOCK: usize = 256;
/// zlib's default level: createrepo_c's too.
const LEVEL: u32 = 6;

/// sha256 of a block's uncompressed content.
pub(crate) type Key = [u8; 32];

/// Splits `pkgids` (in publication order) into content-defined blocks.
pub(crate) fn block_ranges<'a>(pkgids: impl IntoIterator<Item = &'a str>) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, pkgid) in pkgids.into_iter().enumerate() {
        count += 1;
        let h = Sha256::digest(pkgid.as_bytes());
        let value = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        if value % BLOCK_MODULUS == 0 || i + 1 - start >= MAX_BLOCK {
            ranges.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < count {
        ranges.push(start..count);
    }
    ranges
}

/// The uncompressed content of one metadata file, as pieces.
pub(crate) struct Stream<'a> {
    pub header: String,
    /// Package fragments, grouped per block.
    pub blocks: Vec<Vec<&'a str>>,
    pub footer: &'static str,
}

/// What can be known about a stream without compressing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamDigest {
    /// sha256 of the whole uncompressed stream (repomd's open-checksum).
    pub open_sha256: Key,
    pub open_size: u64,
    /// Cache key of each block.
    pub keys: Vec<Key>,
}

/// Hashes the stream: its open checksum and every block's key, in one pass over the bytes.
pub(crate) fn digest(stream: &Stream<'_>) -> StreamDigest {
    let mut open = Sha256::new();
    let mut size = stream.header.len() + stream.footer.len();
    open.update(stream.header.as_bytes());
    let mut keys = Vec::with_capacity(stream.blocks.len());
    for block in &stream.blocks {
        // The block key only has to tell cached blocks apart, so it uses a fast 128-bit
        // non-cryptographic hash (plus the length) instead of a second sha256 pass, which
        // was a quarter of a publication's CPU time; the open-checksum stays sha256.
        let mut key = Xxh3::new();
        let mut len = 0u64;
        for fragment in block {
            open.update(fragment.as_bytes());
            key.update(fragment.as_bytes());
            len += fragment.len() as u64;
        }
        size += len as usize;
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(&key.digest128().to_le_bytes());
        k[16..24].copy_from_slice(&len.to_le_bytes());
        keys.push(k);
    }
    open.update(stream.footer.as_bytes());
    StreamDigest {
        open_sha256: open.finalize().into(),
        open_size: size as u64,
        keys,
    }
}

/// Compresses `data` as one complete gzip member (no name, mtime 0: deterministic).
fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::new(LEVEL));
    // Writing into a Vec cannot fail.
    enc.write_all(data).expect("in-memory gzip");
    enc.finish().expect("in-memory gzip")
}

/// A compressed metadata file.
pub(crate) struct Compressed {
    pub bytes: Vec<u8>,
    pub sha256: Key,
}

/// Counters of one assembly, for tests and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AssemblyStats {
    pub blocks_total: usize,
    pub blocks_compressed: usize,
}

/// Compressed block members, shared by all repositories a writer publishes (beta and
/// production share most of their packages, hence most blocks).
#[derive(Default)]
pub(crate) struct BlockCache {
    members: HashMap<Key, Arc<Vec<u8>>>,
    /// Keys each repository's current files use; everything else can be dropped.
    in_use: HashMap<PathBuf, HashSet<Key>>,
}

impl BlockCache {
    /// Builds the compressed files for `streams`, compressing only the blocks not cached
    /// (on all cores), then records them as the ones `repo` uses and evicts the rest.
    pub(crate) fn assemble(
        &mut self,
        repo: &Path,
        streams: &[(&Stream<'_>, &StreamDigest)],
    ) -> (Vec<Compressed>, AssemblyStats) {
        let mut stats = AssemblyStats::default();
        let mut missing: Vec<(Key, &[&str])> = Vec::new();
        let mut queued: HashSet<Key> = HashSet::new();
        for (stream, digest) in streams {
            stats.blocks_total += stream.blocks.len();
            for (block, key) in stream.blocks.iter().zip(&digest.keys) {
                if !self.members.contains_key(key) && queued.insert(*key) {
                    missing.push((*key, block.as_slice()));
                }
            }
        }
        stats.blocks_compressed = missing.len();
        for (key, member) in compress_all(&missing) {
            self.members.insert(key, Arc::new(member));
        }

        let mut files = Vec::with_capacity(streams.len());
        let mut used = HashSet::new();
        for (stream, digest) in streams {
            let mut bytes = gzip_member(stream.header.as_bytes());
            for key in &digest.keys {
                bytes.extend_from_slice(&self.members[key]);
                used.insert(*key);
            }
            bytes.extend_from_slice(&gzip_member(stream.footer.as_bytes()));
            let sha256 = Sha256::digest(&bytes).into();
            files.push(Compressed { bytes, sha256 });
        }
        self.in_use.insert(repo.to_path_buf(), used);
        let live: HashSet<&Key> = self.in_use.values().flatten().collect();
        self.members.retain(|k, _| live.contains(k));
        (files, stats)
    }

    /// Number of cached members (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }
}

/// Compresses the blocks in parallel on the available cores.
fn compress_all(blocks: &[(Key, &[&str])]) -> Vec<(Key, Vec<u8>)> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(blocks.len());
    let compress = |(key, fragments): &(Key, &[&str])| {
        let mut data = String::with_capacity(fragments.iter().map(|f| f.len()).sum());
        for f in *fragments {
            data.push_str(f);
        }
        (*key, gzip_member(data.as_bytes()))
    };
    if workers <= 1 {
        return blocks.iter().map(compress).collect();
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(block) = blocks.get(i) else { break };
                        done.push(compress(block));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("compression worker panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip_all(bytes: &[u8]) -> String {
        let mut out = String::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn blocks_are_content_defined() {
        let ids: Vec<String> = (0..5000).map(|i| format!("{:064x}", i * 7919)).collect();
        let ranges = block_ranges(ids.iter().map(String::as_str));
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, 5000);
        let avg = 5000 / ranges.len();
        assert!((20..=150).contains(&avg), "average block {avg}");
        // Inserting one package changes at most the block that receives it.
        let mut more = ids.clone();
        more.insert(2500, "new".into());
        let again = block_ranges(more.iter().map(String::as_str));
        let content = |ids: &[String], r: &[Range<usize>]| -> HashSet<Vec<String>> {
            r.iter().map(|r| ids[r.clone()].to_vec()).collect()
        };
        let (a, b) = (content(&ids, &ranges), content(&more, &again));
        assert!(a.difference(&b).count() <= 2, "{}", a.difference(&b).count());
    }

    #[test]
    fn members_concatenate_to_the_stream() {
        let frags = ["<a/>\n", "<b/>\n", "<c/>\n"];
        let stream = Stream {
            header: "<x>\n".into(),
            blocks: vec![frags[..2].to_vec(), frags[2..].to_vec()],
            footer: "</x>",
        };
        let d = digest(&stream);
        let mut cache = BlockCache::default();
        let (files, stats) = cache.assemble(Path::new("/r"), &[(&stream, &d)]);
        assert_eq!(
            stats,
            AssemblyStats {
                blocks_total: 2,
                blocks_compressed: 2
            }
        );
        let text = gunzip_all(&files[0].bytes);
        assert_eq!(text, "<x>\n<a/>\n<b/>\n<c/>\n</x>");
        assert_eq!(d.open_size, text.len() as u64);
        assert_eq!(d.open_sha256, <[u8; 32]>::from(Sha256::digest(text.as_bytes())));
        let (again, stats) = cache.assemble(Path::new("/r"), &[(&stream, &d)]);
        assert_eq!(stats.blocks_compressed, 0);
        assert_eq!(again[0].bytes, files[0].bytes);
        assert_eq!(cache.len(), 2);
    }
}
