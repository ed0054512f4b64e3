//! What the upload's integrity check (issue 13) costs: the throughput of
//! [`StreamVerifier`] over a big package, next to the sha256 of the whole file that every
//! upload computed before it, and the two together (what an upload does per chunk now).
//!
//! ```text
//! cargo run --release --example verify_bench -- [--mb 50] [--repeats 5] [--file X.rpm]
//! ```
//!
//! Builds two packages of `--mb` MiB of random bytes (payload uncompressed) with the `rpm`
//! crate, one in rpm v4 format (signature header with SHA256 and MD5, `PAYLOADDIGEST`) and one
//! in v6 format (SHA256 and SHA3-256 header digests, `PAYLOADDIGEST` and `PAYLOADDIGESTALT`),
//! holds them in memory and feeds them in 256 KiB chunks, as the upload handler receives
//! them; `--file` measures a given package too (e.g. one built by rpmbuild, which adds the
//! legacy MD5 of header and payload). Prints one JSON object: MiB/s of each, best of `--repeats`, and of MD5 alone (which
//! packages built by rpmbuild add, and the verifier then checks).

use std::time::Instant;

use anyhow::{bail, Result};
use rpm::{BuildConfig, CompressionWithLevel, FileOptions, PackageBuilder};
use sha2::{Digest, Sha256};
use stagerepo::rpmhdr::StreamVerifier;

const CHUNK: usize = 256 * 1024;

/// A package of `mb` MiB of pseudo-random bytes in the given format.
fn build(mb: usize, config: BuildConfig) -> Result<Vec<u8>> {
    let mut data = vec![0u8; mb * 1024 * 1024];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let mut b = PackageBuilder::new("bigblob", "1.0.0", "MIT", "x86_64", "One big file");
    b.using_config(
        config
            .compression(CompressionWithLevel::None)
            .source_date(1_700_000_000),
    )
    .release("1")
    .description("Random bytes.")
    .with_file_contents(data, FileOptions::new("/usr/share/bigblob/blob"))?;
    let mut out = Vec::new();
    b.build()?.write(&mut out)?;
    Ok(out)
}

/// Best wall-clock seconds of `repeats` runs of `f`.
fn best(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<()> {
    let mut mb = 50usize;
    let mut repeats = 5usize;
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow::anyhow!("{a} needs a value"));
        match a.as_str() {
            "--mb" => mb = value()?.parse()?,
            "--repeats" => repeats = value()?.parse()?,
            "--file" => file = Some(value()?),
            _ => bail!("usage: verify_bench [--mb N] [--repeats N] [--file X.rpm]"),
        }
    }
    let mut results = serde_json::Map::new();
    let mut inputs = vec![
        ("rpm-rs v4", build(mb, BuildConfig::v4())?),
        ("rpm-rs v6", build(mb, BuildConfig::v6())?),
    ];
    if let Some(path) = file {
        inputs.push(("file", std::fs::read(path)?));
    }
    for (format, rpm) in inputs {
        let mib = rpm.len() as f64 / (1024.0 * 1024.0);
        let verify = || {
            let mut v = StreamVerifier::new();
            for c in rpm.chunks(CHUNK) {
                v.feed(c).expect("a valid package");
            }
            v.finish().expect("a valid package")
        };
        let checked = verify().checked;
        let file_sha = best(repeats, || {
            let mut h = Sha256::new();
            for c in rpm.chunks(CHUNK) {
                h.update(c);
            }
            std::hint::black_box(h.finalize());
        });
        let verifier = best(repeats, || {
            std::hint::black_box(verify());
        });
        let both = best(repeats, || {
            let mut h = Sha256::new();
            let mut v = StreamVerifier::new();
            for c in rpm.chunks(CHUNK) {
                h.update(c);
                v.feed(c).expect("a valid package");
            }
            std::hint::black_box((h.finalize(), v.finish().expect("a valid package")));
        });
        // Packages built by rpmbuild also carry the legacy MD5 of header and payload, which the
        // verifier then computes as well; its cost on its own:
        let md5 = best(repeats, || {
            let mut h = md5::Md5::new();
            for c in rpm.chunks(CHUNK) {
                h.update(c);
            }
            std::hint::black_box(h.finalize());
        });
        results.insert(
            format.into(),
            serde_json::json!({
                "mib": (mib * 10.0).round() / 10.0,
                "checked": checked,
                "file_sha256_mib_s": (mib / file_sha).round(),
                "verifier_mib_s": (mib / verifier).round(),
                "upload_digests_mib_s": (mib / both).round(),
                "verifier_ms_per_100_mib": (verifier / mib * 100.0 * 1000.0).round(),
                "md5_mib_s": (mib / md5).round(),
            }),
        );
    }
    println!("{}", serde_json::Value::Object(results));
    Ok(())
}
