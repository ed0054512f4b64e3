//! Benchmark of the dependency-closure check against `dnf repoclosure`.
//!
//! ```text
//! cargo run --release --example closure_bench [-- --base 20000 --prod 5000 --seed 1 --runs 5]
//! ```
//!
//! Generates synthetic metadata in memory (PackageMeta, no RPM files: neither tool needs
//! them): a base of `--base` packages (sonames, versioned provides, 5-40 files each, versioned,
//! file and rich requirements among themselves) and a production repository of `--prod`
//! packages depending on the base and on each other, plus a release of three packages (new
//! versions of production packages), with a few deliberately unmet requirements. Both are
//! written with `repodata::render` + `RepoWriter::publish`. Then it times:
//! - the base import (`base::BaseRepo::import`: repomd, primary, filelists) and its index,
//! - our check of production + release against the base (index already built, as the daemon
//!   keeps it; the candidates' own index is built inside the check and counted),
//! - `dnf repoclosure` on the same repositories, cold (empty cache) and warm (`-C`),
//!
//! checks that both verdicts agree, and prints the numbers and the ratio.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use stagerepo::base::BaseRepo;
use stagerepo::domain::closure::{
    check_closure, check_closure_for_arch, check_closure_newest, DepPackage, ProviderIndex, Snapshot,
};
use stagerepo::domain::package::{Dependency, FileKind, PackageFile, PackageMeta};
use stagerepo::repodata::{render, RepoWriter};

/// splitmix64, deterministic across platforms and versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn dep(name: &str, flags: Option<&str>, version: Option<&str>) -> Dependency {
    Dependency {
        name: name.to_string(),
        flags: flags.map(Into::into),
        epoch: flags.map(|_| "0".to_string()),
        version: version.map(Into::into),
        release: None,
        pre: false,
    }
}

fn meta(name: &str, arch: &str, version: &str, release: &str) -> PackageMeta {
    PackageMeta {
        pkgid: hex::encode(Sha256::digest(format!("{name}-{version}-{release}.{arch}"))),
        name: name.into(),
        arch: arch.into(),
        epoch: 0,
        version: version.into(),
        release: release.into(),
        summary: format!("{name} synthetic package"),
        description: "Synthetic package for the closure benchmark.".into(),
        packager: String::new(),
        url: String::new(),
        time_file: 1_731_600_000,
        time_build: 1_731_600_000,
        license: "MIT".into(),
        vendor: String::new(),
        group: "Unspecified".into(),
        buildhost: "bench".into(),
        sourcerpm: format!("{name}-{version}-{release}.src.rpm"),
        header_start: 4504,
        header_end: 8000,
        size_package: 10_000,
        size_installed: 40_000,
        size_archive: 41_000,
        provides: vec![dep(name, Some("EQ"), Some(version))],
        requires: vec![],
        conflicts: vec![],
        obsoletes: vec![],
        suggests: vec![],
        enhances: vec![],
        recommends: vec![],
        supplements: vec![],
        files: vec![],
        changelogs: vec![],
    }
}

fn file(path: String) -> PackageFile {
    PackageFile {
        path,
        kind: FileKind::File,
    }
}

/// Version of base package `i`: `major.minor.patch`, with `major` in 1..=5.
fn base_version(i: usize) -> (usize, String) {
    let major = 1 + i % 5;
    (major, format!("{major}.{}.{}", i % 7, i % 3))
}

fn base_has_binary(i: usize) -> bool {
    i.is_multiple_of(3)
}

fn generate_base(n: usize, rng: &mut Rng) -> Vec<PackageMeta> {
    (0..n)
        .map(|i| {
            let (major, version) = base_version(i);
            let arch = if i % 4 == 0 { "noarch" } else { "x86_64" };
            let mut m = meta(&format!("base-{i}"), arch, &version, "1.el9");
            m.provides
                .push(dep(&format!("libb{i}.so.{major}()(64bit)"), None, None));
            m.provides.push(dep(&format!("cap-b{i}"), Some("EQ"), Some(&version)));
            m.files.push(file(format!("/usr/lib64/libb{i}.so.{major}")));
            if base_has_binary(i) {
                m.files.push(file(format!("/usr/bin/base-{i}")));
            }
            m.files.push(file(format!("/usr/share/doc/base-{i}/README")));
            for f in 0..(3 + rng.below(36)) {
                m.files.push(file(format!("/usr/share/base-{i}/data/file{f}.dat")));
            }
            if i > 0 {
                for _ in 0..(2 + rng.below(5)) {
                    let j = rng.below(i);
                    let (mj, vj) = base_version(j);
                    m.requires.push(match rng.below(10) {
                        0..=3 => dep(&format!("libb{j}.so.{mj}()(64bit)"), None, None),
                        4..=5 => dep(&format!("base-{j}"), Some("GE"), Some(&format!("{mj}.0"))),
                        6 => dep(&format!("cap-b{j}"), Some("EQ"), Some(&vj)),
                        7 if base_has_binary(j) => dep(&format!("/usr/bin/base-{j}"), None, None),
                        7 | 8 => dep(&format!("/usr/share/base-{j}/data/file0.dat"), None, None),
                        _ => dep(&format!("(base-{j} or base-{})", rng.below(i)), None, None),
                    });
                }
            }
            m
        })
        .collect()
}

