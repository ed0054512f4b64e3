//! Generates a deterministic corpus of binary RPMs for the benchmarks (`scripts/bench`).
//!
//! ```text
//! cargo run --release --example gen_corpus -- --out DIR [--count 5000] [--seed 1]
//!     The corpus: COUNT packages in DIR, grouped into "elements" of 1-5 packages
//!     (fts, fts-server, fts-libs, ...), 3-30 files each, versioned requires/provides
//!     between corpus packages, changelogs, x86_64 and noarch, zstd payloads.
//! cargo run --release --example gen_corpus -- --out DIR [--count 5000] [--seed 1] --extra 3 [--round K]
//!     One more release: the next version of an existing element of the corpus of the
//!     same count and seed (round K picks a different element), 3 packages, into DIR.
//! cargo run --release --example gen_corpus -- --out DIR --big-mb 500
//!     One package with a single file of incompressible bytes and an uncompressed payload.
//! ```
//!
//! Everything (names, contents, timestamps) derives from the seed, so two runs with the same
//! arguments produce byte-identical packages. Prints a JSON summary on stdout.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rpm::{BuildConfig, CompressionWithLevel, Dependency, FileOptions, PackageBuilder};

/// Build time of the corpus packages (2024-11-14); extra releases are built later.
const BASE_TIME: u32 = 1_731_600_000;
const DAY: u32 = 86_400;

/// splitmix64: small, fast and stable across versions (unlike `rand`'s StdRng).
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5bd1_e995_9e37_79b9)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.next() as usize % items.len()]
    }
    /// Log-uniform in `lo..=hi`: many small values, a long tail of big ones.
    fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let f = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo as f64).ln() + f * ((hi as f64).ln() - (lo as f64).ln())).exp() as u64
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Mixes a seed with a label into an independent stream.
fn derive(seed: u64, label: &str, index: u64) -> Rng {
    let mut r = Rng::new(seed);
    for b in label.bytes() {
        r.0 ^= b as u64;
        r.next();
    }
    r.0 ^= index.wrapping_mul(0xd6e8_feb8_6659_fd93);
    r.next();
    r
}

const SYLLABLES: &[&str] = &[
    "fts",
    "xrd",
    "dcap",
    "gfal",
    "voms",
    "condor",
    "arc",
    "cvmfs",
    "frontier",
    "squid",
    "globus",
    "lcg",
    "srm",
    "davix",
    "panda",
    "rucio",
    "htc",
    "apel",
    "bdii",
    "argus",
    "myproxy",
    "cream",
    "lfc",
    "dpm",
    "nordu",
    "slurm",
    "munge",
    "ganglia",
    "nagios",
    "xcache",
    "stash",
    "osg",
    "egi",
    "wlcg",
    "ceph",
    "lustre",
    "eos",
    "castor",
    "dirac",
    "ganga",
    "atlas",
    "cms",
    "lhcb",
    "alice",
    "geant",
    "pythia",
    "herwig",
    "sherpa",
    "madgraph",
    "delphes",
    "fastjet",
    "hepmc",
    "lhapdf",
    "yoda",
    "rivet",
    "cernlib",
    "paw",
    "minuit",
    "tmva",
    "roofit",
    "cling",
    "vdt",
    "vecgeom",
    "dd4hep",
    "gaudi",
    "athena",
    "cmssw",
    "xrootd",
    "scitokens",
    "htgettoken",
    "oidc",
    "keycloak",
    "perfsonar",
    "owamp",
    "bwctl",
    "iperf",
    "fdt",
    "gridftp",
    "webdav",
    "storm",
    "echo",
    "rados",
    "zfs",
    "nfs",
    "afs",
    "kerberos",
    "krb",
    "pam",
    "sssd",
    "openldap",
    "fetch",
    "crl",
    "ca",
    "igtf",
    "pki",
    "cert",
    "token",
    "proxy",
    "gums",
    "lcmaps",
    "lcas",
];
const SECOND: &[&str] = &[
    "transfer", "monitor", "agent", "gateway", "broker", "cache", "store", "meta", "auth", "sched", "probe", "report",
    "sync", "util", "core", "daemon", "plugin", "bridge", "index", "query",
];
const SUFFIXES: &[&str] = &[
    "-libs", "-server", "-client", "-devel", "-doc", "-tools", "-common", "-python3",
];
const WORDS: &[&str] = &[
    "transfer",
    "queue",
    "token",
    "proxy",
    "credential",
    "storage",
    "checksum",
    "replica",
    "endpoint",
    "session",
    "catalogue",
    "namespace",
    "quota",
    "ticket",
    "scheduler",
    "worker",
    "monitor",
    "alarm",
    "report",
    "cache",
    "stream",
    "buffer",
    "gridmap",
    "certificate",
    "renewal",
    "delegation",
    "lease",
    "mapping",
    "topology",
    "accounting",
    "benchmark",
];
const AUTHORS: &[&str] = &[
    "Ada Lovelace <ada@grid.example.org>",
    "Alan Turing <alan@grid.example.org>",
    "Grace Hopper <grace@grid.example.org>",
    "Edsger Dijkstra <edsger@grid.example.org>",
    "Barbara Liskov <barbara@grid.example.org>",
    "Donald Knuth <don@grid.example.org>",
    "Frances Allen <fran@grid.example.org>",
    "Ken Thompson <ken@grid.example.org>",
];
const LICENSES: &[&str] = &[
    "ASL 2.0",
    "GPLv3+",
    "LGPLv2+",
    "BSD",
    "MIT",
    "GPLv2+ and LGPLv2+",
    "MPLv2.0",
];
const GROUPS: &[&str] = &[
    "System Environment/Daemons",
    "Applications/Internet",
    "Development/Libraries",
    "Unspecified",
];

