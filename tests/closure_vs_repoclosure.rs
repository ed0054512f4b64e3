//! The closure check against the reference, `dnf repoclosure`, on the same repositories:
//! both must report exactly the same unmet (package, requirement) pairs, package by package.
//! - RPMs built with rpmbuild (a "base" and a "production" repository, createrepo_c), covering
//!   plain, versioned (epochs, releases, tilde, caret, ranged and release-less provides), file
//!   (non-primary files, directories) and rich requirements, read back through
//!   `stagerepo::base` import so that the importer is covered too;
//! - per client architecture, synthetic metadata mixing architectures, against
//!   `dnf repoclosure --forcearch`;
//! - random synthetic metadata full of near misses, every rich form included.
//!
//! rpmbuild refuses `unless` in `Requires:` ("Illegal context for 'unless', please use 'or'
//! instead"), so no real package carries one there: the random metadata covers it.
//! `dnf repoclosure` missing makes the tests fail, never skip.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use stagerepo::base::BaseRepo;
use stagerepo::domain::closure::{check_closure, check_closure_for_arch, compatible_arches, DepPackage, ProviderIndex};
use stagerepo::domain::package::{Dependency, FileKind, PackageFile, PackageMeta};
use stagerepo::repodata::{render, RepoWriter};
use support::{build_rpms, createrepo, SpecPackage};

type Verdict = BTreeMap<String, BTreeSet<String>>;

fn pkg(name: &str, version: &str) -> SpecPackage {
    SpecPackage::new(name, version, "1")
}

/// The base: what the OS and EPEL would provide.
fn base_packages() -> Vec<SpecPackage> {
    vec![
        pkg("b-core", "1.0").provides("corelib = 2.5"),
        pkg("b-epoch", "0.5").epoch(1),
        pkg("b-tool", "2.0")
            .file("/usr/bin/b-tool")
            .file("/usr/share/b-data/deep/y"),
        pkg("b-alpha", "1"),
        pkg("b-beta", "1"),
        pkg("b-both", "1").provides("cap-x").provides("cap-y"),
        pkg("b-xonly", "1").provides("cap-x"),
        pkg("b-yonly", "1").provides("cap-y"),
        pkg("b-norel", "1").provides("norel = 3.0"),
        pkg("b-ranged", "1").provides("api >= 4"),
        pkg("b-virtual-path", "1").provides("/opt/virtual/path"),
        pkg("b-tilde", "2.0~rc1"),
        pkg("b-caret", "2.0^git5"),
        // Broken, but not ours to check (--check=prod).
        pkg("b-broken", "1").requires("not-in-base"),
    ]
}

