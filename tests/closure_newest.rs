//! The newest-set closure (what a host has after `dnf upgrade` with `best=True`) against
//! `dnf repoclosure --newest`, package by package: on the shared test RPMs, and on the case
//! of issue 9 built with rpmbuild (fts-libs 3.13.0 provides `libfts-api = 3`, dmlite needs
//! it, fts-libs 3.14.0 drops it), its soname variant and its obsoletes variant. The random
//! corpus is compared in `closure_random.rs`. A missing tool fails the tests.

mod support;

use std::path::Path;

use stagerepo::base::BaseRepo;
use stagerepo::domain::closure::{check_closure, check_closure_newest, DepPackage, ProviderIndex, Unmet};
use support::repoclosure::{repoclosure, Verdict};
use support::{build_rpms, createrepo, shared_testdata, SpecPackage};

fn import(dir: &Path) -> Vec<DepPackage> {
    BaseRepo::import("r", dir.to_str().unwrap(), 0).unwrap().packages
}

fn verdict(unmet: &[Unmet]) -> Verdict {
    let mut v = Verdict::new();
    for u in unmet {
        v.entry(u.package.clone()).or_default().insert(u.requirement.clone());
    }
    v
}

/// An empty base repository.
fn empty_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    createrepo(dir);
}

#[test]
fn shared_rpms_newest_agrees_with_dnf_repoclosure_newest() {
    let dir = tempfile::tempdir().unwrap();
    let (base_dir, prod_dir) = (dir.path().join("base"), dir.path().join("prod"));
    empty_repo(&base_dir);
    std::fs::create_dir_all(&prod_dir).unwrap();
    let mut copied = 0;
    for entry in walkdir(&shared_testdata().join("rpms")) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".rpm") && !name.ends_with(".src.rpm") {
            // Files of one NEVRA in several variants: keep them apart by their folder.
            let flat = entry
                .strip_prefix(shared_testdata())
                .unwrap()
                .to_string_lossy()
                .replace('/', "_");
            std::fs::copy(&entry, prod_dir.join(flat)).unwrap();
            copied += 1;
        }
    }
    assert!(copied > 20, "shared test RPMs missing");
    createrepo(&prod_dir);
    let base = ProviderIndex::new(import(&base_dir));
    let prod = import(&prod_dir);
    let refs: Vec<&DepPackage> = prod.iter().collect();
    let reference = repoclosure(&base_dir, &prod_dir, &["--newest".to_string()]);
    let ours = verdict(&check_closure_newest(&refs, &[&base]));
    assert!(!reference.is_empty(), "the shared RPMs have unmet requirements");
    assert_eq!(ours, reference);
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn pkg(name: &str, version: &str) -> SpecPackage {
    SpecPackage::new(name, version, "1.el9")
}

/// Builds `packages` into a repository and returns (dnf repoclosure --newest, dnf
/// repoclosure without it, our newest verdict).
fn both(packages: &[SpecPackage]) -> (Verdict, Verdict, Vec<Unmet>) {
    let dir = tempfile::tempdir().unwrap();
    let (base_dir, prod_dir) = (dir.path().join("base"), dir.path().join("prod"));
    empty_repo(&base_dir);
    std::fs::create_dir_all(&prod_dir).unwrap();
    build_rpms(&prod_dir, packages);
    createrepo(&prod_dir);
    let base = ProviderIndex::new(import(&base_dir));
    let prod = import(&prod_dir);
    let refs: Vec<&DepPackage> = prod.iter().collect();
    assert!(
        check_closure(&refs, &[&base]).is_empty(),
        "every version counted, all is met"
    );
    (
        repoclosure(&base_dir, &prod_dir, &["--newest".to_string()]),
        repoclosure(&base_dir, &prod_dir, &[]),
        check_closure_newest(&refs, &[&base]),
    )
}

#[test]
fn dropped_provide_is_unmet_as_in_dnf_repoclosure_newest() {
    let (newest, all, ours) = both(&[
        pkg("fts-libs", "3.13.0").provides("libfts-api = 3"),
        pkg("fts-libs", "3.14.0").provides("libfts-api = 4"),
        pkg("dmlite", "1.15.0").requires("libfts-api = 3"),
    ]);
    assert!(all.is_empty());
    assert_eq!(verdict(&ours), newest);
    assert_eq!(
        newest
            .get("dmlite-1.15.0-1.el9.noarch")
            .map(|s| s.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["libfts-api = 3".to_string()])
    );
    let text = ours[0].to_string();
    assert!(
        text.contains("fts-libs-3.13.0-1.el9.noarch provided it, but fts-libs-3.14.0-1.el9.noarch supersedes it"),
        "{text}"
    );
}

#[test]
fn soname_bump_is_unmet_as_in_dnf_repoclosure_newest() {
    let (newest, all, ours) = both(&[
        pkg("libfoo", "1.0").provides("libfoo.so.1()(64bit)"),
        pkg("libfoo", "2.0").provides("libfoo.so.2()(64bit)"),
        pkg("foo-tools", "1.0").requires("libfoo.so.1()(64bit)"),
        pkg("foo-new", "1.0").requires("libfoo.so.2()(64bit)"),
    ]);
    assert!(all.is_empty());
    assert_eq!(verdict(&ours), newest);
    assert_eq!(newest.keys().collect::<Vec<_>>(), ["foo-tools-1.0-1.el9.noarch"]);
}

/// `dnf repoclosure` does not look at obsoletes: on this case it agrees on the closure part
/// (nothing unmet) and we report, in addition, what the obsoleted package alone provided.
#[test]
fn obsoleted_provider_is_reported_beyond_dnf_repoclosure_newest() {
    let (newest, _, ours) = both(&[
        pkg("fts-libs", "3.13.0").provides("libfts-api = 3"),
        pkg("fts-libs-ng", "3.14.0").obsoletes("fts-libs < 3.14"),
        pkg("dmlite", "1.15.0").requires("libfts-api = 3"),
    ]);
    let (by_obsoletes, plain): (Vec<Unmet>, Vec<Unmet>) =
        ours.into_iter().partition(|u| u.lost.iter().any(|l| l.obsoleted));
    assert_eq!(verdict(&plain), newest);
    assert_eq!(by_obsoletes.len(), 1, "{by_obsoletes:?}");
    assert_eq!(by_obsoletes[0].package, "dmlite-1.15.0-1.el9.noarch");
    assert!(by_obsoletes[0]
        .to_string()
        .contains("fts-libs-ng-3.14.0-1.el9.noarch obsoletes it"));
}
