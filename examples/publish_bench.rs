//! Measures publication: 5,000 synthetic packages from scratch, then one more with a warm
//! block cache; and, with `--createrepo`, the same on real RPMs against
//! `createrepo_c --update --no-database`.
//!
//! `cargo run --release --example publish_bench [-- --createrepo]`

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use stagerepo::domain::package::{Changelog, Dependency, FileKind, PackageFile, PackageMeta};
use stagerepo::repodata::{render, PackageXml, RepoWriter};

const N: usize = 5_000;

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    println!("{label:<58} {:>9.1} ms", took.as_secs_f64() * 1000.0);
    (out, took)
}

fn synthetic_meta(i: usize) -> PackageMeta {
    let dep = |name: String| Dependency {
        name,
        flags: Some("GE".into()),
        epoch: Some("0".into()),
        version: Some(format!("{}.{}", i % 7, i % 13)),
        release: None,
        pre: false,
    };
    PackageMeta {
        pkgid: hex::encode(Sha256::digest(format!("package {i}"))),
        name: format!("pkg{i:05}"),
        arch: "x86_64".into(),
        epoch: 0,
        version: format!("1.{}", i % 17),
        release: format!("{}.el9", i % 5),
        summary: format!("Synthetic package number {i}"),
        description: format!("Package {i} exists to measure publication.\nIt has two lines."),
        packager: "Build System <build@example.org>".into(),
        url: format!("https://example.org/pkg{i}"),
        time_file: 1_700_000_000 + i as i64,
        time_build: 1_690_000_000 + i as i64,
        license: "MIT".into(),
        vendor: "Example".into(),
        group: "Unspecified".into(),
        buildhost: "builder.example.org".into(),
        sourcerpm: format!("pkg{i}-1.0-1.src.rpm"),
        header_start: 4504,
        header_end: 9000 + i as u64,
        size_package: 20_000 + i as u64,
        size_installed: 60_000 + i as u64,
        size_archive: 61_000 + i as u64,
        provides: vec![dep(format!("pkg{i}")), dep(format!("libpkg{i}.so.1()(64bit)"))],
        requires: (0..4).map(|k| dep(format!("pkg{}", (i * 31 + k) % N))).collect(),
        conflicts: vec![],
        obsoletes: vec![],
        suggests: vec![],
        enhances: vec![],
        recommends: vec![],
        supplements: vec![],
        files: (0..20)
            .map(|k| PackageFile {
                path: match k {
                    0 => format!("/usr/bin/pkg{i}"),
                    1 => format!("/usr/share/doc/pkg{i}"),
                    _ => format!("/usr/share/pkg{i}/data/file-{k}-{}.txt", i * k),
                },
                kind: if k == 1 { FileKind::Dir } else { FileKind::File },
            })
            .collect(),
        changelogs: (0..5)
            .map(|k| Changelog {
                author: format!("Dev {k} <dev{k}@example.org> - 1.{k}-1"),
                date: 1_600_000_000 + (i * 100 + k) as i64,
                text: format!("- Change {k} of package {i}: fixes and improvements"),
            })
            .collect(),
    }
}

fn refs(v: &[PackageXml]) -> Vec<&PackageXml> {
    v.iter().collect()
}

fn synthetic() {
    println!("== {N} synthetic packages ==");
    let mut pkgs: Vec<PackageXml> = (0..N)
        .map(|i| {
            let meta = synthetic_meta(i);
            render(&meta, &format!("Packages/{}", meta.canonical_filename()))
        })
        .collect();
    let sizes: usize = pkgs
        .iter()
        .map(|p| p.primary.len() + p.filelists.len() + p.other.len())
        .sum();
    println!("uncompressed metadata: {:.1} MB", sizes as f64 / 1e6);
    let dir = tempfile::tempdir().unwrap();
    let writer = RepoWriter::default();
    let (p, _) = timed("full publication, cold cache", || {
        writer.publish(dir.path(), &refs(&pkgs), 2, 1_000).unwrap()
    });
    println!("  blocks compressed {}/{}", p.blocks_compressed, p.blocks_total);
    let (p, _) = timed("identical republication (changed=false)", || {
        writer.publish(dir.path(), &refs(&pkgs), 2, 1_001).unwrap()
    });
    assert!(!p.changed);

    let extra = synthetic_meta(N);
    pkgs.insert(N / 2, render(&extra, "Packages/extra.rpm"));
    let (p, _) = timed("one more package, warm cache", || {
        writer.publish(dir.path(), &refs(&pkgs), 2, 1_002).unwrap()
    });
    println!("  blocks compressed {}/{}", p.blocks_compressed, p.blocks_total);

    let extra = synthetic_meta(N + 1);
    pkgs.insert(N / 3, render(&extra, "Packages/extra2.rpm"));
    let (p, _) = timed("one more package, cold cache (after a restart)", || {
        RepoWriter::default()
            .publish(dir.path(), &refs(&pkgs), 2, 1_003)
            .unwrap()
    });
    println!("  blocks compressed {}/{}", p.blocks_compressed, p.blocks_total);
}

