//! Package integrity at upload: stagerepo accepts a package exactly when `rpm -K --nosignature`
//! (rpm 4.18) says its digests are OK, plus a check of rpm 6's SHA3-256 header digest
//! (differential test over seeded mutants of the shared RPMs; `INTEGRITY_SEED=N` picks other
//! mutants). Corruption at rest is tests/verify.rs.

mod common;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use sha3::Sha3_256;
use stagerepo::rpmhdr::verify_bytes;
use support::{http, json, require_tool, TestServer};

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Where the parts of a well-formed RPM are.
#[derive(Debug, Clone, Copy)]
struct Layout {
    sig_il: usize,
    sig_store: usize,
    hdr_start: usize,
    hdr_il: usize,
    hdr_store: usize,
    hdr_end: usize,
}

fn layout(b: &[u8]) -> Option<Layout> {
    let get = |at: usize| (at + 4 <= b.len()).then(|| be32(b, at) as usize);
    let sig_il = get(96 + 8)?;
    let sig_dl = get(96 + 12)?;
    let sig_len = 16usize.checked_add(sig_il.checked_mul(16)?)?.checked_add(sig_dl)?;
    let hdr_start = 96 + sig_len + (8 - sig_len % 8) % 8;
    let hdr_il = get(hdr_start + 8)?;
    let hdr_dl = get(hdr_start + 12)?;
    let hdr_end = hdr_start
        .checked_add(16)?
        .checked_add(hdr_il.checked_mul(16)?)?
        .checked_add(hdr_dl)?;
    (hdr_end <= b.len()).then_some(Layout {
        sig_il,
        sig_store: 96 + 16 + sig_il * 16,
        hdr_start,
        hdr_il,
        hdr_store: hdr_start + 16 + hdr_il * 16,
        hdr_end,
    })
}

/// The sig-header entry with `tag`: (offset in the file of its data, count).
fn sig_entry(b: &[u8], l: &Layout, tag: u32) -> Option<(usize, usize)> {
    (0..l.sig_il).find_map(|i| {
        let at = 96 + 16 + i * 16;
        (be32(b, at) == tag).then(|| (l.sig_store + be32(b, at + 8) as usize, be32(b, at + 12) as usize))
    })
}

/// Recomputes the signature header's digests of a changed main header, so that the change
/// reaches rpm's structure checks instead of failing the digest.
fn fix_digests(b: &mut [u8]) {
    let Some(l) = layout(b) else { return };
    let header = b[l.hdr_start..l.hdr_end].to_vec();
    let rest = b[l.hdr_start..].to_vec();
    let mut put = |tag: u32, value: &[u8]| {
        if let Some((at, _)) = sig_entry(b, &l, tag) {
            if at + value.len() <= l.hdr_start {
                b[at..at + value.len()].copy_from_slice(value);
            }
        }
    };
    put(269, hex::encode(Sha1::digest(&header)).as_bytes());
    put(273, hex::encode(Sha256::digest(&header)).as_bytes());
    put(279, hex::encode(Sha3_256::digest(&header)).as_bytes());
    put(1004, &Md5::digest(&rest));
}

/// rpm 4.18 does not know the SHA3-256 header digest of rpm 6 (sig tag 279); we check it.
fn sha3_broken(b: &[u8]) -> bool {
    let Some(l) = layout(b) else { return false };
    let Some((at, _)) = sig_entry(b, &l, 279) else {
        return false;
    };
    let want = hex::encode(Sha3_256::digest(&b[l.hdr_start..l.hdr_end]));
    b.get(at..at + 64)
        .map(|v| !v.eq_ignore_ascii_case(want.as_bytes()))
        .unwrap_or(false)
}