/// Production: what we check.
fn prod_packages() -> Vec<SpecPackage> {
    vec![
        pkg("p-lib", "1.0").file("/usr/lib/p-lib/sub/"),
        pkg("p-epoch", "1.0").epoch(2),
        pkg("p-multi", "1.0"),
        pkg("p-multi", "2.0"),
        pkg("p-plain-ok", "1")
            .requires("b-core")
            .requires("corelib")
            .requires("p-lib"),
        pkg("p-plain-unmet", "1").requires("missing-thing").requires("b-core"),
        pkg("p-ver-ok", "1")
            .requires("corelib >= 2.0")
            .requires("corelib = 2.5")
            .requires("b-epoch >= 1.0")
            .requires("b-epoch = 1:0.5")
            .requires("p-lib = 1.0")
            .requires("p-lib >= 1.0-1")
            .requires("b-core < 1.0-2")
            .requires("p-epoch >= 2:1.0")
            .requires("p-epoch > 1:9")
            .requires("norel > 3.0-2")
            .requires("api >= 7")
            .requires("b-core >= 0:1.0")
            .requires("b-tilde >= 2.0~beta")
            .requires("b-tilde < 2.0")
            .requires("b-caret > 2.0")
            .requires("b-caret < 2.0.1")
            .requires("p-multi < 2")
            .requires("p-multi > 1.5"),
        pkg("p-ver-unmet", "1")
            .requires("corelib >= 3.0")
            .requires("corelib < 2.5")
            .requires("b-epoch >= 2:0")
            .requires("b-epoch < 1.0")
            .requires("p-lib > 1.0")
            .requires("b-core < 1.0")
            .requires("p-epoch < 2")
            .requires("norel < 3.0")
            .requires("api < 4")
            .requires("b-tilde >= 2.0")
            .requires("b-caret <= 2.0")
            .requires("p-multi > 2.0"),
        pkg("p-file-ok", "1")
            .requires("/usr/share/b-data/deep/y")
            .requires("/usr/share/b-core/VERSION")
            .requires("/usr/bin/b-tool")
            .requires("/usr/lib/p-lib/sub")
            .requires("/opt/virtual/path"),
        pkg("p-file-unmet", "1")
            .requires("/usr/share/nowhere/y")
            .requires("/usr/bin/nothing")
            .requires("/usr/share/b-data"),
        pkg("p-rich-ok", "1")
            .requires("(b-alpha and b-beta)")
            .requires("(missing-a or b-alpha)")
            .requires("(b-alpha if b-beta)")
            .requires("(b-alpha if missing-a)")
            .requires("(missing-a if b-beta else b-alpha)")
            .requires("(cap-x with cap-y)")
            .requires("(cap-x without cap-y)")
            .requires("((b-alpha or missing-a) and (corelib >= 2 with corelib < 3))")
            .requires("(b-alpha and missing-b)")
            .requires("(/usr/share/b-data/deep/y or missing-a)"),
        pkg("p-rich-unmet", "1")
            .requires("(missing-a and missing-b)")
            .requires("(missing-a or missing-b)")
            .requires("(missing-a if b-alpha)")
            .requires("(missing-a if b-alpha else missing-b)")
            .requires("(cap-x with b-alpha)")
            .requires("(b-both without cap-x)")
            .requires("((missing-a or missing-b) and (corelib >= 3 with corelib < 4))")
            .requires("(b-alpha >= 2 or (cap-y with b-xonly))")
            .requires("(/usr/share/nowhere/z or missing-c)"),
        pkg("p-pre", "1").requires_pre("missing-pre").requires_pre("b-core"),
        pkg("p-self", "1")
            .provides("p-self-virt = 1")
            .requires("p-self-virt")
            .requires("p-self = 1-1"),
        pkg("p-conflicts", "1").conflicts("b-alpha").obsoletes("b-beta < 2"),
    ]
}

/// What we expect, independently of both tools (so that agreeing on nothing cannot pass).
fn expected() -> Vec<(&'static str, &'static str)> {
    vec![
        ("p-plain-unmet-1-1.noarch", "missing-thing"),
        ("p-ver-unmet-1-1.noarch", "corelib >= 3.0"),
        ("p-ver-unmet-1-1.noarch", "corelib < 2.5"),
        ("p-ver-unmet-1-1.noarch", "b-epoch >= 2:0"),
        ("p-ver-unmet-1-1.noarch", "b-epoch < 1.0"),
        ("p-ver-unmet-1-1.noarch", "p-lib > 1.0"),
        ("p-ver-unmet-1-1.noarch", "b-core < 1.0"),
        ("p-ver-unmet-1-1.noarch", "p-epoch < 2"),
        ("p-ver-unmet-1-1.noarch", "norel < 3.0"),
        ("p-ver-unmet-1-1.noarch", "api < 4"),
        ("p-ver-unmet-1-1.noarch", "b-tilde >= 2.0"),
        ("p-ver-unmet-1-1.noarch", "b-caret <= 2.0"),
        ("p-ver-unmet-1-1.noarch", "p-multi > 2.0"),
        ("p-file-unmet-1-1.noarch", "/usr/share/nowhere/y"),
        ("p-file-unmet-1-1.noarch", "/usr/bin/nothing"),
        ("p-file-unmet-1-1.noarch", "/usr/share/b-data"),
        ("p-rich-unmet-1-1.noarch", "(missing-a and missing-b)"),
        ("p-rich-unmet-1-1.noarch", "(missing-a or missing-b)"),
        ("p-rich-unmet-1-1.noarch", "(missing-a if b-alpha)"),
        ("p-rich-unmet-1-1.noarch", "(missing-a if b-alpha else missing-b)"),
        ("p-rich-unmet-1-1.noarch", "(cap-x with b-alpha)"),
        ("p-rich-unmet-1-1.noarch", "(b-both without cap-x)"),
        (
            "p-rich-unmet-1-1.noarch",
            "((missing-a or missing-b) and (corelib >= 3 with corelib < 4))",
        ),
        ("p-rich-unmet-1-1.noarch", "(b-alpha >= 2 or (cap-y with b-xonly))"),
        ("p-rich-unmet-1-1.noarch", "(/usr/share/nowhere/z or missing-c)"),
        ("p-pre-1-1.noarch", "missing-pre"),
    ]
}