/// Small real RPMs made with the rpm crate: a few files, deps and changelog entries each.
fn build_rpm(dir: &Path, i: usize) -> std::path::PathBuf {
    let mut b = rpm::PackageBuilder::new(
        &format!("pkg{i:05}"),
        &format!("1.{}", i % 17),
        "MIT",
        "x86_64",
        &format!("Synthetic package number {i}"),
    );
    b.using_config(rpm::BuildConfig::default().compression(rpm::CompressionType::None))
        .release(format!("{}.el9", i % 5))
        .description(format!("Package {i} exists to measure publication."))
        .requires(rpm::Dependency::greater_eq(format!("pkg{:05}", (i * 31) % N), "1.0"))
        .provides(rpm::Dependency::eq(format!("libpkg{i}.so.1()(64bit)"), "1.0"))
        .add_changelog_entry("Dev <dev@example.org> - 1.0-1", "- First", 1_600_000_000u32)
        .add_changelog_entry("Dev <dev@example.org> - 1.1-1", "- Second", 1_600_100_000u32);
    for k in 0..10 {
        let path = if k == 0 {
            format!("/usr/bin/pkg{i}")
        } else {
            format!("/usr/share/pkg{i}/f{k}")
        };
        b.with_file_contents(format!("content {i} {k}\n"), rpm::FileOptions::new(path))
            .unwrap();
    }
    let path = dir.join(format!("pkg{i:05}.rpm"));
    b.build().unwrap().write_file(&path).unwrap();
    path
}

fn read_and_render(repo: &Path, path: &Path) -> PackageXml {
    let bytes = std::fs::read(path).unwrap();
    let id = hex::encode(Sha256::digest(&bytes));
    let mtime = std::os::unix::fs::MetadataExt::mtime(&std::fs::metadata(path).unwrap());
    let meta = stagerepo::rpmhdr::read_package(path, &id, mtime).unwrap();
    render(&meta, path.strip_prefix(repo).unwrap().to_str().unwrap())
}

fn against_createrepo_c() {
    println!("== {N} real RPMs: createrepo_c vs RepoWriter ==");
    let work = tempfile::tempdir().unwrap();
    let cr = work.path().join("cr");
    let ours = work.path().join("ours");
    std::fs::create_dir_all(&cr).unwrap();
    timed("building RPMs with the rpm crate", || {
        for i in 0..N {
            build_rpm(&cr, i);
        }
    });
    let createrepo = |args: &[&str]| {
        let status = Command::new("createrepo_c").args(args).arg(&cr).status().unwrap();
        assert!(status.success());
    };
    timed("createrepo_c --no-database (full)", || {
        createrepo(&["-q", "--no-database"])
    });
    let extra = build_rpm(&cr, N);
    let (_, cr_update) = timed("createrepo_c --update --no-database (one more)", || {
        createrepo(&["-q", "--update", "--no-database"])
    });

    let mut rpms: Vec<_> = std::fs::read_dir(&cr)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm") && *p != extra)
        .collect();
    rpms.sort();
    let (mut xml, _) = timed("our header reading + rendering (all, once at upload)", || {
        rpms.iter().map(|p| read_and_render(&cr, p)).collect::<Vec<_>>()
    });
    let writer = RepoWriter::default();
    std::fs::create_dir_all(&ours).unwrap();
    timed("our full publication, cold cache", || {
        writer
            .publish(&ours, &xml.iter().collect::<Vec<_>>(), 2, 1_000)
            .unwrap()
    });
    let (_, ours_update) = timed("ours: read + render + publish one more, warm cache", || {
        xml.push(read_and_render(&cr, &extra));
        writer
            .publish(&ours, &xml.iter().collect::<Vec<_>>(), 2, 1_001)
            .unwrap()
    });
    println!(
        "speed-up for one more package: {:.1}x",
        cr_update.as_secs_f64() / ours_update.as_secs_f64()
    );
}

fn main() {
    synthetic();
    if std::env::args().any(|a| a == "--createrepo") {
        against_createrepo_c();
    }
}