/// Changes one field of one index entry (tag, type, offset or count) of a header.
fn poke_index(b: &mut [u8], rng: &mut XorShift, index_start: usize, il: usize) -> String {
    if il == 0 {
        return "empty index".into();
    }
    let i = rng.below(il);
    let field = rng.below(4);
    let at = index_start + i * 16 + field * 4;
    let old = be32(b, at);
    let new = match rng.below(5) {
        0 => old.wrapping_add(1 + rng.below(8) as u32),
        1 => old.wrapping_sub(1 + rng.below(8) as u32),
        2 => rng.below(12) as u32,
        3 => rng.next() as u32,
        _ => old ^ (1 << rng.below(32)),
    };
    b[at..at + 4].copy_from_slice(&new.to_be_bytes());
    let name = ["tag", "type", "offset", "count"][field];
    format!("entry {i} {name} {old} -> {new}")
}

/// One seeded mutant of `orig`, with a description.
fn mutate(orig: &[u8], rng: &mut XorShift) -> (Vec<u8>, String) {
    let mut b = orig.to_vec();
    let l = layout(orig).expect("shared RPMs are well-formed");
    let kind = rng.below(12);
    let what = match kind {
        0 => {
            let at = rng.below(b.len());
            b[at] ^= 1 << rng.below(8);
            format!("bit flip at {at}")
        }
        1 => {
            // Mostly inside the lead and headers, where the checks differ.
            let at = rng.below(l.hdr_end);
            b[at] = rng.next() as u8;
            format!("byte change at {at}")
        }
        2 => {
            let cut = rng.below(b.len());
            b.truncate(cut);
            format!("truncated to {cut}")
        }
        3 => {
            let at = l.hdr_end + rng.below(b.len() - l.hdr_end);
            b[at] = b[at].wrapping_add(1 + rng.below(255) as u8);
            format!("payload byte change at {at}")
        }
        4 => format!("sig index: {}", poke_index(&mut b, rng, 96 + 16, l.sig_il)),
        5 => format!("header index: {}", poke_index(&mut b, rng, l.hdr_start + 16, l.hdr_il)),
        6 | 7 => {
            let what = poke_index(&mut b, rng, l.hdr_start + 16, l.hdr_il);
            fix_digests(&mut b);
            format!("header index, digests fixed: {what}")
        }
        8 => {
            let at = [0, 3, 4, 5, 6, 7, 8, 20, 77, 78, 79, 95][rng.below(12)];
            b[at] = if rng.below(2) == 0 { rng.next() as u8 } else { b[at] ^ 1 };
            format!("lead byte {at}")
        }
        9 => {
            // Digest values and other data of the signature header.
            let at = l.sig_store + rng.below(l.hdr_start - l.sig_store);
            b[at] ^= 1 << rng.below(8);
            format!("signature header data bit at {at}")
        }
        10 => {
            let at = l.hdr_store + rng.below(l.hdr_end - l.hdr_store);
            b[at] = rng.next() as u8;
            fix_digests(&mut b);
            format!("header data byte at {at}, digests fixed")
        }
        _ => {
            // The intro's counts: tag count or data length of either header.
            let at = [96 + 8, 96 + 12, l.hdr_start + 8, l.hdr_start + 12][rng.below(4)];
            let old = be32(&b, at);
            let new = match rng.below(3) {
                0 => old.wrapping_add(1 + rng.below(4) as u32),
                1 => old.wrapping_sub(1 + rng.below(4) as u32),
                _ => rng.next() as u32,
            };
            b[at..at + 4].copy_from_slice(&new.to_be_bytes());
            format!("intro count at {at}: {old} -> {new}")
        }
    };
    (b, what)
}