/// Runs `dnf repoclosure --check=prod` over both repositories, with `extra` options;
/// returns its verdict.
fn repoclosure(base: &Path, prod: &Path, extra: &[String]) -> Verdict {
    support::require_tool("dnf");
    let help = Command::new("dnf").args(["repoclosure", "--help"]).output().unwrap();
    assert!(
        help.status.success(),
        "`dnf repoclosure` is not available (dnf-plugins-core missing): run ./scripts/test, which installs it"
    );
    let scratch = tempfile::tempdir().unwrap();
    for d in ["root", "repos", "cache"] {
        std::fs::create_dir_all(scratch.path().join(d)).unwrap();
    }
    let out = Command::new("dnf")
        .arg("repoclosure")
        .arg(format!("--installroot={}", scratch.path().join("root").display()))
        .arg(format!("--setopt=reposdir={}", scratch.path().join("repos").display()))
        .arg(format!("--setopt=cachedir={}", scratch.path().join("cache").display()))
        .arg("--setopt=best=False")
        .arg("--releasever=9")
        .arg("--disableplugin=local")
        .arg(format!("--repofrompath=base,file://{}", base.display()))
        .arg(format!("--repofrompath=prod,file://{}", prod.display()))
        .args(["--repo=base", "--repo=prod", "--check=prod"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let verdict = parse_repoclosure(&stdout);
    // Exit status 1 with a summary when something is unresolved, 0 otherwise.
    assert_eq!(
        out.status.success(),
        verdict.is_empty(),
        "unexpected dnf repoclosure result:\n{stdout}\n{stderr}"
    );
    if !verdict.is_empty() {
        assert!(
            stderr.contains("Repoclosure ended with unresolved dependencies"),
            "{stderr}"
        );
    }
    verdict
}

/// Reads `package: NEVRA from REPO` / `  unresolved deps (N):` / `    DEP` blocks.
fn parse_repoclosure(stdout: &str) -> Verdict {
    let mut verdict = Verdict::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("package: ") {
            let nevra = rest.split(" from ").next().unwrap().to_string();
            verdict.entry(nevra.clone()).or_default();
            current = Some(nevra);
        } else if line.starts_with("  unresolved deps") {
            continue;
        } else if let (Some(dep), Some(pkg)) = (line.strip_prefix("    "), current.as_ref()) {
            verdict.get_mut(pkg).unwrap().insert(dep.to_string());
        } else {
            current = None;
        }
    }
    verdict
}

fn ours(base_dir: &Path, prod_dir: &Path) -> Verdict {
    let base = BaseRepo::import("base", base_dir.to_str().unwrap(), 1_700_000_000).unwrap();
    let prod = BaseRepo::import("prod", &format!("file://{}", prod_dir.display()), 1_700_000_000).unwrap();
    assert_eq!(base.packages.len(), base_packages().len());
    assert_eq!(prod.packages.len(), prod_packages().len());
    // The importer reads filelists: the non-primary file is there.
    let tool = base.packages.iter().find(|p| p.name == "b-tool").unwrap();
    assert!(
        tool.files.iter().any(|f| f == "/usr/share/b-data/deep/y"),
        "{:?}",
        tool.files
    );
    let index = ProviderIndex::new(base.packages);
    let candidates: Vec<&DepPackage> = prod.packages.iter().collect();
    let mut verdict = Verdict::new();
    for unmet in check_closure(&candidates, &[&index]) {
        verdict.entry(unmet.package).or_default().insert(unmet.requirement);
    }
    verdict
}

#[test]
fn closure_agrees_with_dnf_repoclosure() {
    let dir = tempfile::tempdir().unwrap();
    let (base_dir, prod_dir) = (dir.path().join("base"), dir.path().join("prod"));
    std::fs::create_dir_all(&base_dir).unwrap();
    std::fs::create_dir_all(&prod_dir).unwrap();
    build_rpms(&base_dir, &base_packages());
    build_rpms(&prod_dir, &prod_packages());
    createrepo(&base_dir);
    createrepo(&prod_dir);

    let reference = repoclosure(&base_dir, &prod_dir, &[]);
    let ours = ours(&base_dir, &prod_dir);

    let mut want = Verdict::new();
    for (p, r) in expected() {
        want.entry(p.to_string()).or_default().insert(r.to_string());
    }
    let packages: BTreeSet<&String> = reference.keys().chain(ours.keys()).chain(want.keys()).collect();
    let mut report = String::new();
    for p in packages {
        let (r, o, w) = (reference.get(p), ours.get(p), want.get(p));
        if r != o || r != w {
            report.push_str(&format!(
                "{p}:\n  dnf repoclosure: {r:?}\n  ours:            {o:?}\n  expected:        {w:?}\n"
            ));
        }
    }
    assert!(report.is_empty(), "verdicts differ:\n{report}");
    assert_eq!(ours.values().map(BTreeSet::len).sum::<usize>(), expected().len());
}

/// Synthetic metadata (no RPM files: neither tool reads them) for `name-1-1.arch`.
fn meta(name: &str, arch: &str, provides: &[&str], requires: &[&str], files: &[&str]) -> PackageMeta {
    let entry = |n: &str| Dependency {
        name: n.to_string(),
        flags: None,
        epoch: None,
        version: None,
        release: None,
        pre: false,
    };
    let mut own = entry(name);
    (own.flags, own.epoch, own.version, own.release) =
        (Some("EQ".into()), Some("0".into()), Some("1".into()), Some("1".into()));
    PackageMeta {
        pkgid: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("{name}-1-1.{arch}"))),
        name: name.into(),
        arch: arch.into(),
        epoch: 0,
        version: "1".into(),
        release: "1".into(),
        summary: "s".into(),
        description: "d".into(),
        packager: String::new(),
        url: String::new(),
        time_file: 1,
        time_build: 1,
        license: "MIT".into(),
        vendor: String::new(),
        group: "Unspecified".into(),
        buildhost: "h".into(),
        sourcerpm: format!("{name}-1-1.src.rpm"),
        header_start: 1,
        header_end: 2,
        size_package: 1,
        size_installed: 1,
        size_archive: 1,
        provides: std::iter::once(own).chain(provides.iter().map(|p| entry(p))).collect(),
        requires: requires.iter().map(|r| entry(r)).collect(),
        conflicts: vec![],
        obsoletes: vec![],
        suggests: vec![],
        enhances: vec![],
        recommends: vec![],
        supplements: vec![],
        files: files
            .iter()
            .map(|f| PackageFile {
                path: f.to_string(),
                kind: FileKind::File,
            })
            .collect(),
        changelogs: vec![],
    }
}

