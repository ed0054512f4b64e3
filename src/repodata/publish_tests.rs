//! Publication behaviour: block reuse, idempotence, revisions, generations and pruning.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use super::repomd::Repomd;
use super::*;
use crate::domain::package::{Changelog, Dependency, PackageFile};

/// A plausible package: a few deps, a dozen files, three changelog entries.
pub(crate) fn synthetic_meta(i: usize) -> PackageMeta {
    let dep = |name: String| Dependency {
        name,
        flags: Some("GE".into()),
        epoch: Some("0".into()),
        version: Some(format!("{}.{}", i % 7, i % 13)),
        release: None,
        pre: false,
    };
    PackageMeta {
        pkgid: format!(
            "{:064x}",
            (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        ),
        name: format!("pkg{i}"),
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
        requires: (0..4).map(|k| dep(format!("pkg{}", (i * 31 + k) % 5000))).collect(),
        files: (0..12)
            .map(|k| PackageFile {
                path: if k == 0 {
                    format!("/usr/bin/pkg{i}")
                } else {
                    format!("/usr/share/pkg{i}/data/file-{k}-{}.txt", i * k)
                },
                kind: FileKind::File,
            })
            .collect(),
        changelogs: (0..3)
            .map(|k| Changelog {
                author: format!("Dev {k} <dev{k}@example.org> - 1.{k}-1"),
                date: 1_600_000_000 + (i * 100 + k) as i64,
                text: format!("- Change {k} of package {i}: fixes and improvements"),
            })
            .collect(),
        conflicts: vec![],
        obsoletes: vec![],
        suggests: vec![],
        enhances: vec![],
        recommends: vec![],
        supplements: vec![],
    }
}

pub(crate) fn synthetic(n: usize) -> Vec<PackageXml> {
    (0..n)
        .map(|i| {
            let meta = synthetic_meta(i);
            render(&meta, &format!("Packages/{}", meta.canonical_filename()))
        })
        .collect()
}

fn refs(v: &[PackageXml]) -> Vec<&PackageXml> {
    v.iter().collect()
}

fn repodata_files(repo: &Path) -> BTreeSet<String> {
    std::fs::read_dir(repo.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn gunzip(path: &Path) -> String {
    let mut s = String::new();
    let file = std::fs::File::open(path).unwrap();
    flate2::read::MultiGzDecoder::new(file).read_to_string(&mut s).unwrap();
    s
}

/// Checks every file repomd.xml names against its record, and that the three documents hold
/// `order`'s fragments in that order.
fn check(repo: &Path, order: &[&PackageXml]) {
    use sha2::{Digest, Sha256};
    assert!(verify(repo), "a file does not match repomd.xml");
    let repomd = Repomd::parse(&std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap()).unwrap();
    type Part = (&'static str, &'static str, &'static str, fn(&PackageXml) -> &str);
    let parts: [Part; 3] = [
        ("primary", primary::HEADER, primary::FOOTER, |p| &p.primary),
        ("filelists", filelists::HEADER, filelists::FOOTER, |p| &p.filelists),
        ("other", other::HEADER, other::FOOTER, |p| &p.other),
    ];
    for (kind, header, footer, pick) in parts {
        let record = repomd.records.iter().find(|r| r.kind == kind).unwrap();
        let text = gunzip(&repo.join(&record.href));
        let expected: String = std::iter::once(header)
            .chain(order.iter().map(|p| pick(p)))
            .chain(std::iter::once(footer))
            .collect();
        assert!(text == expected, "{kind} is not the expected document");
        assert_eq!(record.open_size, Some(text.len() as u64));
        assert_eq!(
            record.open_checksum.as_deref(),
            Some(hex::encode(Sha256::digest(text.as_bytes())).as_str())
        );
    }
}

#[test]
fn one_more_package_is_appended_in_a_block_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut pkgs = synthetic(2000);
    let writer = RepoWriter::default();
    let first = writer.publish(dir.path(), &refs(&pkgs), 2, 1_000).unwrap();
    assert!(first.changed);
    assert_eq!(first.blocks_compressed, first.blocks_total);
    assert!(first.blocks_total >= 3 * 10, "{} blocks", first.blocks_total);
    check(dir.path(), &refs(&pkgs));

    // Given in the middle of the order, a new package still goes to the end: the blocks
    // before it, their bytes and their hash states, stay as they were.
    let extra = render(&synthetic_meta(99_999), "Packages/extra.rpm");
    pkgs.insert(1000, extra);
    let second = writer.publish(dir.path(), &refs(&pkgs), 2, 1_001).unwrap();
    assert!(second.changed);
    assert_eq!(second.blocks_compressed, 3, "one new block per file");
    let mut order = refs(&pkgs);
    let moved = order.remove(1000);
    order.push(moved);
    check(dir.path(), &order);
}

#[test]
fn a_package_leaving_rewrites_only_its_block() {
    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(1000);
    let writer = RepoWriter::default();
    writer.publish(dir.path(), &refs(&pkgs), 2, 1_000).unwrap();
    let mut order = refs(&pkgs);
    order.remove(300);
    order.remove(10);
    let p = writer.publish(dir.path(), &order, 2, 1_001).unwrap();
    assert_eq!(p.blocks_compressed, 2 * 3, "the two blocks that lost a package");
    check(dir.path(), &order);
    // A whole block leaving.
    order.drain(64..200);
    writer.publish(dir.path(), &order, 2, 1_002).unwrap();
    check(dir.path(), &order);
}

#[test]
fn many_small_releases_are_merged_into_full_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(500);
    let writer = RepoWriter::default();
    writer.publish(dir.path(), &refs(&pkgs[..200]), 1, 1).unwrap();
    let mut most = 0;
    for k in 0..100 {
        let p = writer
            .publish(dir.path(), &refs(&pkgs[..200 + 3 * k]), 1, 2 + k as i64)
            .unwrap();
        most = most.max(p.blocks_total / 3);
    }
    // 500 packages: 8 full blocks plus at most the 15 small ones not merged yet.
    assert!(most <= 8 + 16, "{most} blocks");
    check(dir.path(), &refs(&pkgs[..200 + 3 * 99]));
}

#[test]
fn the_publish_set_merge_finds_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(300);
    let by_id: std::collections::HashMap<&str, &PackageXml> = pkgs.iter().map(|p| (p.pkgid.as_str(), p)).collect();
    let mut asked = 0;
    let mut load = |ids: &[&str]| -> Result<Vec<PackageXml>, String> {
        asked += ids.len();
        Ok(ids.iter().map(|id| by_id[id].clone()).collect())
    };
    let sorted = |v: &[PackageXml]| {
        let mut s: Vec<String> = v.iter().map(|p| p.pkgid.clone()).collect();
        s.sort();
        s
    };
    let writer = RepoWriter::default();
    writer
        .publish_set(dir.path(), &sorted(&pkgs[..250]), &mut load, 1, 1, &[], None)
        .unwrap();
    assert_eq!(writer.published_count(dir.path()), 250);
    let mut set = sorted(&pkgs[..250]);
    let leaving = set.remove(7);
    set.extend(sorted(&pkgs[250..]));
    set.sort();
    let p = writer
        .publish_set(dir.path(), &set, &mut load, 1, 2, &[], None)
        .unwrap();
    assert!(p.changed);
    assert!(asked < 250 + 50 + 64, "asked for {asked} packages");
    assert_eq!(writer.published_count(dir.path()), 299);
    let mut order: Vec<&PackageXml> = sorted(&pkgs[..250])
        .iter()
        .filter(|id| **id != leaving)
        .map(|id| by_id[id.as_str()])
        .collect();
    order.extend(sorted(&pkgs[250..]).iter().map(|id| by_id[id.as_str()]));
    check(dir.path(), &order);
}

#[test]
fn a_cold_writer_writes_the_same_documents() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pkgs = synthetic(300);
    let warm = RepoWriter::default();
    warm.publish(a.path(), &refs(&pkgs[..200]), 1, 5).unwrap();
    warm.publish(a.path(), &refs(&pkgs), 1, 6).unwrap();
    RepoWriter::default().publish(b.path(), &refs(&pkgs), 1, 6).unwrap();
    // Block boundaries differ (the warm writer appended a block), the documents do not.
    check(a.path(), &refs(&pkgs));
    check(b.path(), &refs(&pkgs));
}

