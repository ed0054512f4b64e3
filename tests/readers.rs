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
    let server = TestServer::start();
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
