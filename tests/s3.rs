//! `storage = "s3"`: packages and published repositories in an S3-compatible bucket (a real
//! SeaweedFS): upload, release, staged rollout and promotion by the SLA timer, downloads
//! through 302s to presigned URLs with real dnf, readers of the bucket during publications,
//! the conditional write of repomd.xml, and an outage of the store.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use stagerepo::blob::BlobStore;
use support::seaweed::Seaweed;
use support::{build_rpms, repomd_files, DnfRoot, SpecPackage, TestServer};

const BUCKET: &str = "stagerepo";

/// Checks that repomd.xml of `prefix` in the bucket names only objects that exist there with
/// the recorded checksum; returns how many files it named.
fn bucket_repository_is_consistent(store: &dyn BlobStore, prefix: &str) -> Result<usize, String> {
    let repomd = store
        .get(&format!("{prefix}repodata/repomd.xml"))
        .map_err(|e| e.to_string())?;
    let files = repomd_files(&String::from_utf8(repomd).unwrap());
    for (href, sha) in &files {
        let bytes = store
            .get(&format!("{prefix}{href}"))
            .map_err(|e| format!("{href}: {e}"))?;
        let found = hex::encode(Sha256::digest(&bytes));
        if &found != sha {
            return Err(format!("{href}: repomd.xml says {sha}, the object is {found}"));
        }
    }
    Ok(files.len())
}

fn dir(work: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    let d = work.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn keys(store: &dyn BlobStore) -> BTreeSet<String> {
    store.list("").unwrap().into_iter().collect()
}

#[test]
fn packages_and_repositories_live_in_the_bucket_and_dnf_installs_through_presigned_redirects() {
    let (weed, _one) = Seaweed::start(&[BUCKET]);
    // Top-level keys before the [s3] table.
    let config = format!(
        "redirect_downloads = true\npresign_ttl = \"5m\"\n{}",
        weed.config(BUCKET)
    );
    let mut server = TestServer::start_with_config(&config);
    let store = weed.store(BUCKET);
    let team = server.team_with_element("t", "s3demo");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("s3demo", "1.0", "1")]);
    let rpm_bytes = std::fs::read(&rpms[0]).unwrap();
    let sha = hex::encode(Sha256::digest(&rpm_bytes));

    // An upload refused by the verification leaves no object behind.
    let before = keys(&store);
    let mut garbage = rpm_bytes.clone();
    let last = garbage.len() - 10;
    garbage[last] ^= 0xff;
    let (status, body) = support::http(
        reqwest::Method::PUT,
        &format!("{}/api/v1/upload/s3demo-1.0-1.noarch.rpm", server.url),
        Some(&team),
        Some(garbage),
        &[],
    )
    .unwrap();
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert_eq!(keys(&store), before, "a refused upload wrote to the bucket");

    let id = server.submit(&team, "s3demo", "1.0.0", &rpms);
    let objects = keys(&store);
    assert!(objects.contains(&format!("store/{}/{sha}", &sha[..2])), "{objects:#?}");
    assert!(
        objects.contains("repos/el9/beta/Packages/s3demo-1.0-1.noarch.rpm"),
        "{objects:#?}"
    );
    assert_eq!(
        store.get(&format!("store/{}/{sha}", &sha[..2])).unwrap(),
        rpm_bytes,
        "the bucket holds the uploaded bytes"
    );
    // The repository's copy of the package is the stored one (copied inside the bucket).
    assert_eq!(
        store.get("repos/el9/beta/Packages/s3demo-1.0-1.noarch.rpm").unwrap(),
        rpm_bytes
    );
    let named = bucket_repository_is_consistent(&store, "repos/el9/beta/").unwrap();
    assert!(named >= 3, "repomd.xml names primary, filelists and other");
    // The bucket's repomd.xml is the one the daemon serves.
    let (_, served) = support::ureq_get(&format!("{}/repo/el9/beta/repodata/repomd.xml", server.url)).unwrap();
    assert_eq!(store.get("repos/el9/beta/repodata/repomd.xml").unwrap(), served);

    // Package downloads are 302s to a presigned URL of the bucket; the bytes come from there.
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/repo/el9/beta/Packages/s3demo-1.0-1.noarch.rpm", server.url))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&weed.endpoint), "{location}");
    assert!(location.contains("X-Amz-Signature"), "{location}");
    let fetched = reqwest::blocking::get(&location).unwrap();
    assert_eq!(fetched.status().as_u16(), 200);
    assert_eq!(fetched.bytes().unwrap().to_vec(), rpm_bytes);
    // Repodata still comes from the daemon (repomd.xml and its signature from one generation).
    let resp = client
        .get(format!("{}/repo/el9/beta/repodata/repomd.xml", server.url))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // Real dnf follows the redirect and installs.
    let root = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    root.dnf_ok(&["install", "s3demo"]);
    assert_eq!(root.installed("s3demo").as_deref(), Some("s3demo-1.0-1.noarch"));
    let log = server.log();
    assert!(
        log.contains("path=\"/repo/el9/beta/Packages/s3demo-1.0-1.noarch.rpm\"") && log.contains("status=302"),
        "dnf's download went through the redirect:\n{log}"
    );

    // The staged rollout: a site with a 2 s SLA reports ok, the SLA timer promotes, and
    // production is published into the bucket too; hosts install from there.
    let (site, _) = server.add_site("SITE-A", None);
    server.add_rollout("s3demo", "SITE-A", "2s");
    server.cli_ok(None, &["admin", "release", "announce", &id.to_string()]);
    server.cli_ok(Some(&site), &["site", "report", &id.to_string(), "--ok"]);
    server.wait_for_state(id, "promoted", Duration::from_secs(20));
    bucket_repository_is_consistent(&store, "repos/el9/production/").unwrap();
    assert!(keys(&store).contains("repos/el9/production/Packages/s3demo-1.0-1.noarch.rpm"));
    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "s3demo"]);
    assert_eq!(host.installed("s3demo").as_deref(), Some("s3demo-1.0-1.noarch"));

    // A restart syncs again and finds nothing to change.
    let objects = keys(&store);
    server.restart();
    assert_eq!(keys(&store), objects);
    bucket_repository_is_consistent(&store, "repos/el9/beta/").unwrap();
}