#[test]
fn identical_republish_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(50);
    let writer = RepoWriter::default();
    let first = writer.publish(dir.path(), &refs(&pkgs), 1, 1_000).unwrap();
    let repomd = dir.path().join("repodata/repomd.xml");
    let before = std::fs::read(&repomd).unwrap();
    let mtime = std::fs::metadata(&repomd).unwrap().modified().unwrap();

    // Same content, later clock, fresh writer (as after a restart): nothing is rewritten.
    let again = RepoWriter::default()
        .publish(dir.path(), &refs(&pkgs), 1, 2_000)
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.revision, first.revision);
    assert_eq!(again.repomd_sha256, first.repomd_sha256);
    assert_eq!(again.files, first.files);
    assert_eq!(std::fs::read(&repomd).unwrap(), before);
    assert_eq!(std::fs::metadata(&repomd).unwrap().modified().unwrap(), mtime);
}

#[test]
fn revision_never_goes_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(10);
    let writer = RepoWriter::default();
    let a = writer.publish(dir.path(), &refs(&pkgs[..5]), 1, 1_000).unwrap();
    assert_eq!(a.revision, 1_000);
    // The clock went back (or two publications in one second).
    let b = writer.publish(dir.path(), &refs(&pkgs[..6]), 1, 900).unwrap();
    assert_eq!(b.revision, 1_001);
    let c = writer.publish(dir.path(), &refs(&pkgs), 1, 5_000).unwrap();
    assert_eq!(c.revision, 5_000);
}

