//! The order of packages in a repository's metadata, kept between publications so that one
//! more release costs what the release costs, not what the repository costs.
//!
//! Each of the three files is a gzip header member, one member per block of packages, and a
//! footer member (every reader of repodata decompresses a multi-member gzip file as one
//! text). Packages keep their place: new ones are appended at the end, and a package that
//! leaves changes only its own block. The root elements carry no `packages="N"` count (no
//! reader needs it: dnf/libsolv, createrepo_c `--update` and mergerepo_c count the
//! `<package>` elements), so the start of every file stays byte-identical while the
//! repository grows, and the SHA-256 state after each block (of the uncompressed stream, the
//! open-checksum, and of the compressed file, the checksum) is kept: a publication hashes only
//! the blocks from the first one that changed, which for an added release is the new block.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

use super::{filelists, other, primary, PackageXml};

/// primary, filelists, other: the three streams, in repomd order.
pub(crate) const STREAMS: usize = 3;
/// Packages per block when a run of packages is laid out (the first publication, a merge).
const BLOCK: usize = 64;
/// Trailing blocks smaller than [`BLOCK`] (one per small release) are merged into full blocks
/// once there are this many, so the files do not become thousands of tiny members.
const SMALL_TAIL: usize = 16;
/// Bytes of uncompressed text kept from building blocks to hashing them.
#[cfg(not(test))]
const TEXT_BUDGET: usize = 32 << 20;
/// Small in tests, so that they hash decompressed blocks too.
#[cfg(test)]
const TEXT_BUDGET: usize = 64 << 10;
/// Packages whose fragments are loaded at once while blocks are built.
const LOAD_BATCH: usize = 1024;
/// zlib's default level: createrepo_c's too.
const LEVEL: u32 = 6;

/// The constant document start and end of each stream, and their compressed members.
pub(crate) struct Frame {
    pub header: [&'static str; STREAMS],
    pub footer: [&'static str; STREAMS],
    header_member: [Vec<u8>; STREAMS],
    pub footer_member: [Vec<u8>; STREAMS],
    header_bytes: [Bytes; STREAMS],
    footer_bytes: [Bytes; STREAMS],
    /// Hash states after the header: uncompressed and compressed.
    start: [State; STREAMS],
}

/// The frame, computed once per process.
pub(crate) fn frame() -> &'static Frame {
    static FRAME: OnceLock<Frame> = OnceLock::new();
    FRAME.get_or_init(|| {
        let header = [primary::HEADER, filelists::HEADER, other::HEADER];
        let footer = [primary::FOOTER, filelists::FOOTER, other::FOOTER];
        let header_member = header.map(|h| gzip_member(h.as_bytes()));
        let footer_member = footer.map(|f| gzip_member(f.as_bytes()));
        let start = std::array::from_fn(|s| State {
            open: Sha256::new().chain_update(header[s]),
            comp: Sha256::new().chain_update(&header_member[s]),
        });
        Frame {
            header,
            footer,
            header_bytes: header_member.clone().map(Bytes::from),
            footer_bytes: footer_member.clone().map(Bytes::from),
            header_member,
            footer_member,
            start,
        }
    })
}

/// Compresses `data` as one complete gzip member (no name, mtime 0: deterministic).
pub(crate) fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::new(LEVEL));
    // Writing into a Vec cannot fail.
    enc.write_all(data).expect("in-memory gzip");
    enc.finish().expect("in-memory gzip")
}

/// SHA-256 states after a block: of the uncompressed stream and of the compressed file.
#[derive(Clone)]
struct State {
    open: Sha256,
    comp: Sha256,
}

/// A run of packages stored as one gzip member per stream.
struct Block {
    /// Stable while the block exists; blocks are in increasing id order.
    id: u64,
    pkgids: Vec<String>,
    members: [Bytes; STREAMS],
    open_len: [u64; STREAMS],
}

/// Fetches the fragments of packages (in the order asked) that are not in memory.
pub type Loader<'a> = dyn FnMut(&[&str]) -> Result<Vec<PackageXml>, String> + 'a;