#[test]
fn readers_of_the_bucket_during_publications_never_see_a_404_or_a_mismatch() {
    let (weed, _one) = Seaweed::start(&[BUCKET]);
    let server = TestServer::start_with_config(&weed.config(BUCKET));
    let team = server.team_with_element("t", "churn");
    let work = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let store = weed.store(BUCKET);
        std::thread::spawn(move || {
            let (mut rounds, mut failures) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match bucket_repository_is_consistent(&store, "repos/el9/beta/") {
                    Ok(_) => rounds += 1,
                    Err(e) => failures.push(e),
                }
            }
            (rounds, failures)
        })
    };
    for i in 1..=8 {
        let version = format!("1.{i}.0");
        std::fs::create_dir_all(work.path().join(&version)).unwrap();
        let rpms = build_rpms(
            &work.path().join(&version),
            &[
                SpecPackage::new("churn", &version, "1"),
                SpecPackage::new("churn-libs", &version, "1"),
            ],
        );
        server.submit(&team, "churn", &version, &rpms);
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (rounds, failures) = reader.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} reads failed: {failures:#?}",
        failures.len(),
        rounds + failures.len()
    );
    assert!(rounds >= 8, "the reader checked the bucket {rounds} times");
    // Old generations leave the bucket with the working copy's: only the kept ones remain.
    let store = weed.store(BUCKET);
    let primaries = keys(&store)
        .into_iter()
        .filter(|k| k.starts_with("repos/el9/beta/repodata/") && k.ends_with("-primary.xml.gz"))
        .count();
    assert!((1..=3).contains(&primaries), "{primaries} primary files in the bucket");
}

#[test]
fn another_writer_of_repomd_xml_is_never_overwritten() {
    let (weed, _one) = Seaweed::start(&[BUCKET]);
    let server = TestServer::start_with_config(&weed.config(BUCKET));
    let team = server.team_with_element("t", "race");
    let work = tempfile::tempdir().unwrap();
    let store = weed.store(BUCKET);
    server.submit(
        &team,
        "race",
        "1.0.0",
        &build_rpms(&dir(&work, "a"), &[SpecPackage::new("race", "1.0", "1")]),
    );
    // Another publisher (a second daemon on the same bucket) writes repomd.xml meanwhile.
    let foreign = b"<?xml version=\"1.0\"?><repomd/>".to_vec();
    store
        .put("repos/el9/beta/repodata/repomd.xml", foreign.clone())
        .unwrap();
    server.submit(
        &team,
        "race",
        "1.1.0",
        &build_rpms(&dir(&work, "b"), &[SpecPackage::new("race", "1.1", "1")]),
    );
    assert_eq!(
        store.get("repos/el9/beta/repodata/repomd.xml").unwrap(),
        foreign,
        "the conditional write must not overwrite the other writer's repomd.xml"
    );
    let log = server.log();
    assert!(log.contains("changed by another writer"), "{log}");
}