#[test]
fn old_generations_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(20);
    let writer = RepoWriter::default();
    // An unrelated file must survive pruning.
    std::fs::create_dir_all(dir.path().join("repodata")).unwrap();
    std::fs::write(dir.path().join("repodata/README"), "not ours").unwrap();

    let mut published = Vec::new();
    for k in 0..5 {
        published.push(
            writer
                .publish(dir.path(), &refs(&pkgs[..10 + k]), 2, 100 + k as i64)
                .unwrap(),
        );
    }
    let files = repodata_files(dir.path());
    // Current generation plus the two before it.
    let mut expected: BTreeSet<String> = published[2..].iter().flat_map(|p| p.files.iter().cloned()).collect();
    expected.extend(["repomd.xml", "README", "generations.json"].map(String::from));
    assert_eq!(files, expected);
    for p in &published[..2] {
        for f in &p.files {
            assert!(!files.contains(f), "{f} should be pruned");
        }
    }

    // keep = 0 leaves only the current generation.
    let last = writer.publish(dir.path(), &refs(&pkgs), 0, 200).unwrap();
    let data: BTreeSet<String> = repodata_files(dir.path())
        .into_iter()
        .filter(|f| f.ends_with(".xml.gz"))
        .collect();
    assert_eq!(data, last.files.iter().cloned().collect());
}

#[test]
fn generations_start_from_a_foreign_repomd() {
    // A repository first written by someone else (createrepo_c): its files count as the
    // previous generation and stay while `keep` allows.
    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(10);
    let first = RepoWriter::default()
        .publish(dir.path(), &refs(&pkgs[..5]), 1, 10)
        .unwrap();
    std::fs::remove_file(dir.path().join("repodata/generations.json")).unwrap();
    let second = RepoWriter::default().publish(dir.path(), &refs(&pkgs), 1, 20).unwrap();
    let files = repodata_files(dir.path());
    for f in first.files.iter().chain(&second.files) {
        assert!(files.contains(f), "{f} missing");
    }
}

