//! The closure check against the reference, `dnf repoclosure`, on the same repositories:
//! both must report exactly the same unmet (package, requirement) pairs, package by package.
//! - RPMs built with rpmbuild (a "base" and a "production" repository, createrepo_c), covering
//!   plain, versioned (epochs, releases, tilde, caret, ranged and release-less provides), file
//!   (non-primary files, directories) and rich requirements, read back through
//!   `stagerepo::base` import so that the importer is covered too;
//! - per client architecture, synthetic metadata mixing architectures, against
//!   `dnf repoclosure --forcearch`;
//! - random synthetic metadata full of near misses, every rich form included, is in
//!   `closure_random.rs`.
//!
//! rpmbuild refuses `unless` in `Requires:` ("Illegal context for 'unless', please use 'or'
//! instead"), so no real package carries one there: the random metadata covers it.
//! `dnf repoclosure` missing makes the tests fail, never skip.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use stagerepo::base::BaseRepo;
use stagerepo::domain::closure::{check_closure, check_closure_for_arch, compatible_arches, DepPackage, ProviderIndex};
use support::repoclosure::{meta, publish, repoclosure, Verdict};
use support::{build_rpms, createrepo, SpecPackage};

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