/// What one stream's file is, without assembling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamDigest {
    pub open_sha256: [u8; 32],
    pub open_size: u64,
    pub sha256: [u8; 32],
    pub size: u64,
}

/// Counters of one change, for tests and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChangeStats {
    pub blocks_total: usize,
    pub blocks_compressed: usize,
    /// Blocks whose hash states were recomputed.
    pub blocks_rehashed: usize,
}

/// The packages of one repository in publication order, as compressed blocks with the hash
/// state after each.
#[derive(Default)]
pub(crate) struct Layout {
    blocks: Vec<Block>,
    /// `chain[i]`: states after block `i`, per stream.
    chain: Vec<[State; STREAMS]>,
    /// Every package, with the id of its block.
    owner: BTreeMap<String, u64>,
    next_id: u64,
    /// The extra files (updateinfo), by kind.
    pub(crate) extras: HashMap<String, super::pieces::Chain>,
    /// Whether the packages are those of the last successful publication (the writer's
    /// record, so that a caller's known change can stand in for comparing whole sets).
    pub(crate) synced: bool,
}

/// A block to (re)build: replacing block `id`, or appended when None.
struct Job {
    replaces: Option<u64>,
    pkgids: Vec<String>,
}

/// A built block with its uncompressed text, which the rehash needs (None beyond
/// [`TEXT_BUDGET`]: the rehash decompresses the block instead).
struct Built {
    block: Block,
    text: Option<[String; STREAMS]>,
}

impl Layout {
    /// The pkgids, sorted.
    pub(crate) fn pkgids(&self) -> impl Iterator<Item = &str> {
        self.owner.keys().map(String::as_str)
    }

    /// Whether `pkgid` is laid out.
    pub(crate) fn contains(&self, pkgid: &str) -> bool {
        self.owner.contains_key(pkgid)
    }

    /// Number of packages.
    pub(crate) fn len(&self) -> usize {
        self.owner.len()
    }

