//! Clients reading a repository while it is being published never see a 404 or a bad checksum.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use support::*;

/// (href, checksum) of every `<data>` in a repomd.xml.
fn repomd_entries(xml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for data in xml.split("<data ").skip(1) {
        let checksum = data
            .split("<checksum type=\"sha256\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap();
        let href = data
            .split("<location href=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap();
        out.push((href.to_string(), checksum.to_string()));
    }
    out
}

#[test]
fn readers_during_publication_never_see_404_or_checksum_mismatch() {
    readers_never_miss(&TestServer::start());
}

/// The same with every generation written behind (`write_behind_mb = 0`): served from memory
/// first, and the disk, once written, holds exactly what was served; a restart finds it whole.
#[test]
fn generations_written_behind_are_served_whole_and_reach_the_disk() {
    let mut server = TestServer::start_with_config("write_behind_mb = 0\n");
    readers_never_miss(&server);
    let (_, served) = ureq_get(&format!("{}/repo/el9/beta/repodata/repomd.xml", server.url)).unwrap();
    let repo = server.data_dir().join("repos/el9/beta");
    let started = std::time::Instant::now();
    while std::fs::read(repo.join("repodata/repomd.xml")).ok().as_deref() != Some(&served[..]) {
        assert!(started.elapsed().as_secs() < 10, "repomd.xml did not reach the disk");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for (href, checksum) in repomd_entries(&String::from_utf8(served.clone()).unwrap()) {
        let bytes = std::fs::read(repo.join(&href)).unwrap_or_else(|e| panic!("{href} on disk: {e}"));
        assert_eq!(hex::encode(Sha256::digest(&bytes)), checksum, "{href} on disk");
    }
    server.restart();
    let (_, after) = ureq_get(&format!("{}/repo/el9/beta/repodata/repomd.xml", server.url)).unwrap();
    assert_eq!(
        after, served,
        "the restart found the written generation whole and kept it"
    );
}

fn readers_never_miss(server: &TestServer) {
    let team = server.add_team("readers");
    for i in 0..12 {
        server.add_element(&format!("reader{i}"), "readers");
    }
    let work = tempfile::tempdir().unwrap();
    let specs: Vec<SpecPackage> = (0..12)
        .map(|i| SpecPackage::new(&format!("sr-reader-{i}"), "1.0", "1"))
        .collect();
    let rpms = build_rpms(work.path(), &specs);

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let base = format!("{}/repo/el9/beta/", server.url);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (stop, rounds, base) = (stop.clone(), rounds.clone(), base.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (status, repomd) = ureq_get(&format!("{base}repodata/repomd.xml")).unwrap();
                    assert_eq!(status, 200);
                    let repomd = String::from_utf8(repomd).unwrap();
                    // A slow client: the next publication may happen between these requests.
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    for (href, checksum) in repomd_entries(&repomd) {
                        let (status, body) = ureq_get(&format!("{base}{href}")).unwrap();
                        assert_eq!(status, 200, "GET {href} after reading repomd.xml");
                        assert_eq!(hex::encode(Sha256::digest(&body)), checksum, "checksum of {href}");
                    }
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    for (i, rpm) in rpms.iter().enumerate() {
        server.cli_ok(
            Some(&team),
            &[
                "release",
                "submit",
                "--dist",
                "el9",
                "--element",
                &format!("reader{i}"),
                "--version",
                "1.0.0",
                &rpm.display().to_string(),
            ],
        );
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader saw a missing file or a bad checksum");
    }
    assert!(rounds.load(Ordering::Relaxed) >= 12, "readers made progress");
    // All twelve packages are in the final metadata.
    let root = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    let out = root.dnf_ok(&["repoquery", "--available", "sr-reader-*"]);
    assert_eq!(out.lines().filter(|l| l.starts_with("sr-reader-")).count(), 12, "{out}");
}