/// One element: packages built from one source, released together.
#[derive(Clone)]
struct Element {
    index: usize,
    base: String,
    /// Sub-package suffixes; "" is the main package, always first.
    suffixes: Vec<&'static str>,
    noarch: bool,
    epoch: Option<u32>,
    version: (u32, u32, u32),
    release: u32,
    license: &'static str,
    group: &'static str,
    /// Requirements on earlier elements: (element index, use the soname when it has libs).
    uses: Vec<(usize, bool)>,
    obsoletes: bool,
    recommends: Option<usize>,
}

impl Element {
    fn version(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }
    fn release(&self) -> String {
        format!("{}.el9", self.release)
    }
    fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version(), self.release()),
            None => format!("{}-{}", self.version(), self.release()),
        }
    }
    fn has(&self, suffix: &str) -> bool {
        self.suffixes.contains(&suffix)
    }
    fn soname_major(&self) -> u32 {
        self.version.0.max(1)
    }
    fn soname(&self) -> String {
        format!("lib{}.so.{}()(64bit)", self.base.replace('-', "_"), self.soname_major())
    }
    fn arch_of(&self, suffix: &str) -> &'static str {
        if self.noarch || suffix == "-doc" {
            "noarch"
        } else {
            "x86_64"
        }
    }
}