/// `rpm -K --nosignature` over many files in parallel batches: path -> digests OK.
fn rpm_verdicts(files: &[PathBuf]) -> BTreeMap<PathBuf, bool> {
    let batches: Vec<&[PathBuf]> = files.chunks(200).collect();
    let mut verdicts = BTreeMap::new();
    std::thread::scope(|scope| {
        let workers: Vec<_> = batches
            .chunks(batches.len().div_ceil(2).max(1))
            .map(|mine| {
                scope.spawn(move || {
                    let mut found = BTreeMap::new();
                    // One file per run: for a file it cannot read, rpm prints the name
                    // without a newline and the verdict of the next file joins that line.
                    for batch in mine {
                        for path in batch.iter() {
                            let out = common::c_locale("rpm")
                                .arg("-K")
                                .arg("--nosignature")
                                .arg(path)
                                .output()
                                .expect("running rpm -K");
                            let text = String::from_utf8_lossy(&out.stdout);
                            let ok =
                                out.status.success() && text.trim_end().ends_with("OK") && !text.contains("NOT OK");
                            found.insert(path.clone(), ok);
                        }
                    }
                    found
                })
            })
            .collect();
        for w in workers {
            verdicts.extend(w.join().unwrap());
        }
    });
    verdicts
}

struct Mutant {
    path: PathBuf,
    base: PathBuf,
    what: String,
    bytes: Vec<u8>,
}

fn make_mutants(dir: &Path, per_rpm: usize, seed: u64) -> Vec<Mutant> {
    let mut rng = XorShift(seed);
    let mut mutants = Vec::new();
    for base in common::find_rpms(&common::shared_rpms()) {
        let orig = std::fs::read(&base).unwrap();
        for _ in 0..per_rpm {
            let (bytes, what) = mutate(&orig, &mut rng);
            let path = dir.join(format!("m{:05}.rpm", mutants.len()));
            std::fs::write(&path, &bytes).unwrap();
            mutants.push(Mutant {
                path,
                base: base.clone(),
                what,
                bytes,
            });
        }
    }
    mutants
}

/// The seed for the mutants: `INTEGRITY_SEED` (decimal or 0x-hex) when set, so another run can
/// try other mutants and a failure elsewhere can be reproduced; else the test's default.
fn seed(default: u64) -> u64 {
    let Ok(text) = std::env::var("INTEGRITY_SEED") else {
        return default;
    };
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    let seed = parsed.unwrap_or_else(|e| panic!("INTEGRITY_SEED={text:?}: {e}"));
    eprintln!("INTEGRITY_SEED={seed:#x}");
    // xorshift never leaves 0.
    seed.max(1)
}

#[test]
fn the_shared_rpms_verify() {
    for rpm in common::find_rpms(&common::shared_rpms()) {
        let bytes = std::fs::read(&rpm).unwrap();
        let v = verify_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", rpm.display()));
        assert!(!v.checked.is_empty(), "{}: nothing checked", rpm.display());
    }
}

