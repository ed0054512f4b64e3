//! Small metadata files (updateinfo) as a list of pieces, each compressed as its own gzip
//! member, with the SHA-256 states after each piece kept: when a publication's pieces start
//! with the previous publication's, only the pieces after them are compressed and hashed.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_128;

use super::layout::{gzip_member, StreamDigest};

/// One compressed piece, with the hash states after it.
struct Piece {
    /// Tells pieces apart without comparing their text.
    fingerprint: u128,
    len: usize,
    member: Bytes,
    open: Sha256,
    comp: Sha256,
}

/// The pieces of one file, as last published.
#[derive(Default)]
pub(crate) struct Chain {
    pieces: Vec<Piece>,
}

impl Chain {
    /// Brings the chain to `texts`; returns how many pieces were compressed.
    pub(crate) fn update(&mut self, texts: &[Arc<str>]) -> usize {
        let prints: Vec<u128> = texts.iter().map(|t| xxh3_128(t.as_bytes())).collect();
        let keep = self
            .pieces
            .iter()
            .zip(texts.iter().zip(&prints))
            .take_while(|(p, (t, f))| p.fingerprint == **f && p.len == t.len())
            .count();
        self.pieces.truncate(keep);
        let (mut open, mut comp) = match self.pieces.last() {
            Some(p) => (p.open.clone(), p.comp.clone()),
            None => (Sha256::new(), Sha256::new()),
        };
        for (text, print) in texts[keep..].iter().zip(&prints[keep..]) {
            let member = Bytes::from(gzip_member(text.as_bytes()));
            open.update(text.as_bytes());
            comp.update(&member[..]);
            self.pieces.push(Piece {
                fingerprint: *print,
                len: text.len(),
                member,
                open: open.clone(),
                comp: comp.clone(),
            });
        }
        texts.len() - keep
    }

    /// Checksums and sizes of the file.
    pub(crate) fn digest(&self) -> StreamDigest {
        let (open, comp) = match self.pieces.last() {
            Some(p) => (p.open.clone(), p.comp.clone()),
            None => (Sha256::new(), Sha256::new()),
        };
        StreamDigest {
            open_sha256: open.finalize().into(),
            open_size: self.pieces.iter().map(|p| p.len as u64).sum(),
            sha256: comp.finalize().into(),
            size: self.pieces.iter().map(|p| p.member.len() as u64).sum(),
        }
    }

    /// The same pieces as shared buffers.
    pub(crate) fn shared_members(&self) -> Vec<Bytes> {
        self.pieces.iter().map(|p| p.member.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_chain_reuses_its_common_start() {
        let text = |v: &[&str]| -> Vec<Arc<str>> { v.iter().map(|s| Arc::from(*s)).collect() };
        let mut chain = Chain::default();
        assert_eq!(chain.update(&text(&["<a>\n", "<b/>\n", "</a>\n"])), 3);
        assert_eq!(chain.update(&text(&["<a>\n", "<b/>\n", "<c/>\n", "</a>\n"])), 2);
        assert_eq!(chain.update(&text(&["<a>\n", "<c/>\n", "</a>\n"])), 2);
        let bytes: Vec<u8> = chain.shared_members().concat();
        let mut out = String::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "<a>\n<c/>\n</a>\n");
        let d = chain.digest();
        assert_eq!(d.open_sha256, <[u8; 32]>::from(Sha256::digest(out.as_bytes())));
        assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(&bytes)));
        assert_eq!((d.open_size, d.size), (out.len() as u64, bytes.len() as u64));
    }
}
