//! What `rpm -K --nosignature` checks, computed while an upload streams in.
//!
//! Same rules as rpm 4.18 (lib/rpmchecksig.c `rpmpkgRead`, rpmvs.c), so that we refuse exactly
//! what it refuses: the lead (magic, version 3 or 4, header-style signature); both headers'
//! intro (the 8-byte magic, reserved bytes included) and structure ([`super::structure`]); the
//! signature header's digests of the main header (SHA1, SHA256) and its MD5 of header and
//! payload; the payload's SHA256 against `PAYLOADDIGEST` or its alternative
//! `PAYLOADDIGESTALT`; and which of them must exist ([`super::rpmvs`]). On top of rpm 4.18 we
//! check the SHA3-256 header digest of rpm 6 packages (signature tag 279, which 4.18 does not
//! know): where the tag is present, the 64 hex digits at its offset must be the header's
//! SHA3-256. Each check runs as soon as its bytes have arrived, so garbage is refused after
//! 96 bytes, and a lying size after 16 more.
//!
//! Memory: the two headers are kept until checked (rpm's own limits bound them, and they grow
//! only as bytes arrive); the payload is hashed and forgotten.

use std::io::Read;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use sha3::Sha3_256;

use super::rpmvs::{self, Kind, Sinfo, State};
use super::structure::{check_blob, check_lengths, find, Which};

const LEAD_SIZE: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
/// rpm compares all 8 bytes (`rpm_header_magic`): the magic and 4 reserved zero bytes.
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
/// `RPMSIGTYPE_HEADERSIG`, the only signature type rpm reads.
const SIGTYPE_HEADERSIG: u16 = 5;
const SIGTAG_SHA1: u32 = 269;
const SIGTAG_SHA256: u32 = 273;
const SIGTAG_SHA3_256: u32 = 279;
const SIGTAG_MD5: u32 = 1004;
const PAYLOADDIGEST: u32 = 5092;
const PAYLOADDIGESTALT: u32 = 5097;

/// Why a package fails what `rpm -K` checks; the text names the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IntegrityError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, IntegrityError> {
    Err(IntegrityError(msg.into()))
}

/// What a verified package looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Offset of the main header.
    pub header_start: u64,
    /// Offset of the payload.
    pub header_end: u64,
    /// Size of the whole file.
    pub size: u64,
    /// The digests that were checked, e.g. `header sha256`, `payload sha256`.
    pub checked: Vec<&'static str>,
}

/// Where the next bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Lead,
    SigIntro,
    SigBody,
    SigPad,
    HdrIntro,
    HdrBody,
    Payload,
    Failed,
}

/// The digests the two headers promise.
#[derive(Debug, Default)]
struct Expected {
    /// Every digest rpm tracks, as rpm tracks it.
    sinfos: Vec<Sinfo>,
    /// The signature header's SHA3-256 tag: the bytes at its offset (up to 64).
    sha3: Option<Vec<u8>>,
}

impl Expected {
    fn pending(&self, kind: Kind) -> bool {
        self.sinfos
            .iter()
            .any(|s| s.kind == kind && matches!(s.state, State::Pending(_)))
    }
}

/// Push-based verifier: [`feed`](Self::feed) every chunk as it arrives, then
/// [`finish`](Self::finish). The first failure is final.
pub struct StreamVerifier {
    stage: Stage,
    /// Bytes of the current stage gathered so far.
    buf: Vec<u8>,
    /// Bytes the current stage needs.
    need: usize,
    /// Bytes fed so far.
    received: u64,
    header_start: u64,
    header_end: u64,
    expected: Expected,
    md5: Option<Md5>,
    payload: Sha256,
    checked: Vec<&'static str>,
}

impl Default for StreamVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamVerifier {
    /// A verifier expecting the first byte of a file.
    pub fn new() -> Self {
        StreamVerifier {
            stage: Stage::Lead,
            buf: Vec::new(),
            need: LEAD_SIZE,
            received: 0,
            header_start: 0,
            header_end: 0,
            expected: Expected::default(),
            md5: None,
            payload: Sha256::new(),
            checked: Vec::new(),
        }
    }