    /// Removes `removed` (each present) and appends `added` (each absent, in this order),
    /// loading the fragments of the blocks that must be rebuilt. On error nothing changed.
    pub(crate) fn apply(
        &mut self,
        removed: &[&str],
        added: &[&str],
        load: &mut Loader<'_>,
    ) -> Result<ChangeStats, String> {
        let mut gone: HashMap<u64, Vec<&str>> = HashMap::new();
        for pkgid in removed {
            let id = self
                .owner
                .get(*pkgid)
                .ok_or_else(|| format!("package {pkgid} is not published"))?;
            gone.entry(*id).or_default().push(pkgid);
        }
        if let Some(dup) = added.iter().find(|p| self.owner.contains_key(**p)) {
            return Err(format!("package {dup} is already published"));
        }

        let mut jobs: Vec<Job> = Vec::new();
        for (id, leaving) in &gone {
            let block = &self.blocks[self.position(*id)];
            let pkgids = block
                .pkgids
                .iter()
                .filter(|p| !leaving.contains(&p.as_str()))
                .cloned()
                .collect();
            jobs.push(Job {
                replaces: Some(*id),
                pkgids,
            });
        }
        // Small trailing blocks (one per release) are merged with the new packages once there
        // are enough of them; blocks being rebuilt anyway are left out of the merge.
        let mut merged: Vec<u64> = Vec::new();
        if !added.is_empty() {
            let small: Vec<&Block> = self
                .blocks
                .iter()
                .rev()
                .take_while(|b| b.pkgids.len() < BLOCK && !gone.contains_key(&b.id))
                .collect();
            if small.len() + 1 >= SMALL_TAIL {
                merged = small.iter().map(|b| b.id).collect();
            }
        }
        let mut run: Vec<String> = Vec::new();
        for id in merged.iter().rev() {
            run.extend(self.blocks[self.position(*id)].pkgids.iter().cloned());
        }
        run.extend(added.iter().map(|p| p.to_string()));
        for chunk in run.chunks(BLOCK) {
            jobs.push(Job {
                replaces: None,
                pkgids: chunk.to_vec(),
            });
        }

        // Fragments are loaded a batch of blocks at a time, so that laying out a whole
        // repository (the first publication after a start) never holds all of them at once.
        let mut built = Vec::with_capacity(jobs.len());
        let mut kept = 0;
        let mut from = 0;
        while from < jobs.len() {
            let mut to = from;
            let mut count = 0;
            while to < jobs.len() && (count == 0 || count + jobs[to].pkgids.len() <= LOAD_BATCH) {
                count += jobs[to].pkgids.len();
                to += 1;
            }
            let wanted: Vec<&str> = jobs[from..to]
                .iter()
                .flat_map(|j| j.pkgids.iter().map(String::as_str))
                .collect();
            let fragments = if wanted.is_empty() { Vec::new() } else { load(&wanted)? };
            if fragments.len() != wanted.len() || fragments.iter().zip(&wanted).any(|(f, w)| f.pkgid != *w) {
                return Err("the loader returned other packages than asked".into());
            }
            for mut b in self.build(&jobs[from..to], &fragments) {
                let size: usize = b.text.iter().flatten().map(String::len).sum();
                if kept + size <= TEXT_BUDGET {
                    kept += size;
                } else {
                    b.text = None;
                }
                built.push(b);
            }
            from = to;
        }

        // Nothing fails from here on.
        let compressed = built.len();
        let mut texts: HashMap<u64, [String; STREAMS]> = HashMap::new();
        let mut first_dirty = self.blocks.len();
        let mut appended = Vec::new();
        for (job, b) in jobs.iter().zip(built) {
            if let Some(text) = b.text {
                texts.insert(b.block.id, text);
            }
            match job.replaces {
                Some(id) => {
                    let pos = self.position(id);
                    first_dirty = first_dirty.min(pos);
                    self.blocks[pos] = b.block;
                }
                None => appended.push(b.block),
            }
        }
        if let Some(pos) = merged.last().map(|id| self.position(*id)) {
            first_dirty = first_dirty.min(pos);
            self.blocks.truncate(pos);
        }
        let mut appended_from = self.blocks.len();
        self.blocks.extend(appended);
        // Emptied blocks go; everything after the first of them moves.
        if let Some(pos) = self.blocks.iter().position(|b| b.pkgids.is_empty()) {
            first_dirty = first_dirty.min(pos);
            let emptied_before_appended = self.blocks[..appended_from]
                .iter()
                .filter(|b| b.pkgids.is_empty())
                .count();
            appended_from -= emptied_before_appended;
            self.blocks.retain(|b| !b.pkgids.is_empty());
        }
        for pkgid in removed {
            self.owner.remove(*pkgid);
        }
        // Only appended blocks hold packages whose block changed (new or merged ones).
        for block in &self.blocks[appended_from..] {
            for p in &block.pkgids {
                self.owner.insert(p.clone(), block.id);
            }
        }
        let rehashed = self.rehash(first_dirty, &texts);
        Ok(ChangeStats {
            blocks_total: self.blocks.len() * STREAMS,
            blocks_compressed: compressed * STREAMS,
            blocks_rehashed: rehashed * STREAMS,
        })
    }

    /// Index of block `id` in `blocks`.
    fn position(&self, id: u64) -> usize {
        self.blocks
            .binary_search_by_key(&id, |b| b.id)
            .expect("the owner map names existing blocks")
    }