#[test]
fn empty_repository() {
    let dir = tempfile::tempdir().unwrap();
    let p = RepoWriter::default().publish(dir.path(), &[], 1, 10).unwrap();
    assert!(p.changed);
    let primary = p.files.iter().find(|f| f.ends_with("-primary.xml.gz")).unwrap();
    let text = gunzip(&dir.path().join("repodata").join(primary));
    assert_eq!(text, format!("{}{}", primary::HEADER, primary::FOOTER));
}

#[test]
fn readers_never_see_a_missing_file_during_publications() {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(400);
    let writer = RepoWriter::default();
    const KEEP: usize = 2;
    writer.publish(dir.path(), &refs(&pkgs[..100]), KEEP, 1).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut rounds = 0;
            while !done.load(Ordering::Relaxed) || rounds == 0 {
                // What a client does: repomd.xml first, then every file it names.
                let text = std::fs::read_to_string(dir.path().join("repodata/repomd.xml")).unwrap();
                let repomd = Repomd::parse(&text).expect("repomd.xml is always complete");
                for r in &repomd.records {
                    let bytes = match std::fs::read(dir.path().join(&r.href)) {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            // Only a generation that left the window (the current one and
                            // `keep` older ones) may lose its files: a reader that slept through
                            // that many publications is the one case that may see a miss.
                            let held: i64 = repomd.revision.parse().unwrap();
                            let now = std::fs::read_to_string(dir.path().join("repodata/repomd.xml")).unwrap();
                            let now: i64 = Repomd::parse(&now).unwrap().revision.parse().unwrap();
                            assert!(
                                now > held + KEEP as i64,
                                "{} named by revision {held} missing while revision {now} is current: {e}",
                                r.href
                            );
                            continue;
                        }
                    };
                    assert_eq!(hex::encode(Sha256::digest(&bytes)), r.checksum);
                }
                rounds += 1;
            }
            rounds
        });
        for k in 0..30 {
            writer
                .publish(dir.path(), &refs(&pkgs[..100 + k * 10]), KEEP, 2 + k as i64)
                .unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
}

#[test]
fn going_back_to_an_earlier_package_set_reuses_or_repairs_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let pkgs = synthetic(30);
    let writer = RepoWriter::default();
    let a = writer.publish(dir.path(), &refs(&pkgs[..20]), 3, 100).unwrap();
    writer.publish(dir.path(), &refs(&pkgs), 3, 200).unwrap();
    // Damage a kept file of the first generation: publishing that set again must rewrite it.
    let damaged = dir.path().join("repodata").join(&a.files[0]);
    let len = std::fs::metadata(&damaged).unwrap().len() as usize;
    std::fs::write(&damaged, vec![0u8; len]).unwrap();
    let back = writer.publish(dir.path(), &refs(&pkgs[..20]), 3, 300).unwrap();
    assert!(back.changed);
    assert_eq!(back.files, a.files);
    assert_eq!(back.revision, 300);
    let bytes = std::fs::read(&damaged).unwrap();
    let name = a.files[0].split('-').next().unwrap();
    assert_eq!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)), name);
}