fn publish(dir: &Path, metas: &[PackageMeta]) {
    let xml: Vec<_> = metas
        .iter()
        .map(|m| render(m, &format!("Packages/{}", m.canonical_filename())))
        .collect();
    RepoWriter::default()
        .publish(dir, &xml.iter().collect::<Vec<_>>(), 1, 1_700_000_000)
        .unwrap();
}

/// Per client architecture: `dnf repoclosure --forcearch=A --arch=<compatible arches>` and
/// `check_closure_for_arch(A)` agree on repositories mixing x86_64, i686, aarch64, ppc64le
/// and noarch packages.
#[test]
fn per_architecture_closure_agrees_with_forcearch_repoclosure() {
    let dir = tempfile::tempdir().unwrap();
    let (base_dir, prod_dir) = (dir.path().join("base"), dir.path().join("prod"));
    let base = vec![
        meta(
            "lib-x",
            "x86_64",
            &["libx.so.1()(64bit)"],
            &[],
            &["/usr/lib64/libx.so.1"],
        ),
        meta(
            "lib-a",
            "aarch64",
            &["liba.so.1()(64bit)"],
            &[],
            &["/usr/share/a-only/file"],
        ),
        meta("lib-both", "x86_64", &["libboth.so.1()(64bit)"], &[], &[]),
        meta("lib-both", "aarch64", &["libboth.so.1()(64bit)"], &[], &[]),
        meta("lib-i", "i686", &["lib32.so.1"], &[], &[]),
        meta("data", "noarch", &["data-virt"], &[], &["/usr/share/data/file"]),
    ];
    let all = [
        "libx.so.1()(64bit)",
        "liba.so.1()(64bit)",
        "libboth.so.1()(64bit)",
        "lib32.so.1",
        "/usr/share/a-only/file",
        "/usr/share/data/file",
        "data-virt",
        "(liba.so.1()(64bit) or libx.so.1()(64bit))",
        "(lib-a with liba.so.1()(64bit))",
    ];
    let prod = vec![
        meta("app", "x86_64", &[], &all, &[]),
        meta("app", "aarch64", &[], &all, &[]),
        meta("app", "ppc64le", &[], &all, &[]),
        meta("tool", "noarch", &[], &["libx.so.1()(64bit)", "data-virt", "app"], &[]),
    ];
    publish(&base_dir, &base);
    publish(&prod_dir, &prod);
    let base_index = ProviderIndex::new(
        BaseRepo::import("base", base_dir.to_str().unwrap(), 0)
            .unwrap()
            .packages,
    );
    let candidates: Vec<DepPackage> = prod.iter().map(DepPackage::from).collect();
    let refs: Vec<&DepPackage> = candidates.iter().collect();
    // Arch-blind, everything is met.
    assert!(check_closure(&refs, &[&base_index]).is_empty());
    for arch in ["x86_64", "aarch64", "ppc64le"] {
        let mut extra = vec![format!("--forcearch={arch}")];
        extra.extend(compatible_arches(arch).iter().map(|a| format!("--arch={a}")));
        let reference = repoclosure(&base_dir, &prod_dir, &extra);
        let mut ours = Verdict::new();
        for u in check_closure_for_arch(&refs, &[&base_index], arch) {
            ours.entry(u.package).or_default().insert(u.requirement);
        }
        assert_eq!(ours, reference, "{arch}");
        assert!(!ours.is_empty(), "{arch}: some requirement must be unmet");
    }
}