    /// Takes the next bytes of the file; fails as soon as a check fails.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), IntegrityError> {
        while !data.is_empty() {
            match self.stage {
                Stage::Failed => return fail("an earlier check failed"),
                Stage::Payload => {
                    self.payload.update(data);
                    if let Some(md5) = &mut self.md5 {
                        md5.update(data);
                    }
                    self.received += data.len() as u64;
                    return Ok(());
                }
                _ => {
                    let take = (self.need - self.buf.len()).min(data.len());
                    self.buf.extend_from_slice(&data[..take]);
                    self.received += take as u64;
                    data = &data[take..];
                    if self.buf.len() == self.need {
                        if let Err(e) = self.advance() {
                            self.stage = Stage::Failed;
                            return Err(e);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The end of the file: checks the payload digests.
    pub fn finish(mut self) -> Result<Verified, IntegrityError> {
        let within = match self.stage {
            Stage::Failed => return fail("an earlier check failed"),
            Stage::Payload => None,
            Stage::Lead => Some("the lead"),
            Stage::SigIntro | Stage::SigBody | Stage::SigPad => Some("the signature header"),
            Stage::HdrIntro | Stage::HdrBody => Some("the header"),
        };
        if let Some(within) = within {
            return fail(format!(
                "truncated: the file ends inside {within} after {} bytes",
                self.received
            ));
        }
        let payload = hex::encode(self.payload.finalize_reset());
        rpmvs::settle(&mut self.expected.sinfos, Kind::Payload, &payload);
        if let Some(md5) = self.md5.take() {
            rpmvs::settle(&mut self.expected.sinfos, Kind::Md5, &hex::encode(md5.finalize()));
        }
        let checked = rpmvs::verdict(&self.expected.sinfos).map_err(IntegrityError)?;
        for name in checked {
            if !self.checked.contains(&name) {
                self.checked.push(name);
            }
        }
        Ok(Verified {
            header_start: self.header_start,
            header_end: self.header_end,
            size: self.received,
            checked: self.checked,
        })
    }

    /// Runs the check of the stage whose bytes are complete and moves to the next one.
    fn advance(&mut self) -> Result<(), IntegrityError> {
        match self.stage {
            Stage::Lead => {
                check_lead(&self.buf)?;
                self.next(Stage::SigIntro, 16);
            }
            Stage::SigIntro | Stage::HdrIntro => {
                let which = if self.stage == Stage::SigIntro {
                    Which::Signature
                } else {
                    Which::Main
                };
                if self.buf[..8] != HEADER_MAGIC {
                    return fail(format!(
                        "{}: bad magic (rpm requires 8e ad e8 01 00 00 00 00), found {}",
                        which.name(),
                        hex::encode(&self.buf[..8])
                    ));
                }
                let il = u32::from_be_bytes(self.buf[8..12].try_into().expect("4 bytes"));
                let dl = u32::from_be_bytes(self.buf[12..16].try_into().expect("4 bytes"));
                check_lengths(which, il, dl).map_err(IntegrityError)?;
                // The intro stays in buf: the main header's digests cover it.
                self.need = 16 + il as usize * 16 + dl as usize;
                self.stage = if which == Which::Signature {
                    Stage::SigBody
                } else {
                    Stage::HdrBody
                };
                if self.buf.len() == self.need {
                    return self.advance();
                }
            }
            Stage::SigBody => {
                self.expected = read_signature(&self.buf)?;
                let pad = (8 - self.buf.len() % 8) % 8;
                self.header_start = LEAD_SIZE as u64 + self.buf.len() as u64 + pad as u64;
                if pad == 0 {
                    self.next(Stage::HdrIntro, 16);
                } else {
                    self.next(Stage::SigPad, pad);
                }
            }
            Stage::SigPad => self.next(Stage::HdrIntro, 16),
            Stage::HdrBody => {
                self.check_header()?;
                self.header_end = self.header_start + self.buf.len() as u64;
                if self.expected.pending(Kind::Md5) {
                    let mut md5 = Md5::new();
                    md5.update(&self.buf);
                    self.md5 = Some(md5);
                }
                self.buf = Vec::new();
                self.stage = Stage::Payload;
            }
            Stage::Payload | Stage::Failed => unreachable!("no buffered stage"),
        }
        Ok(())
    }

    fn next(&mut self, stage: Stage, need: usize) {
        self.buf.clear();
        self.stage = stage;
        self.need = need;
    }

    /// The main header is complete in `buf`: its structure, its digests, and the payload
    /// digests it promises.
    fn check_header(&mut self) -> Result<(), IntegrityError> {
        let bytes = &self.buf;
        let il = u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let (index, store) = bytes[16..].split_at(il * 16);
        check_blob(Which::Main, index, store).map_err(IntegrityError)?;
        let e = &mut self.expected;
        if e.pending(Kind::Sha256) {
            rpmvs::settle(&mut e.sinfos, Kind::Sha256, &hex::encode(Sha256::digest(bytes)));
        }
        if e.pending(Kind::Sha1) {
            rpmvs::settle(&mut e.sinfos, Kind::Sha1, &hex::encode(Sha1::digest(bytes)));
        }
        // A header digest has no alternative: its failure is final, so refuse now.
        for s in &e.sinfos {
            if let (Kind::Sha1 | Kind::Sha256, State::Failed(why)) = (s.kind, &s.state) {
                return fail(why.clone());
            }
            if s.kind != Kind::Md5 && s.state == State::Ok && !self.checked.contains(&s.kind.name()) {
                self.checked.push(s.kind.name());
            }
        }
        if let Some(value) = &e.sha3 {
            let found = hex::encode(Sha3_256::digest(bytes));
            if !value.eq_ignore_ascii_case(found.as_bytes()) {
                return fail(format!(
                    "header sha3-256 digest mismatch: signature header says {}, received {found}",
                    String::from_utf8_lossy(value)
                ));
            }
            self.checked.push("header sha3-256");
        }
        // rpm fetches the payload digests from the main header (rpmvsAppendTag).
        for tag in [PAYLOADDIGEST, PAYLOADDIGESTALT] {
            e.sinfos.extend(rpmvs::lookup(Kind::Payload, tag, index, store));
        }
        Ok(())
    }
}

/// rpm's lead check (`rpmLeadCheck`).
fn check_lead(lead: &[u8]) -> Result<(), IntegrityError> {
    if lead[..4] != LEAD_MAGIC {
        return fail("not an RPM: the file does not start with the RPM lead magic");
    }
    let major = lead[4];
    if !(3..=4).contains(&major) {
        return fail(format!("lead: unsupported RPM format version {major}"));
    }
    let sigtype = u16::from_be_bytes([lead[78], lead[79]]);
    if sigtype != SIGTYPE_HEADERSIG {
        return fail(format!("lead: unsupported signature type {sigtype}"));
    }
    Ok(())
}

/// Checks the signature header's structure and reads the digests it holds.
fn read_signature(bytes: &[u8]) -> Result<Expected, IntegrityError> {
    let il = u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
    let (index, store) = bytes[16..].split_at(il * 16);
    check_blob(Which::Signature, index, store).map_err(IntegrityError)?;
    let mut sinfos = Vec::new();
    for (kind, tag) in [
        (Kind::Sha1, SIGTAG_SHA1),
        (Kind::Sha256, SIGTAG_SHA256),
        (Kind::Md5, SIGTAG_MD5),
    ] {
        sinfos.extend(rpmvs::lookup(kind, tag, index, store));
    }
    // A malformed header digest fails the package whatever else verifies; with none of the
    // three the header is verified by nothing. Both are final, so refuse before the header.
    for s in &sinfos {
        if let State::Failed(why) = &s.state {
            return fail(format!("signature header: {why}"));
        }
    }
    if sinfos.iter().all(|s| s.state == State::NotFound) {
        return fail("signature header: no valid SHA256, SHA1 or MD5 digest of the header");
    }
    // rpm 4.18 ignores tag 279; we compare the 64 bytes at its offset, whatever its type.
    let sha3 = find(index, SIGTAG_SHA3_256).map(|e| {
        let at = (e.offset as usize).min(store.len());
        store[at..(at + 64).min(store.len())].to_vec()
    });
    Ok(Expected { sinfos, sha3 })
}

/// Verifies a whole file read from `reader` (the same checks an upload gets).
pub fn verify_reader(mut reader: impl Read) -> Result<Verified, IntegrityError> {
    let mut verifier = StreamVerifier::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| IntegrityError(format!("reading the package: {e}")))?;
        if n == 0 {
            break;
        }
        verifier.feed(&buf[..n])?;
    }
    verifier.finish()
}

/// Verifies the bytes of a whole file.
pub fn verify_bytes(bytes: &[u8]) -> Result<Verified, IntegrityError> {
    let mut verifier = StreamVerifier::new();
    verifier.feed(bytes)?;
    verifier.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_fails_at_the_lead() {
        let mut v = StreamVerifier::new();
        assert!(v.feed(&[0u8; 50]).is_ok());
        let e = v.feed(&[0u8; 50]).unwrap_err();
        assert!(e.0.contains("lead magic"), "{e}");
        assert!(v.feed(&[0u8; 1]).is_err());
    }

    /// A verifier that has accepted a well-formed v3 lead.
    fn past_a_valid_lead() -> StreamVerifier {
        let mut lead = vec![0u8; 96];
        lead[..4].copy_from_slice(&LEAD_MAGIC);
        lead[4] = 3;
        lead[79] = 5;
        let mut v = StreamVerifier::new();
        v.feed(&lead).unwrap();
        v
    }

    #[test]
    fn lying_sizes_fail_at_the_intro() {
        let mut v = past_a_valid_lead();
        let mut intro = HEADER_MAGIC.to_vec();
        intro.extend(7u32.to_be_bytes());
        intro.extend(u32::MAX.to_be_bytes());
        let e = v.feed(&intro).unwrap_err();
        assert!(e.0.contains("signature header"), "{e}");
    }

    #[test]
    fn nonzero_reserved_bytes_fail_like_bad_magic() {
        let mut v = past_a_valid_lead();
        let mut intro = HEADER_MAGIC.to_vec();
        intro[7] = 1;
        intro.extend([0u8; 8]);
        let e = v.feed(&intro).unwrap_err();
        assert!(e.0.contains("bad magic"), "{e}");
    }

    #[test]
    fn truncation_is_named() {
        let e = verify_bytes(&LEAD_MAGIC).unwrap_err();
        assert!(e.0.contains("truncated"), "{e}");
    }
}
