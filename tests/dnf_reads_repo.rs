//! Real dnf against a repository we published: it lists the packages, installs one into an
//! empty installroot, and upgrades it after a publication adds a newer release.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use stagerepo::repodata::{render, PackageXml, RepoWriter};
use stagerepo::rpmhdr::read_package;

/// dnf confined to a scratch directory: its own repos.d, cache and installroot.
struct Dnf {
    root: PathBuf,
    reposdir: PathBuf,
    cache: PathBuf,
}

impl Dnf {
    fn new(work: &Path, repo: &Path) -> Dnf {
        let dnf = Dnf {
            root: work.join("installroot"),
            reposdir: work.join("repos.d"),
            cache: work.join("cache"),
        };
        std::fs::create_dir_all(&dnf.reposdir).unwrap();
        std::fs::create_dir_all(&dnf.root).unwrap();
        std::fs::write(
            dnf.reposdir.join("stagerepo-test.repo"),
            format!(
                "[stagerepo-test]\nname=stagerepo test\nbaseurl=file://{}\nenabled=1\n\
                 gpgcheck=0\nrepo_gpgcheck=0\n",
                repo.display()
            ),
        )
        .unwrap();
        dnf
    }

    fn run(&self, args: &[&str]) -> String {
        let mut cmd: Command = common::c_locale("dnf");
        cmd.arg("-y")
            .arg("--noplugins")
            .arg(format!("--installroot={}", self.root.display()))
            .arg("--releasever=9")
            .arg(format!("--setopt=reposdir={}", self.reposdir.display()))
            .arg(format!("--setopt=cachedir={}", self.cache.display()))
            .arg("--setopt=install_weak_deps=0")
            // dnf 4 keeps using cached metadata it considers fresh (even with
            // metadata_expire=0); --refresh makes it check repomd.xml, as a user would.
            .arg("--refresh")
            .args(args);
        common::run(&mut cmd)
    }
}

fn publish(writer: &RepoWriter, repo: &Path, rpms: &[&PathBuf], now: i64) {
    let xml: Vec<PackageXml> = rpms
        .iter()
        .map(|path| {
            let meta = read_package(path, &common::sha256_file(path), common::mtime(path)).unwrap();
            let href = path.strip_prefix(repo).unwrap().to_str().unwrap();
            render(&meta, href)
        })
        .collect();
    let refs: Vec<&PackageXml> = xml.iter().collect();
    assert!(writer.publish(repo, &refs, 2, now).unwrap().changed);
}

#[test]
fn dnf_lists_installs_and_upgrades() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let rpms = common::build_fixtures(&repo.join("Packages"));
    let name = |p: &&PathBuf| p.file_name().unwrap().to_str().unwrap().to_owned();
    let v1: Vec<&PathBuf> = rpms.iter().filter(|p| !name(p).contains("hello-2.0")).collect();
    let all: Vec<&PathBuf> = rpms.iter().collect();
    assert!(v1.len() < all.len(), "the fixtures include hello 2.0");

    let writer = RepoWriter::default();
    publish(&writer, &repo, &v1, 1_700_000_000);
    let dnf = Dnf::new(work.path(), &repo);
    let listed = dnf.run(&["repoquery", "--available", "--qf", "%{name}-%{evr}.%{arch}"]);
    assert!(listed.contains("stagerepo-fixture-hello-1.0-1.noarch"), "{listed}");
    assert!(
        listed.contains("stagerepo-fixture-deps-3:1.2.3-4.test.noarch"),
        "{listed}"
    );

    dnf.run(&["install", "stagerepo-fixture-hello"]);
    let file = dnf.root.join("usr/share/stagerepo-fixture-hello/hello.txt");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello\n");

    // One more release: dnf must pick up the new repomd.xml and its files.
    publish(&writer, &repo, &all, 1_700_000_100);
    let listed = dnf.run(&["repoquery", "--available", "--qf", "%{name}-%{evr}.%{arch}"]);
    assert!(listed.contains("stagerepo-fixture-hello-2.0-1.noarch"), "{listed}");
    dnf.run(&["upgrade", "stagerepo-fixture-hello"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello2\n");

    // dnf reads filelists for file dependencies: a path outside primary must resolve.
    let owner = dnf.run(&[
        "repoquery",
        "--available",
        "--qf",
        "%{name}",
        "--whatprovides",
        "/usr/share/stagerepo-fixture/readme.txt",
    ]);
    assert!(owner.contains("stagerepo-fixture-deps"), "{owner}");
}