/// The library verification (the code the upload path runs) against rpm, for every mutant.
#[test]
fn verification_agrees_with_rpm_on_1000_mutants() {
    require_tool("rpm");
    let dir = tempfile::tempdir().unwrap();
    let mutants = make_mutants(dir.path(), 40, seed(0x1357_9bdf_2468_ace0));
    assert!(mutants.len() >= 1000, "{} mutants", mutants.len());
    let paths: Vec<PathBuf> = mutants.iter().map(|m| m.path.clone()).collect();
    let verdicts = rpm_verdicts(&paths);
    let mut disagree = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for m in &mutants {
        let rpm_ok = *verdicts
            .get(&m.path)
            .unwrap_or_else(|| panic!("rpm -K printed nothing for {}", m.path.display()));
        let expected = rpm_ok && !sha3_broken(&m.bytes);
        let ours = std::panic::catch_unwind(|| verify_bytes(&m.bytes)).expect("verification panicked");
        if ours.is_ok() {
            accepted += 1;
        } else {
            refused += 1;
        }
        if ours.is_ok() != expected {
            disagree.push(format!(
                "{} ({} of {}): rpm says {}, we say {:?}",
                m.path.display(),
                m.what,
                m.base.display(),
                if rpm_ok { "OK" } else { "NOT OK" },
                ours.err()
            ));
        }
    }
    eprintln!("{} mutants: {accepted} accepted, {refused} refused", mutants.len());
    assert!(
        disagree.is_empty(),
        "{} disagreements with rpm -K:\n{}",
        disagree.len(),
        disagree.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(accepted > 50 && refused > 500, "{accepted} accepted, {refused} refused");
}

/// Every file under `dir`, for before/after comparisons.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A sample of mutants through the real upload: a refused one answers 400 with a JSON error
/// naming the check and leaves nothing behind; never a 5xx.
#[test]
fn uploads_of_mutants_are_refused_exactly_like_rpm() {
    require_tool("rpm");
    let dir = tempfile::tempdir().unwrap();
    let all = make_mutants(dir.path(), 6, seed(0x0bad_cafe_dead_beef));
    let mutants: Vec<&Mutant> = all
        .iter()
        .filter(|m| !m.base.to_string_lossy().ends_with(".src.rpm"))
        .take(120)
        .collect();
    assert!(mutants.len() >= 100);
    let paths: Vec<PathBuf> = mutants.iter().map(|m| m.path.clone()).collect();
    let verdicts = rpm_verdicts(&paths);
    let server = TestServer::start();
    let token = server.add_team("mutants");
    let data = server.data_dir();
    let (mut created, mut refused) = (0, 0);
    for m in mutants {
        let rpm_ok = verdicts[&m.path] && !sha3_broken(&m.bytes);
        let store_before = files_under(&data.join("store"));
        let repos_before = support::snapshot_tree(&data.join("repos"));
        let name = m.base.file_name().unwrap().to_str().unwrap();
        let (status, body) = http(
            reqwest::Method::PUT,
            &format!("{}/api/v1/upload/{name}", server.url),
            Some(&token),
            Some(m.bytes.clone()),
            &[],
        )
        .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(status < 500, "{} ({}): {status} {text}", m.path.display(), m.what);
        assert!(
            files_under(&data.join("tmp")).is_empty(),
            "left in tmp/ after {}",
            m.what
        );
        assert_eq!(
            repos_before,
            support::snapshot_tree(&data.join("repos")),
            "repodata changed"
        );
        if rpm_ok {
            // Integrity passes; our own rules (immutable NEVRAs, binary RPMs only) still apply.
            assert!(
                matches!(status, 200 | 201 | 409) || (status == 400 && !text.contains("digest")),
                "{} ({}): rpm says OK, upload answered {status} {text}",
                m.path.display(),
                m.what
            );
            created += usize::from(status == 201);
        } else {
            assert_eq!(
                status,
                400,
                "{} ({}): rpm says NOT OK: {text}",
                m.path.display(),
                m.what
            );
            let v = json(&body);
            assert_eq!(v["error"], "invalid package", "{text}");
            assert!(!v["detail"].as_str().unwrap_or("").is_empty(), "{text}");
            assert_eq!(
                store_before,
                files_under(&data.join("store")),
                "store changed by {}",
                m.what
            );
            refused += 1;
        }
    }
    eprintln!("HTTP sample: {created} created, {refused} refused");
    assert!(refused > 50, "{refused}");
}

/// The message names the check that failed.
#[test]
fn a_corrupted_payload_is_refused_naming_the_digest() {
    let server = TestServer::start();
    let token = server.add_team("t");
    let src = common::shared_rpms().join("rpm-rs/RPMS/v6/rpm-basic-2.3.4-5.el9.noarch.rpm");
    let mut bytes = std::fs::read(&src).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let (status, body) = http(
        reqwest::Method::PUT,
        &format!("{}/api/v1/upload/rpm-basic-2.3.4-5.el9.noarch.rpm", server.url),
        Some(&token),
        Some(bytes),
        &[],
    )
    .unwrap();
    let v = json(&body);
    assert_eq!(status, 400, "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("payload digest mismatch: header says sha256 "),
        "{detail}"
    );
    assert!(detail.contains(", received "), "{detail}");
    let out = Command::new("rpm")
        .args(["-K", "--nosignature"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success());
}