    /// Renders and compresses the jobs' blocks on all cores. `fragments` are the jobs'
    /// packages, job after job.
    fn build(&mut self, jobs: &[Job], fragments: &[PackageXml]) -> Vec<Built> {
        let mut inputs = Vec::with_capacity(jobs.len());
        let mut at = 0;
        for job in jobs {
            let id = match job.replaces {
                Some(id) => id,
                None => {
                    // Appended blocks come after every existing id, so `blocks` stays sorted.
                    let last = self.blocks.last().map_or(0, |b| b.id);
                    self.next_id = self.next_id.max(last) + 1;
                    self.next_id
                }
            };
            let frags = &fragments[at..at + job.pkgids.len()];
            at += job.pkgids.len();
            inputs.push((id, job.pkgids.clone(), frags));
        }
        let work = |(id, pkgids, frags): &(u64, Vec<String>, &[PackageXml])| {
            let text: [String; STREAMS] = std::array::from_fn(|s| {
                let mut t = String::with_capacity(frags.iter().map(|f| fragment(f, s).len()).sum());
                for f in *frags {
                    t.push_str(fragment(f, s));
                }
                t
            });
            let members = std::array::from_fn(|s| Bytes::from(gzip_member(text[s].as_bytes())));
            Built {
                block: Block {
                    id: *id,
                    pkgids: pkgids.clone(),
                    members,
                    open_len: std::array::from_fn(|s| text[s].len() as u64),
                },
                text: Some(text),
            }
        };
        parallel_map(&inputs, work)
    }

    /// Recomputes the hash states from block `from` on, one stream per core. Blocks not in
    /// `texts` (unchanged blocks after a change) are decompressed for it.
    fn rehash(&mut self, from: usize, texts: &HashMap<u64, [String; STREAMS]>) -> usize {
        self.chain.truncate(from);
        let n = self.blocks.len();
        if from >= n {
            return 0;
        }
        let blocks = &self.blocks;
        let chain = &self.chain;
        let streams: Vec<usize> = (0..STREAMS).collect();
        let per_stream = parallel_map(&streams, |s| {
            let s = *s;
            let mut state = match from {
                0 => frame().start[s].clone(),
                i => chain[i - 1][s].clone(),
            };
            let mut out = Vec::with_capacity(n - from);
            let mut scratch = Vec::new();
            for block in &blocks[from..] {
                let open: &[u8] = match texts.get(&block.id) {
                    Some(t) => t[s].as_bytes(),
                    None => {
                        scratch.clear();
                        flate2::read::GzDecoder::new(&block.members[s][..])
                            .read_to_end(&mut scratch)
                            .expect("cached members are valid gzip");
                        &scratch
                    }
                };
                state.open.update(open);
                state.comp.update(&block.members[s][..]);
                out.push(state.clone());
            }
            out
        });
        let mut per_stream: Vec<std::vec::IntoIter<State>> = per_stream.into_iter().map(Vec::into_iter).collect();
        for _ in from..n {
            let states: [State; STREAMS] = std::array::from_fn(|s| per_stream[s].next().expect("one state per block"));
            self.chain.push(states);
        }
        n - from
    }

    /// The checksums and sizes of each stream's file.
    pub(crate) fn digests(&self) -> [StreamDigest; STREAMS] {
        let f = frame();
        std::array::from_fn(|s| {
            let last = self.chain.last().map_or(&f.start[s], |c| &c[s]);
            let open_len: u64 = self.blocks.iter().map(|b| b.open_len[s]).sum();
            let size: u64 = self.blocks.iter().map(|b| b.members[s].len() as u64).sum();
            StreamDigest {
                open_sha256: last.open.clone().chain_update(f.footer[s]).finalize().into(),
                open_size: (f.header[s].len() + f.footer[s].len()) as u64 + open_len,
                sha256: last.comp.clone().chain_update(&f.footer_member[s]).finalize().into(),
                size: (f.header_member[s].len() + f.footer_member[s].len()) as u64 + size,
            }
        })
    }

    /// The same pieces as shared buffers, for a file served from memory before it is on disk.
    pub(crate) fn shared_pieces(&self, s: usize) -> Vec<Bytes> {
        let f = frame();
        let mut out = Vec::with_capacity(self.blocks.len() + 2);
        out.push(f.header_bytes[s].clone());
        out.extend(self.blocks.iter().map(|b| b.members[s].clone()));
        out.push(f.footer_bytes[s].clone());
        out
    }
}

/// A package's fragment of stream `s`.
fn fragment(x: &PackageXml, s: usize) -> &str {
    match s {
        0 => &x.primary,
        1 => &x.filelists,
        _ => &x.other,
    }
}

/// `f` over `items` on the available cores, results in order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("publication worker panicked"))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}