/// The plan of a whole corpus: elements whose packages add up to exactly `count`.
fn plan_corpus(count: usize, seed: u64) -> Vec<Element> {
    let mut rng = derive(seed, "corpus", 0);
    let mut names: HashSet<String> = HashSet::new();
    let mut elements: Vec<Element> = Vec::new();
    let mut total = 0;
    while total < count {
        let base = loop {
            let first = rng.pick(SYLLABLES);
            let candidate = match rng.range(0, 9) {
                0..=3 => format!("{first}-{}", rng.pick(SECOND)),
                4..=5 => format!("{first}{}", rng.range(2, 9)),
                6 => format!("{first}-{}-{}", rng.pick(SECOND), rng.pick(SECOND)),
                _ => format!("{first}-{}{}", rng.pick(SECOND), rng.range(2, 5)),
            };
            let candidate = if names.contains(&candidate) {
                format!("{candidate}{}", rng.range(10, 99))
            } else {
                candidate
            };
            if !names.contains(&candidate) {
                break candidate;
            }
        };
        names.insert(base.clone());
        let size = match rng.range(0, 99) {
            0..=29 => 1,
            30..=54 => 2,
            55..=74 => 3,
            75..=89 => 4,
            _ => 5,
        }
        .min(count - total);
        let mut suffixes = vec![""];
        while suffixes.len() < size {
            let s = rng.pick(SUFFIXES);
            if !suffixes.contains(&s) {
                suffixes.push(s);
            }
        }
        let noarch = rng.chance(0.3);
        if noarch {
            // A noarch element has no shared library: its -libs becomes -common (or -data).
            if let Some(pos) = suffixes.iter().position(|s| *s == "-libs") {
                suffixes[pos] = if suffixes.contains(&"-common") {
                    "-data"
                } else {
                    "-common"
                };
            }
        }
        let index = elements.len();
        let mut uses = Vec::new();
        if index > 0 {
            for _ in 0..rng.range(0, 3) {
                let target = rng.range(0, index as u64 - 1) as usize;
                if !uses.iter().any(|(t, _)| *t == target) {
                    uses.push((target, rng.chance(0.5)));
                }
            }
        }
        let recommends = (index > 0 && rng.chance(0.05)).then(|| rng.range(0, index as u64 - 1) as usize);
        let element = Element {
            index,
            base,
            suffixes,
            noarch,
            epoch: rng.chance(0.05).then(|| rng.range(1, 3) as u32),
            version: (
                rng.range(0, 12) as u32,
                rng.range(0, 30) as u32,
                rng.range(0, 20) as u32,
            ),
            release: rng.range(1, 12) as u32,
            license: rng.pick(LICENSES),
            group: rng.pick(GROUPS),
            uses,
            obsoletes: rng.chance(0.05),
            recommends,
        };
        total += element.suffixes.len();
        elements.push(element);
    }
    elements
}

/// Everything needed to build one package, independent of any other package.
struct PackagePlan {
    name: String,
    element: Element,
    suffix: &'static str,
    arch: &'static str,
    build_time: u32,
    /// Seeds this package's file list and contents.
    seed: u64,
    requires: Vec<Dependency>,
    provides: Vec<Dependency>,
    obsoletes: Vec<Dependency>,
    recommends: Vec<Dependency>,
}

impl PackagePlan {
    fn filename(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name,
            self.element.version(),
            self.element.release(),
            self.arch
        )
    }
}