#[test]
fn a_generation_written_behind_is_in_memory_first_and_then_on_disk_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let pending = std::sync::Arc::new(super::Pending::default());
    let writer = RepoWriter::writing_behind(pending.clone(), 0);
    let pkgs = synthetic(40);
    let first = writer.publish(dir.path(), &refs(&pkgs[..30]), 2, 10).unwrap();
    let second = writer.publish(dir.path(), &refs(&pkgs), 2, 20).unwrap();
    let repodata = dir.path().join("repodata");
    // What the overlay holds now is the newest generation (or nothing, once written).
    if let Some(generation) = pending.get(&repodata) {
        assert_eq!(generation.revision, second.revision.to_string());
        for (name, file) in &generation.files {
            assert!(second.files.contains(name), "{name} is of the newest generation");
            assert_eq!(file.parts.iter().map(|p| p.len() as u64).sum::<u64>(), file.len);
        }
    }
    let in_memory: Vec<(String, Vec<u8>)> = pending
        .get(&repodata)
        .map(|g| g.files.iter().map(|(n, f)| (n.clone(), f.parts.concat())).collect())
        .unwrap_or_default();
    writer.flush(dir.path()).unwrap();
    assert!(pending.get(&repodata).is_none(), "written, it leaves the overlay");
    for (name, bytes) in in_memory {
        assert_eq!(std::fs::read(repodata.join(&name)).unwrap(), bytes, "{name} on disk");
    }
    let text = std::fs::read_to_string(repodata.join("repomd.xml")).unwrap();
    assert_eq!(Repomd::parse(&text).unwrap().revision, second.revision.to_string());
    let files = repodata_files(dir.path());
    for f in first.files.iter().chain(&second.files) {
        assert!(files.contains(f), "{f} kept");
    }
    assert!(super::verify(dir.path()));
}

#[test]
fn a_known_change_gives_the_files_a_full_comparison_gives_and_a_wrong_one_is_not_trusted() {
    let pkgs = synthetic(30);
    let ids = |v: &[PackageXml]| -> Vec<String> {
        let mut ids: Vec<String> = v.iter().map(|p| p.pkgid.clone()).collect();
        ids.sort();
        ids
    };
    let by_id: std::collections::HashMap<String, PackageXml> =
        pkgs.iter().map(|p| (p.pkgid.clone(), p.clone())).collect();
    let mut load =
        |want: &[&str]| -> Result<Vec<PackageXml>, String> { Ok(want.iter().map(|w| by_id[*w].clone()).collect()) };
    let (a, b) = (ids(&pkgs[..20]), ids(&pkgs[5..]));
    let added: Vec<String> = b.iter().filter(|x| !a.contains(x)).cloned().collect();
    let removed: Vec<String> = a.iter().filter(|x| !b.contains(x)).cloned().collect();

    // Two publications into a fresh directory, the second with the change it is told of.
    let mut twice = |first: &[String], second: &[String], change: Option<(&[String], &[String])>| {
        let dir = tempfile::tempdir().unwrap();
        let writer = RepoWriter::default();
        writer
            .publish_set(dir.path(), first, &mut load, 2, 10, &[], None)
            .unwrap();
        writer
            .publish_change(dir.path(), second, change, &mut load, 2, 20, &[], None)
            .unwrap()
            .files
    };
    let known = Some((added.as_slice(), removed.as_slice()));
    assert_eq!(twice(&a, &b, known), twice(&a, &b, None));
    // A change that does not match the layout (here: claimed against the wrong set) is
    // checked and not followed.
    assert_eq!(twice(&b, &a, known), twice(&b, &a, None));
}

/// What another writer published into `from`, as a fetch by href.
fn fetch_from(from: &Path) -> impl FnMut(&str) -> Result<bytes::Bytes, String> + '_ {
    move |href: &str| {
        std::fs::read(from.join(href))
            .map(bytes::Bytes::from)
            .map_err(|e| e.to_string())
    }
}