/// splitmix64 for the random differential test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Names: a pool small enough for near misses, big enough for misses.
fn random_name(rng: &mut Rng) -> String {
    format!("n{}", rng.next() % 150)
}
const VERSIONS: &[&str] = &[
    "1", "1.0", "1.0~rc1", "1.0^git1", "1.0.1", "2", "10", "1a", "1.a", "01.0",
];
const RELEASES: &[Option<&str>] = &[None, None, Some("1"), Some("2"), Some("1.el9"), Some("10")];
const EPOCHS: &[Option<&str>] = &[None, None, None, Some("0"), Some("1"), Some("2")];
const FLAGS: &[&str] = &["EQ", "LT", "LE", "GT", "GE"];
const PATHS: &[&str] = &[
    "/usr/share/r/a",
    "/usr/share/r/b",
    "/usr/lib/r/c",
    "/usr/bin/r-d",
    "/etc/r/e",
];

/// A random versioned or plain dependency on the small name pool.
fn random_dep(rng: &mut Rng) -> Dependency {
    let mut d = Dependency {
        name: random_name(rng),
        flags: None,
        epoch: None,
        version: None,
        release: None,
        pre: rng.chance(10),
    };
    if rng.chance(80) {
        d.flags = Some(rng.pick(FLAGS).to_string());
        d.epoch = Some(rng.pick(EPOCHS).unwrap_or("0").to_string());
        d.version = Some(rng.pick(VERSIONS).to_string());
        d.release = rng.pick(RELEASES).map(Into::into);
    }
    d
}

/// A capability inside a rich dependency: `name`, `name OP [e:]v[-r]` or a path.
fn random_cap(rng: &mut Rng) -> String {
    if rng.chance(15) {
        return rng.pick(PATHS).to_string();
    }
    let d = random_dep(rng);
    match d.flags.as_deref() {
        None => d.name,
        Some(f) => {
            let op = match f {
                "EQ" => "=",
                "LT" => "<",
                "LE" => "<=",
                "GT" => ">",
                _ => ">=",
            };
            let epoch = d
                .epoch
                .filter(|e| e != "0")
                .map(|e| format!("{e}:"))
                .unwrap_or_default();
            let release = d.release.map(|r| format!("-{r}")).unwrap_or_default();
            format!("{} {op} {epoch}{}{release}", d.name, d.version.unwrap())
        }
    }
}

/// A random rich dependency of depth up to `depth`, every operator libsolv reads (also
/// `unless`, which rpmbuild refuses in Requires but metadata can carry).
fn random_rich(rng: &mut Rng, depth: u32) -> String {
    let side = |rng: &mut Rng| {
        if depth > 0 && rng.chance(30) {
            random_rich(rng, depth - 1)
        } else {
            random_cap(rng)
        }
    };
    let (a, b) = (side(rng), side(rng));
    match rng.next() % 9 {
        0 => format!("({a} and {b})"),
        1 => format!("({a} or {b} or {})", side(rng)),
        2 => format!("({a} if {b})"),
        3 => format!("({a} if {b} else {})", side(rng)),
        4 => format!("({a} unless {b})"),
        5 => format!("({a} unless {b} else {})", side(rng)),
        6 => format!("({} with {})", random_cap(rng), random_cap(rng)),
        7 => format!("({} without {})", random_cap(rng), random_cap(rng)),
        _ => format!("({a} and {b} and {})", side(rng)),
    }
}