/// The packages of `element` (at its current version), built at `build_time`.
fn plan_packages(all: &[Element], element: &Element, build_time: u32, seed: u64) -> Vec<PackagePlan> {
    let evr = element.evr();
    let isa = |suffix: &str| {
        let name = format!("{}{suffix}", element.base);
        if element.noarch {
            name
        } else {
            format!("{name}(x86-64)")
        }
    };
    let mut out = Vec::new();
    for (i, suffix) in element.suffixes.iter().enumerate() {
        let arch = element.arch_of(suffix);
        let mut requires = Vec::new();
        let mut provides = Vec::new();
        let mut obsoletes = Vec::new();
        let mut recommends = Vec::new();
        if suffix.is_empty() {
            if element.has("-libs") {
                requires.push(Dependency::eq(isa("-libs"), evr.clone()));
            }
            if element.has("-common") {
                requires.push(Dependency::eq(element.base.clone() + "-common", evr.clone()));
            }
            for &(target, soname) in &element.uses {
                let t = &all[target];
                if soname && t.has("-libs") && !element.noarch {
                    requires.push(Dependency::any(t.soname()));
                } else {
                    // Allow somewhat older versions of the dependency, as spec files do.
                    let (a, b, _) = t.version;
                    requires.push(Dependency::greater_eq(t.base.clone(), format!("{a}.{b}")));
                }
            }
            if element.obsoletes {
                obsoletes.push(Dependency::less(format!("{}-compat", element.base), evr.clone()));
                provides.push(Dependency::eq(format!("{}-compat", element.base), evr.clone()));
            }
            if let Some(r) = element.recommends {
                recommends.push(Dependency::any(all[r].base.clone()));
            }
            if element.noarch {
                requires.push(Dependency::any("/usr/bin/python3"));
            } else {
                requires.push(Dependency::any("libc.so.6(GLIBC_2.34)(64bit)"));
                requires.push(Dependency::any("libc.so.6()(64bit)"));
            }
            requires.push(Dependency::any("/bin/sh"));
        } else if *suffix == "-libs" {
            provides.push(Dependency::any(element.soname()));
            requires.push(Dependency::any("libc.so.6()(64bit)"));
            requires.push(Dependency::any("libstdc++.so.6()(64bit)"));
        } else if *suffix == "-doc" {
            // Documentation needs nothing.
        } else if element.has("-libs") && *suffix != "-common" && *suffix != "-data" {
            requires.push(Dependency::eq(isa("-libs"), evr.clone()));
            if *suffix == "-devel" {
                requires.push(Dependency::any("pkgconfig"));
            }
        } else {
            requires.push(Dependency::eq(isa(""), evr.clone()));
        }
        if *suffix == "-python3" {
            provides.push(Dependency::eq(format!("python3-{}", element.base), evr.clone()));
            requires.push(Dependency::greater_eq("python(abi)", "3.9"));
        }
        out.push(PackagePlan {
            name: format!("{}{suffix}", element.base),
            element: element.clone(),
            suffix,
            arch,
            build_time,
            seed: derive(seed, &format!("pkg {} {}", element.base, element.version()), i as u64).next(),
            requires,
            provides,
            obsoletes,
            recommends,
        });
    }
    out
}

/// Pseudo-random file contents: text for configuration and documentation, mostly binary bytes
/// for programs and libraries (which compress a little, like real ones).
fn content(rng: &mut Rng, size: usize, text: bool) -> Vec<u8> {
    let mut data = Vec::with_capacity(size + 32);
    if text {
        while data.len() < size {
            let w = rng.pick(WORDS);
            data.extend_from_slice(w.as_bytes());
            data.push(if rng.chance(0.1) { b'\n' } else { b' ' });
        }
        data.truncate(size);
    } else {
        data.resize(size, 0);
        rng.fill(&mut data);
        // Runs of zeros and repeated tables, as in real ELF files.
        let mut at = 0;
        while at < size {
            let run = (rng.range(16, 512) as usize).min(size - at);
            if rng.chance(0.35) {
                data[at..at + run].fill(0);
            }
            at += run;
        }
    }
    data
}