/// Production packages, then the release (new versions of three of them); `unmet` counts the
/// requirements made unsatisfiable on purpose.
fn generate_prod(n: usize, base: usize, rng: &mut Rng) -> (Vec<PackageMeta>, usize) {
    let mut out = Vec::new();
    let mut unmet = 0;
    for i in 0..n {
        let mut m = meta(
            &format!("prod-{i}"),
            if i % 2 == 0 { "noarch" } else { "x86_64" },
            "1.0.0",
            "1.el9",
        );
        m.provides.push(dep(&format!("libp{i}.so.1()(64bit)"), None, None));
        m.files.push(file(format!("/usr/lib64/libp{i}.so.1")));
        m.files.push(file(format!("/usr/share/prod-{i}/config.d/default.conf")));
        m.files.push(file(format!("/usr/bin/prod-{i}")));
        for _ in 0..(2 + rng.below(4)) {
            let j = rng.below(base);
            let (mj, vj) = base_version(j);
            m.requires.push(match rng.below(8) {
                0..=2 => dep(&format!("libb{j}.so.{mj}()(64bit)"), None, None),
                3..=4 => dep(&format!("base-{j}"), Some("GE"), Some(&vj)),
                5 => dep(&format!("/usr/share/base-{j}/data/file1.dat"), None, None),
                6 => dep(&format!("cap-b{j}"), Some("GE"), Some(&format!("{mj}"))),
                _ => dep(&format!("(base-{j} if prod-{})", rng.below(n)), None, None),
            });
        }
        if i > 0 {
            for _ in 0..(1 + rng.below(3)) {
                let j = rng.below(i);
                m.requires.push(match rng.below(4) {
                    0 => dep(&format!("libp{j}.so.1()(64bit)"), None, None),
                    1 => dep(&format!("prod-{j}"), Some("GE"), Some("1.0")),
                    2 => dep(&format!("/usr/share/prod-{j}/config.d/default.conf"), None, None),
                    _ => dep(&format!("(prod-{j} with libp{j}.so.1()(64bit))"), None, None),
                });
            }
        }
        if i % 250 == 7 {
            unmet += 1;
            m.requires.push(match (i / 250) % 4 {
                0 => dep(&format!("base-{}", i % base), Some("GE"), Some("999")),
                1 => dep(&format!("/usr/share/nowhere/{i}"), None, None),
                2 => dep(&format!("(missing-{i} and missing-too-{i})"), None, None),
                _ => dep(&format!("prod-{}", i / 2), Some("LT"), Some("0.1")),
            });
        }
        out.push(m);
    }
    // The release: version 9 of three production packages, requiring each other.
    let picks = [n / 3, n / 2, n - 1];
    for (k, &i) in picks.iter().enumerate() {
        let mut m = meta(&format!("prod-{i}"), "noarch", "9.0.0", "1.el9");
        m.provides.push(dep(&format!("libp{i}.so.1()(64bit)"), None, None));
        m.files.push(file(format!("/usr/share/prod-{i}/config.d/default.conf")));
        let other = picks[(k + 1) % picks.len()];
        m.requires.push(dep(&format!("prod-{other}"), Some("GE"), Some("9.0")));
        m.requires.push(dep(
            &format!("libb{}.so.{}()(64bit)", i % base, base_version(i % base).0),
            None,
            None,
        ));
        out.push(m);
    }
    (out, unmet)
}

fn publish(dir: &Path, metas: &[PackageMeta]) -> Result<()> {
    let xml: Vec<_> = metas
        .iter()
        .map(|m| render(m, &format!("Packages/{}", m.canonical_filename())))
        .collect();
    let refs: Vec<_> = xml.iter().collect();
    RepoWriter::default().publish(dir, &refs, 1, 1_731_600_000)?;
    Ok(())
}

