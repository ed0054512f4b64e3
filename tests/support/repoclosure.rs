//! Shared by the closure tests: running `dnf repoclosure` and reading its verdict, and
//! synthetic repositories written with our repodata writer (neither tool needs RPM files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use stagerepo::domain::package::{Dependency, FileKind, PackageFile, PackageMeta};
use stagerepo::repodata::{render, RepoWriter};

/// Unmet requirements by package NEVRA.
pub type Verdict = BTreeMap<String, BTreeSet<String>>;

/// Runs `dnf repoclosure --check=prod` over both repositories, with `extra` options;
/// returns its verdict.
pub fn repoclosure(base: &Path, prod: &Path, extra: &[String]) -> Verdict {
    super::require_tool("dnf");
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
pub fn parse_repoclosure(stdout: &str) -> Verdict {
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

/// Synthetic metadata (no RPM files: neither tool reads them) for `name-1-1.arch`.
pub fn meta(name: &str, arch: &str, provides: &[&str], requires: &[&str], files: &[&str]) -> PackageMeta {
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

pub fn publish(dir: &Path, metas: &[PackageMeta]) {
    let xml: Vec<_> = metas
        .iter()
        .map(|m| render(m, &format!("Packages/{}", m.canonical_filename())))
        .collect();
    RepoWriter::default()
        .publish(dir, &xml.iter().collect::<Vec<_>>(), 1, 1_700_000_000)
        .unwrap();
}