#[test]
fn an_outage_of_the_bucket_refuses_uploads_and_the_copy_catches_up() {
    let (mut weed, _one) = Seaweed::start(&[BUCKET]);
    let server = TestServer::start_with_config(&weed.config(BUCKET));
    let team = server.team_with_element("t", "outage");
    let work = tempfile::tempdir().unwrap();
    let put = |path: &std::path::Path| {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let (status, body) = support::http(
            reqwest::Method::PUT,
            &format!("{}/api/v1/upload/{name}", server.url),
            Some(&team),
            Some(std::fs::read(path).unwrap()),
            &[],
        )
        .unwrap();
        (status, String::from_utf8_lossy(&body).to_string(), name)
    };
    let uploaded = build_rpms(&dir(&work, "a"), &[SpecPackage::new("outage", "1.0", "1")]);
    let (status, body, name) = put(&uploaded[0]);
    assert_eq!(status, 201, "{body}");

    weed.stop();
    // An upload cannot be stored in the bucket: 503, quickly, with the reason.
    let later = build_rpms(&dir(&work, "b"), &[SpecPackage::new("outage-extra", "1.0", "1")]);
    let started = std::time::Instant::now();
    let (status, body, _) = put(&later[0]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("object store is unavailable"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    // A release of a package already stored is published and served from the working copy.
    let (status, body) = support::http(
        reqwest::Method::POST,
        &format!("{}/api/v1/releases", server.url),
        Some(&team),
        Some(
            serde_json::to_vec(&serde_json::json!({
                "dist": "el9", "element": "outage", "version": "1.0.0", "packages": [name]
            }))
            .unwrap(),
        ),
        &[("content-type", "application/json")],
    )
    .unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let served = || {
        support::ureq_get(&format!("{}/repo/el9/beta/repodata/repomd.xml", server.url))
            .unwrap()
            .1
    };
    let root = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    root.dnf_ok(&["install", "outage"]);

    // Back up: the worker loop copies what the bucket missed, without another publication.
    weed.restart(&[BUCKET]);
    let store = weed.store(BUCKET);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while store.get("repos/el9/beta/repodata/repomd.xml").ok().as_deref() != Some(served().as_slice()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the bucket never caught up:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    bucket_repository_is_consistent(&store, "repos/el9/beta/").unwrap();
    assert!(keys(&store).contains(&format!("repos/el9/beta/Packages/{name}")));
    assert!(server.log().contains("in sync again"), "{}", server.log());
}

/// An upload bigger than a part goes into the bucket while it is received (a multipart upload
/// under `uploads/`, moved to the store's key once accepted); one refused after parts were
/// sent leaves no object, neither in the store nor under `uploads/`.
#[test]
fn big_uploads_stream_into_the_bucket_and_a_refused_one_leaves_no_object() {
    let (weed, _one) = Seaweed::start(&[BUCKET]);
    let server = TestServer::start_with_config(&weed.config(BUCKET));
    let store = weed.store(BUCKET);
    let team = server.team_with_element("t", "big");
    let work = tempfile::tempdir().unwrap();
    let mut big = SpecPackage::new("big-data", "1.0", "1");
    big.payload_bytes = 20 * 1024 * 1024; // random: three 8 MiB parts
    let rpms = build_rpms(work.path(), &[big]);
    let rpm = std::fs::read(&rpms[0]).unwrap();
    assert!(rpm.len() > 16 * 1024 * 1024, "{}", rpm.len());
    let put = |body: Vec<u8>| {
        support::http(
            reqwest::Method::PUT,
            &format!("{}/api/v1/upload/big-data-1.0-1.noarch.rpm", server.url),
            Some(&team),
            Some(body),
            &[],
        )
        .unwrap()
    };

    // Corrupt near the end: refused once the payload digest is checked, after parts were sent.
    let before = keys(&store);
    let mut corrupt = rpm.clone();
    let at = corrupt.len() - 100;
    corrupt[at] ^= 0xff;
    let (status, body) = put(corrupt);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert_eq!(keys(&store), before, "a refused upload left objects");

    let (status, body) = put(rpm.clone());
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let sha = hex::encode(Sha256::digest(&rpm));
    let stored = format!("store/{}/{sha}", &sha[..2]);
    assert_eq!(store.get(&stored).unwrap(), rpm, "the bucket holds the uploaded bytes");
    let objects = keys(&store);
    assert!(
        !objects.iter().any(|k| k.starts_with("uploads/")),
        "a staged upload stayed: {objects:#?}"
    );
    assert!(
        !server.log().contains("streamed into the bucket failed"),
        "{}",
        server.log()
    );
    // The same bytes again: nothing new in the bucket.
    let (status, _) = put(rpm.clone());
    assert_eq!(status, 200);
    assert_eq!(keys(&store), objects);
    // Released, dnf installs it.
    server.submit(&team, "big", "1.0.0", &rpms);
    let root = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    root.dnf_ok(&["install", "big-data"]);
    assert_eq!(root.installed("big-data").as_deref(), Some("big-data-1.0-1.noarch"));
}