#[test]
fn an_adopted_generation_is_the_publisher_s_byte_for_byte_and_keeps_the_window() {
    let (publisher_dir, replica_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pkgs = synthetic(30);
    let (publisher, replica) = (RepoWriter::default(), RepoWriter::default());
    for (k, n) in [10, 20, 25, 30].into_iter().enumerate() {
        let published = publisher
            .publish(publisher_dir.path(), &refs(&pkgs[..n]), 1, 100 + k as i64)
            .unwrap();
        let repomd = std::fs::read(publisher_dir.path().join("repodata/repomd.xml")).unwrap();
        let adopted = replica
            .adopt(
                replica_dir.path(),
                repomd.clone().into(),
                None,
                &mut fetch_from(publisher_dir.path()),
                1,
                500,
            )
            .unwrap();
        assert_eq!(adopted.repomd_sha256, published.repomd_sha256);
        assert_eq!(adopted.revision, published.revision);
        assert_eq!(
            std::fs::read(replica_dir.path().join("repodata/repomd.xml")).unwrap(),
            repomd
        );
        for name in &published.files {
            let (a, b) = (
                publisher_dir.path().join("repodata").join(name),
                replica_dir.path().join("repodata").join(name),
            );
            assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "{name}");
            // The timestamp repomd.xml records is the file's mtime, as on the publisher.
            let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
            assert_eq!(mtime(&a), mtime(&b), "{name}");
        }
        check(replica_dir.path(), &refs(&pkgs[..n]));
        // The same again changes nothing.
        let again = replica
            .adopt(
                replica_dir.path(),
                repomd.into(),
                None,
                &mut |_: &str| Err("not asked".into()),
                1,
                600,
            )
            .unwrap();
        assert!(!again.changed);
    }
    // keep = 1: the current generation and the one before, as on the publisher.
    let data = |dir: &Path| -> BTreeSet<String> {
        repodata_files(dir)
            .into_iter()
            .filter(|f| f.ends_with(".xml.gz"))
            .collect()
    };
    assert_eq!(data(replica_dir.path()), data(publisher_dir.path()));
    // The replica publishes next from the adopted files (its layout is not theirs): a valid
    // generation after the adopted one.
    let next = replica.publish(replica_dir.path(), &refs(&pkgs[..28]), 1, 700).unwrap();
    assert!(next.changed);
    check(replica_dir.path(), &refs(&pkgs[..28]));
}

#[test]
fn a_generation_whose_copy_does_not_match_is_refused_and_nothing_is_replaced() {
    let (publisher_dir, replica_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pkgs = synthetic(12);
    let (publisher, replica) = (RepoWriter::default(), RepoWriter::default());
    publisher
        .publish(publisher_dir.path(), &refs(&pkgs[..6]), 2, 100)
        .unwrap();
    let first = std::fs::read(publisher_dir.path().join("repodata/repomd.xml")).unwrap();
    replica
        .adopt(
            replica_dir.path(),
            first.clone().into(),
            None,
            &mut fetch_from(publisher_dir.path()),
            2,
            100,
        )
        .unwrap();
    publisher.publish(publisher_dir.path(), &refs(&pkgs), 2, 200).unwrap();
    let second = std::fs::read(publisher_dir.path().join("repodata/repomd.xml")).unwrap();
    let before = repodata_files(replica_dir.path());
    // A copy with a flipped byte (a bad bucket object): refused by its checksum.
    let mut corrupt = |href: &str| {
        let mut bytes = std::fs::read(publisher_dir.path().join(href)).map_err(|e| e.to_string())?;
        bytes[20] ^= 1;
        Ok(bytes::Bytes::from(bytes))
    };
    let err = replica
        .adopt(replica_dir.path(), second.clone().into(), None, &mut corrupt, 2, 200)
        .unwrap_err();
    assert!(err.to_string().contains("sha256"), "{err}");
    assert_eq!(
        std::fs::read(replica_dir.path().join("repodata/repomd.xml")).unwrap(),
        first
    );
    assert_eq!(repodata_files(replica_dir.path()), before);
    // A repomd.xml naming a file outside repodata/ is refused before anything is fetched.
    let text = String::from_utf8(second).unwrap();
    let name = Repomd::parse(&text).unwrap().records[0].href.clone();
    let evil = text.replace(&name, "../../etc/evil.xml.gz");
    let err = replica
        .adopt(
            replica_dir.path(),
            evil.into_bytes().into(),
            None,
            &mut |_: &str| Err("not asked".into()),
            2,
            200,
        )
        .unwrap_err();
    assert!(err.to_string().contains("outside repodata"), "{err}");
    assert_eq!(
        std::fs::read(replica_dir.path().join("repodata/repomd.xml")).unwrap(),
        first
    );
}