/// A random package: random provides (versioned, unversioned, ranged) and files; with
/// `requires`, random plain, file and rich requirements.
fn random_package(rng: &mut Rng, i: usize, requires: bool) -> PackageMeta {
    let name = random_name(rng);
    let mut m = meta(&name, "noarch", &[], &[], &[]);
    m.epoch = rng.pick(EPOCHS).map(|e| e.parse().unwrap()).unwrap_or(0);
    m.version = rng.pick(VERSIONS).to_string();
    // Unique NEVRAs (the release also carries the package number after a dot).
    m.release = format!("{}.{i}", rng.pick(RELEASES).unwrap_or("1"));
    m.provides[0].epoch = Some(m.epoch.to_string());
    m.provides[0].version = Some(m.version.clone());
    m.provides[0].release = Some(m.release.clone());
    m.pkgid = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("{i}-{requires}")));
    if rng.chance(40) {
        m.provides.push(random_dep(rng));
    }
    for p in PATHS {
        if rng.chance(10) {
            m.files.push(PackageFile {
                path: p.to_string(),
                kind: FileKind::File,
            });
        }
    }
    if requires {
        for _ in 0..(1 + rng.next() % 6) {
            m.requires.push(match rng.next() % 10 {
                0 => Dependency {
                    name: rng.pick(PATHS).to_string(),
                    ..random_dep(rng)
                }
                .unversioned(),
                1..=3 => Dependency {
                    name: random_rich(rng, 2),
                    ..random_dep(rng)
                }
                .unversioned(),
                _ => random_dep(rng),
            });
        }
    }
    m
}

trait Unversioned {
    fn unversioned(self) -> Self;
}

impl Unversioned for Dependency {
    fn unversioned(mut self) -> Self {
        (self.flags, self.epoch, self.version, self.release) = (None, None, None, None);
        self
    }
}

/// Random metadata full of near misses (epochs, missing releases, tilde and caret, ranged
/// and unversioned provides, files, nested rich dependencies of every kind): both verdicts
/// must be identical.
#[test]
fn random_metadata_agrees_with_dnf_repoclosure() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=6u64 {
        let mut rng = Rng(seed);
        let (base_dir, prod_dir) = (
            dir.path().join(format!("base{seed}")),
            dir.path().join(format!("prod{seed}")),
        );
        let base: Vec<PackageMeta> = (0..150).map(|i| random_package(&mut rng, i, false)).collect();
        let prod: Vec<PackageMeta> = (150..450).map(|i| random_package(&mut rng, i, true)).collect();
        publish(&base_dir, &base);
        publish(&prod_dir, &prod);
        let reference = repoclosure(&base_dir, &prod_dir, &[]);
        let index = ProviderIndex::new(
            BaseRepo::import("base", base_dir.to_str().unwrap(), 0)
                .unwrap()
                .packages,
        );
        let candidates = BaseRepo::import("prod", prod_dir.to_str().unwrap(), 0)
            .unwrap()
            .packages;
        let mut ours = Verdict::new();
        for u in check_closure(&candidates.iter().collect::<Vec<_>>(), &[&index]) {
            ours.entry(u.package).or_default().insert(u.requirement);
        }
        let unmet: usize = reference.values().map(BTreeSet::len).sum();
        let rich: usize = reference.values().flatten().filter(|r| r.starts_with('(')).count();
        eprintln!(
            "seed {seed}: {unmet} unmet ({rich} rich) in {} of {} packages",
            reference.len(),
            prod.len()
        );
        assert!(
            unmet > 100 && rich > 20 && reference.len() < prod.len(),
            "seed {seed}: a poor mix"
        );
        let mut report = String::new();
        for p in reference.keys().chain(ours.keys()).collect::<BTreeSet<_>>() {
            if reference.get(p) != ours.get(p) {
                report.push_str(&format!(
                    "{p}:\n  dnf:  {:?}\n  ours: {:?}\n",
                    reference.get(p),
                    ours.get(p)
                ));
            }
        }
        assert!(report.is_empty(), "seed {seed}: verdicts differ:\n{report}");
    }
}