fn build(plan: &PackagePlan, out: &Path) -> Result<(PathBuf, u64)> {
    let e = &plan.element;
    let mut rng = Rng::new(plan.seed);
    let summary = match plan.suffix {
        "" => format!("{} {} service for grid sites", e.base, rng.pick(WORDS)),
        "-libs" => format!("Shared libraries of {}", e.base),
        "-devel" => format!("Development files for {}", e.base),
        "-doc" => format!("Documentation of {}", e.base),
        "-python3" => format!("Python 3 bindings of {}", e.base),
        s => format!("{} {} for {}", &s[1..], rng.pick(WORDS), e.base),
    };
    let mut description = String::new();
    for _ in 0..rng.range(2, 8) {
        for _ in 0..rng.range(6, 14) {
            description.push_str(rng.pick(WORDS));
            description.push(' ');
        }
        description.pop();
        description.push_str(".\n");
    }
    description.push_str(&format!("This package is part of {} {}.", e.base, e.version()));

    let config = BuildConfig::v4()
        .compression(CompressionWithLevel::Zstd(3))
        .source_date(plan.build_time)
        .reserved_space(None);
    let mut b = PackageBuilder::new(&plan.name, &e.version(), e.license, plan.arch, &summary);
    b.using_config(config)
        .release(e.release())
        .description(description)
        .url(format!("https://github.com/grid-example/{}", e.base))
        .vendor("Grid Example Collaboration")
        .packager("Grid Release Team <release@grid.example.org>")
        .group(e.group)
        .build_host(format!("build{:02}.grid.example.org", rng.range(1, 24)));
    if let Some(epoch) = e.epoch {
        b.epoch(epoch);
    }

    // Changelog, newest first.
    let mut when = plan.build_time - (rng.range(0, 3) as u32) * DAY;
    let (mut a, mut m, mut p) = e.version;
    for _ in 0..rng.range(1, 6) {
        let text = format!(
            "- Update to {a}.{m}.{p}\n- Fix {} handling of {}\n",
            rng.pick(WORDS),
            rng.pick(WORDS)
        );
        let author = format!("{} - {a}.{m}.{p}-{}", rng.pick(AUTHORS), e.release.max(1));
        b.add_changelog_entry(author, text, when);
        when -= (rng.range(20, 200) as u32) * DAY;
        if p > 0 {
            p -= 1;
        } else if m > 0 {
            m -= 1;
            p = 9;
        } else {
            a = a.saturating_sub(1);
        }
    }

    for d in &plan.requires {
        b.requires(d.clone());
    }
    for d in &plan.provides {
        b.provides(d.clone());
    }
    for d in &plan.obsoletes {
        b.obsoletes(d.clone());
    }
    for d in &plan.recommends {
        b.recommends(d.clone());
    }

    // Files: 3-30, placed according to the kind of package.
    let n_files = rng.range(3, 30) as usize;
    let name = &plan.name;
    let base = &e.base;
    let lib = base.replace('-', "_");
    let (va, vb, vc) = e.version;
    let mut paths: HashSet<String> = HashSet::new();
    let doc_dir = format!("/usr/share/doc/{name}");
    let mut dirs: Vec<String> = Vec::new();
    let mut added = 0;
    let mut add = |b: &mut PackageBuilder, rng: &mut Rng, path: String, kind: u8| -> Result<()> {
        if !paths.insert(path.clone()) {
            return Ok(());
        }
        // Mostly small files, a few big ones: ~130 KB per package on average once compressed.
        let size = if rng.chance(0.02) {
            rng.log_range(256 * 1024, 1536 * 1024)
        } else {
            rng.log_range(64, 48 * 1024)
        } as usize;
        let opts = FileOptions::new(path.as_str());
        let opts = match kind {
            b'x' => opts.permissions(0o755),
            b'c' => opts.permissions(0o644).config().noreplace(),
            b'd' => opts.permissions(0o644).doc(),
            _ => opts.permissions(0o644),
        };
        b.with_file_contents(content(rng, size, kind == b'c' || kind == b'd'), opts)?;
        Ok(())
    };
    // Fixed files first, so even a 3-file package looks like its kind.
    match plan.suffix {
        "-libs" => {
            let real = format!("/usr/lib64/lib{lib}.so.{}.{vb}.{vc}", e.soname_major());
            add(&mut b, &mut rng, real.clone(), b'x')?;
            b.with_symlink(FileOptions::symlink(
                format!("/usr/lib64/lib{lib}.so.{}", e.soname_major()),
                real.rsplit('/').next().unwrap().to_string(),
            ))?;
            added += 2;
        }
        "-devel" => {
            add(&mut b, &mut rng, format!("/usr/lib64/pkgconfig/{lib}.pc"), b'c')?;
            b.with_symlink(FileOptions::symlink(
                format!("/usr/lib64/lib{lib}.so"),
                format!("lib{lib}.so.{}", e.soname_major()),
            ))?;
            added += 2;
        }
        "-doc" => {}
        "" | "-server" | "-client" | "-tools" => {
            add(&mut b, &mut rng, format!("/usr/bin/{name}"), b'x')?;
            added += 1;
        }
        _ => {}
    }
    if plan.suffix.is_empty() || plan.suffix == "-server" || plan.suffix == "-common" {
        dirs.push(format!("/etc/{base}"));
        add(&mut b, &mut rng, format!("/etc/{base}/{name}.conf"), b'c')?;
        added += 1;
    }
    dirs.push(doc_dir.clone());
    add(&mut b, &mut rng, format!("{doc_dir}/README"), b'd')?;
    added += 1;
    let mut attempts = 0;
    while added < n_files && attempts < 200 {
        attempts += 1;
        let w = rng.pick(WORDS);
        let (path, kind) = match (plan.suffix, rng.range(0, 9)) {
            ("-doc", _) => (format!("{doc_dir}/{w}.html"), b'd'),
            ("-devel", 0..=6) => {
                dirs.push(format!("/usr/include/{base}"));
                (format!("/usr/include/{base}/{w}.h"), b'c')
            }
            ("-python3", 0..=6) => {
                let d = format!("/usr/lib/python3.9/site-packages/{lib}");
                dirs.push(d.clone());
                (format!("{d}/{w}.py"), b'c')
            }
            ("-libs", 0..=4) if !e.noarch => {
                let d = format!("/usr/lib64/{base}");
                dirs.push(d.clone());
                (format!("{d}/{w}_plugin.so"), b'x')
            }
            (_, 0..=2) => (format!("/usr/bin/{base}-{w}"), b'x'),
            (_, 3..=4) if !e.noarch => {
                let d = format!("/usr/lib64/{base}");
                dirs.push(d.clone());
                (format!("{d}/{w}.so.{va}"), b'x')
            }
            (_, 3..=4) => {
                let d = format!("/usr/share/{base}");
                dirs.push(d.clone());
                (format!("{d}/{w}.dat"), b'b')
            }
            (_, 5..=6) => {
                dirs.push(format!("/etc/{base}"));
                (format!("/etc/{base}/{w}.conf"), b'c')
            }
            _ => (format!("{doc_dir}/{}", w.to_uppercase()), b'd'),
        };
        add(&mut b, &mut rng, path, kind)?;
        added += 1;
    }
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        b.with_dir_entry(FileOptions::dir(d))?;
    }
    if plan.suffix == "-server" || (plan.suffix.is_empty() && rng.chance(0.2)) {
        b.with_ghost(FileOptions::ghost(format!("/var/log/{base}/{name}.log")))?;
    }

    let pkg = b.build().with_context(|| format!("building {}", plan.name))?;
    let path = out.join(plan.filename());
    pkg.write_file(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    let size = std::fs::metadata(&path)?.len();
    Ok((path, size))
}