type Verdict = BTreeMap<String, BTreeSet<String>>;

/// Runs dnf repoclosure; returns its verdict and wall time.
fn repoclosure(
    base: &Path,
    prod: &Path,
    scratch: &Path,
    cache_only: bool,
    newest: bool,
) -> Result<(Verdict, Duration)> {
    let mut cmd = Command::new("dnf");
    cmd.arg("repoclosure")
        .arg(format!("--installroot={}", scratch.join("root").display()))
        .arg(format!("--setopt=reposdir={}", scratch.join("repos").display()))
        .arg(format!("--setopt=cachedir={}", scratch.join("cache").display()))
        .arg("--setopt=best=False")
        .arg("--releasever=9")
        .arg("--disableplugin=local")
        .arg(format!("--repofrompath=base,file://{}", base.display()))
        .arg(format!("--repofrompath=prod,file://{}", prod.display()))
        .args(["--repo=base", "--repo=prod", "--check=prod"]);
    if cache_only {
        cmd.arg("--cacheonly");
    }
    if newest {
        cmd.arg("--newest");
    }
    let start = Instant::now();
    let out = cmd.output().context("running dnf (is dnf-plugins-core installed?)")?;
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("package: ") && !out.status.success() {
        bail!(
            "dnf repoclosure failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut verdict = Verdict::new();
    let mut current = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("package: ") {
            current = Some(rest.split(" from ").next().unwrap_or("").to_string());
        } else if let (Some(d), Some(p)) = (line.strip_prefix("    "), current.as_ref()) {
            verdict.entry(p.clone()).or_default().insert(d.to_string());
        }
    }
    Ok((verdict, elapsed))
}

fn arg(args: &[String], name: &str, default: usize) -> Result<usize> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args.get(i + 1).context("missing value")?.parse()?),
        None => Ok(default),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (n_base, n_prod) = (arg(&args, "--base", 20_000)?, arg(&args, "--prod", 5_000)?);
    let (seed, runs) = (arg(&args, "--seed", 1)? as u64, arg(&args, "--runs", 5)?.max(1));
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir()?;
    let (base_dir, prod_dir) = (dir.path().join("base"), dir.path().join("prod"));

    let t = Instant::now();
    let base_meta = generate_base(n_base, &mut rng);
    let (prod_meta, planted) = generate_prod(n_prod, n_base, &mut rng);
    publish(&base_dir, &base_meta)?;
    publish(&prod_dir, &prod_meta)?;
    let files: usize = base_meta.iter().map(|m| m.files.len()).sum();
    let reqs: usize = prod_meta.iter().map(|m| m.requires.len()).sum();
    println!(
        "generated: base {} packages ({files} files), production+release {} packages ({reqs} requirements, {planted} planted unmet) in {}",
        base_meta.len(),
        prod_meta.len(),
        ms(t.elapsed())
    );

    let t = Instant::now();
    let base = BaseRepo::import("bench-base", base_dir.to_str().context("path")?, 0)?;
    let import_time = t.elapsed();
    let t = Instant::now();
    let saved = base.save(&dir.path().join("bases"))?;
    let save_time = t.elapsed();
    let t = Instant::now();
    let base = BaseRepo::load(&dir.path().join("bases"), "bench-base")?;
    let load_time = t.elapsed();
    let t = Instant::now();
    let index = ProviderIndex::new(base.packages);
    let index_time = t.elapsed();

    // The daemon has production + release as PackageMeta (from its database).
    let candidates: Vec<DepPackage> = prod_meta.iter().map(DepPackage::from).collect();
    let refs: Vec<&DepPackage> = candidates.iter().collect();
    let mut times = Vec::new();
    let mut unmet = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        unmet = check_closure(&refs, &[&index]);
        times.push(t.elapsed());
    }
    times.sort();
    let ours = times[times.len() / 2];
    // What the daemon runs: the newest set a host installs (`dnf repoclosure --newest`).
    let mut newest_times = Vec::new();
    let mut newest_unmet = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        newest_unmet = check_closure_newest(&refs, &[&index]);
        newest_times.push(t.elapsed());
    }
    newest_times.sort();
    let newest = newest_times[newest_times.len() / 2];
    let mut newest_verdict = Verdict::new();
    for u in &newest_unmet {
        newest_verdict
            .entry(u.package.clone())
            .or_default()
            .insert(u.requirement.clone());
    }
    // What a submission runs since issue 12: the snapshot of the set without the release,
    // kept between checks, and the check of the release against it.
    let shas: Vec<String> = (0..candidates.len()).map(|i| format!("{i:08}")).collect();
    let shared: Vec<Arc<DepPackage>> = candidates.iter().cloned().map(Arc::new).collect();
    let cut = candidates.len().saturating_sub(3);
    let t = Instant::now();
    let snapshot = Snapshot::new(shas[..cut].to_vec(), shared[..cut].to_vec(), &[&index]);
    let snapshot_time = t.elapsed();
    let release: Vec<(String, Arc<DepPackage>)> =
        shas[cut..].iter().cloned().zip(shared[cut..].iter().cloned()).collect();
    let mut snap_times = Vec::new();
    let mut snap_unmet = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        snap_unmet = snapshot.check(&release, &[], &[&index], &|_| true);
        snap_times.push(t.elapsed());
    }
    snap_times.sort();
    if snap_unmet != newest_unmet {
        bail!("the snapshot's check differs from check_closure_newest");
    }
    let t = Instant::now();
    let per_arch = check_closure_for_arch(&refs, &[&index], "x86_64");
    let per_arch_time = t.elapsed();
    if per_arch.len() != unmet.len() {
        bail!("x86_64 view differs: {} vs {} unmet", per_arch.len(), unmet.len());
    }
    let mut our_verdict = Verdict::new();
    for u in &unmet {
        our_verdict
            .entry(u.package.clone())
            .or_default()
            .insert(u.requirement.clone());
    }

    let scratch = dir.path().join("dnf");
    for d in ["root", "repos", "cache"] {
        std::fs::create_dir_all(scratch.join(d))?;
    }
    let (dnf_verdict, cold) = repoclosure(&base_dir, &prod_dir, &scratch, false, false)?;
    let (_, warm) = repoclosure(&base_dir, &prod_dir, &scratch, true, false)?;
    let (dnf_newest, newest_warm) = repoclosure(&base_dir, &prod_dir, &scratch, true, true)?;

    println!("base import (repomd + primary + filelists, gzip): {}", ms(import_time));
    println!(
        "base save: {} ({:.1} MB), load: {}",
        ms(save_time),
        std::fs::metadata(&saved)?.len() as f64 / 1e6,
        ms(load_time)
    );
    println!("base index build ({} packages): {}", index.len(), ms(index_time));
    println!(
        "our check (production+release vs base, median of {runs}; min {}, max {}): {}",
        ms(times[0]),
        ms(times[times.len() - 1]),
        ms(ours)
    );
    println!(
        "our newest-set check (check_closure_newest, what the daemon runs; median of {runs}; min {}, max {}): {}",
        ms(newest_times[0]),
        ms(newest_times[newest_times.len() - 1]),
        ms(newest)
    );
    println!(
        "the same from a snapshot of the set without the last 3 packages (built once in {}): the check of those 3, median of {runs}: {} µs (equal to check_closure_newest)",
        ms(snapshot_time),
        snap_times[snap_times.len() / 2].as_micros()
    );
    println!("dnf repoclosure --newest warm cache (-C): {}", ms(newest_warm));
    if newest_verdict != dnf_newest {
        bail!("--newest verdicts differ:\nours: {newest_verdict:#?}\ndnf: {dnf_newest:#?}");
    }
    println!(
        "--newest verdicts agree: {} unmet requirements in {} packages",
        newest_verdict.values().map(BTreeSet::len).sum::<usize>(),
        newest_verdict.len()
    );
    println!(
        "our check for x86_64 clients (check_closure_for_arch): {}",
        ms(per_arch_time)
    );
    println!("dnf repoclosure cold cache: {}", ms(cold));
    println!("dnf repoclosure warm cache (-C): {}", ms(warm));
    println!(
        "ratio: dnf/ours = {:.0}x cold, {:.0}x warm",
        cold.as_secs_f64() / ours.as_secs_f64(),
        warm.as_secs_f64() / ours.as_secs_f64()
    );
    let pairs: usize = our_verdict.values().map(BTreeSet::len).sum();
    if our_verdict == dnf_verdict {
        println!(
            "verdicts agree: {pairs} unmet requirements in {} packages",
            our_verdict.len()
        );
    } else {
        bail!("verdicts differ:\nours: {our_verdict:#?}\ndnf: {dnf_verdict:#?}");
    }
    if pairs < planted {
        bail!("expected at least the {planted} planted unmet requirements, found {pairs}");
    }
    Ok(())
}