/// Builds the packages on `jobs` threads; returns total bytes.
fn build_all(plans: &[PackagePlan], out: &Path, jobs: usize) -> Result<u64> {
    let next = AtomicUsize::new(0);
    let total = Mutex::new(0u64);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(plan) = plans.get(i) else { break };
                if failure.lock().unwrap().is_some() {
                    break;
                }
                match build(plan, out) {
                    Ok((_, size)) => *total.lock().unwrap() += size,
                    Err(e) => {
                        *failure.lock().unwrap() = Some(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    Ok(total.into_inner().unwrap())
}

/// One package of `mb` MiB of random bytes, payload uncompressed.
fn build_big(out: &Path, mb: u64, seed: u64) -> Result<(PathBuf, u64)> {
    let mut rng = derive(seed, "big", mb);
    let mut data = vec![0u8; (mb * 1024 * 1024) as usize];
    rng.fill(&mut data);
    let config = BuildConfig::v4()
        .compression(CompressionWithLevel::None)
        .source_date(BASE_TIME)
        .reserved_space(None);
    let mut b = PackageBuilder::new(
        "bigblob",
        "1.0.0",
        "MIT",
        "x86_64",
        "One big incompressible file, for the upload benchmark",
    );
    b.using_config(config)
        .release("1.el9")
        .description("A large package whose payload is random bytes.")
        .with_file_contents(data, FileOptions::new("/usr/share/bigblob/blob").permissions(0o644))?;
    let pkg = b.build()?;
    let path = out.join("bigblob-1.0.0-1.el9.x86_64.rpm");
    pkg.write_file(&path)?;
    let size = std::fs::metadata(&path)?.len();
    Ok((path, size))
}

struct Args {
    out: PathBuf,
    count: usize,
    seed: u64,
    extra: Option<usize>,
    round: u64,
    big_mb: Option<u64>,
    jobs: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        out: PathBuf::new(),
        count: 5000,
        seed: 1,
        extra: None,
        round: 0,
        big_mb: None,
        jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    let mut have_out = false;
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--out" => {
                args.out = PathBuf::from(value()?);
                have_out = true;
            }
            "--count" => args.count = value()?.parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--extra" => args.extra = Some(value()?.parse()?),
            "--round" => args.round = value()?.parse()?,
            "--big-mb" => args.big_mb = Some(value()?.parse()?),
            "--jobs" => args.jobs = value()?.parse()?,
            "-h" | "--help" => {
                println!(
                    "usage: gen_corpus --out DIR [--count N] [--seed S] [--jobs J]\n\
                     \x20      gen_corpus --out DIR [--count N] [--seed S] --extra K [--round R]\n\
                     \x20      gen_corpus --out DIR --big-mb MB"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if !have_out {
        bail!("--out DIR is required");
    }
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.out)?;
    let started = Instant::now();

    if let Some(mb) = args.big_mb {
        let (path, size) = build_big(&args.out, mb, args.seed)?;
        println!(
            "{}",
            serde_json::json!({
                "mode": "big",
                "file": path.file_name().unwrap().to_string_lossy(),
                "bytes": size,
                "seconds": started.elapsed().as_secs_f64(),
            })
        );
        return Ok(());
    }

    let elements = plan_corpus(args.count, args.seed);
    let (plans, mode, element_name) = match args.extra {
        None => {
            let mut plans = Vec::with_capacity(args.count);
            for e in &elements {
                // Builds spread over the two years before BASE_TIME.
                let age = derive(args.seed, "age", e.index as u64).range(0, 730) as u32;
                plans.extend(plan_packages(&elements, e, BASE_TIME - age * DAY, args.seed));
            }
            (plans, "corpus", None)
        }
        Some(k) => {
            // Elements of exactly k packages (else at least k), in a seeded order; round R
            // takes the R-th.
            let mut candidates: Vec<&Element> = elements.iter().filter(|e| e.suffixes.len() == k).collect();
            if candidates.is_empty() {
                candidates = elements.iter().filter(|e| e.suffixes.len() >= k).collect();
            }
            if candidates.is_empty() {
                bail!("no element of the corpus has {k} packages");
            }
            let mut order = derive(args.seed, "extra", 0);
            for i in (1..candidates.len()).rev() {
                candidates.swap(i, order.range(0, i as u64) as usize);
            }
            let mut e = candidates[args.round as usize % candidates.len()].clone();
            e.suffixes.truncate(k);
            // The next release: a newer patch version (one per round, so rounds never clash).
            let lap = args.round / candidates.len() as u64;
            e.version.2 += 1 + lap as u32;
            e.release = 1;
            let build_time = BASE_TIME + (1 + args.round as u32) * DAY;
            let plans = plan_packages(&elements, &e, build_time, args.seed ^ 0xe);
            let name = e.base.clone();
            (plans, "extra", Some(name))
        }
    };
    let planned = started.elapsed().as_secs_f64();
    let bytes = build_all(&plans, &args.out, args.jobs)?;
    let files: Vec<String> = plans.iter().map(PackagePlan::filename).collect();
    let x86 = plans.iter().filter(|p| p.arch == "x86_64").count();
    let mut summary = serde_json::json!({
        "mode": mode,
        "seed": args.seed,
        "packages": plans.len(),
        "elements": if args.extra.is_some() { 1 } else { elements.len() },
        "x86_64": x86,
        "noarch": plans.len() - x86,
        "bytes": bytes,
        "plan_seconds": planned,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if let Some(name) = element_name {
        summary["element"] = name.into();
        summary["files"] = files.into();
    }
    println!("{summary}");
    Ok(())
}
