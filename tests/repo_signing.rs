//! Repository signing across restarts and publications: turning `signing_key` on for an
//! existing data directory signs every repository at start (dnf with `repo_gpgcheck=1` works
//! at once), a new key re-signs, turning signing off removes the signatures; and readers
//! racing publications always find the signature of the repomd.xml they fetched. Real gpg,
//! dnf and the server binary.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use stagerepo::signing::{parse_public_key, verify_detached};
use support::{build_rpms, require_tool, ureq_get, DnfRoot, SpecPackage, TestServer};

/// A fresh unprotected RSA signing key in its own gpg home; returns the secret key file.
fn gen_key(dir: &Path, name: &str) -> PathBuf {
    require_tool("gpg");
    let home = dir.join(format!("gnupg-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .arg("--batch")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        &format!("{name} <{name}@example.org>"),
        "rsa2048",
        "sign",
        "never",
    ]);
    let key = dir.join(format!("{name}.asc"));
    std::fs::write(&key, gpg(&["--armor", "--export-secret-keys"])).unwrap();
    key
}

fn get(server: &TestServer, path: &str) -> (u16, Vec<u8>) {
    ureq_get(&format!("{}{path}", server.url)).unwrap()
}

/// Whether the served `repomd.xml.asc` of `repo` verifies its repomd.xml under the served key.
fn served_signature_verifies(server: &TestServer, repo: &str) -> bool {
    let (_, key) = get(server, "/repo/el9/RPM-GPG-KEY-stagerepo");
    let key = parse_public_key(&String::from_utf8(key).unwrap()).unwrap();
    let (_, repomd) = get(server, &format!("/repo/el9/{repo}/repodata/repomd.xml"));
    let (status, sig) = get(server, &format!("/repo/el9/{repo}/repodata/repomd.xml.asc"));
    status == 200 && verify_detached(&key, &repomd, &String::from_utf8(sig).unwrap())
}

fn write_config(server: &TestServer, toml: &str) {
    std::fs::write(server.dir.path().join("stagerepo.toml"), toml).unwrap();
}

#[test]
fn signing_turned_on_later_keeps_dnf_working() {
    let keys = tempfile::tempdir().unwrap();
    let (first, second) = (gen_key(keys.path(), "first"), gen_key(keys.path(), "second"));
    let mut server = TestServer::start_with_config("");
    let team = server.team_with_element("t", "late");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-late", "1.0", "1")]);
    server.submit(&team, "late", "1.0.0", &rpms);
    assert_eq!(get(&server, "/repo/el9/beta/repodata/repomd.xml.asc").0, 404);
    let repomd_before = get(&server, "/repo/el9/beta/repodata/repomd.xml").1;

    // On with the first key: signed at start, without any publication.
    write_config(&server, &format!("signing_key = \"{}\"\n", first.display()));
    server.restart();
    assert_eq!(
        get(&server, "/repo/el9/beta/repodata/repomd.xml").1,
        repomd_before,
        "repomd.xml unchanged"
    );
    for repo in ["beta", "production"] {
        assert!(served_signature_verifies(&server, repo), "{repo} signed at start");
    }
    let (_, repo_file) = get(&server, "/repo/el9/beta.repo");
    assert!(String::from_utf8_lossy(&repo_file).contains("repo_gpgcheck=1"));
    let host = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    host.dnf_ok(&["install", "sr-late"]);
    assert_eq!(host.installed("sr-late").as_deref(), Some("sr-late-1.0-1.noarch"));

    // A new key: re-signed at start; the old signature no longer verifies under the new key.
    let (_, old_sig) = get(&server, "/repo/el9/beta/repodata/repomd.xml.asc");
    write_config(&server, &format!("signing_key = \"{}\"\n", second.display()));
    server.restart();
    let (_, new_sig) = get(&server, "/repo/el9/beta/repodata/repomd.xml.asc");
    assert_ne!(old_sig, new_sig);
    assert!(served_signature_verifies(&server, "beta"));
    let (_, key) = get(&server, "/repo/el9/RPM-GPG-KEY-stagerepo");
    let key = parse_public_key(&String::from_utf8(key).unwrap()).unwrap();
    assert!(!verify_detached(
        &key,
        &repomd_before,
        &String::from_utf8(old_sig).unwrap()
    ));
    let fresh = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    fresh.dnf_ok(&["install", "sr-late"]);

    // Off: no signature left behind, and dnf (told no repo_gpgcheck) still installs.
    write_config(&server, "");
    server.restart();
    assert_eq!(get(&server, "/repo/el9/beta/repodata/repomd.xml.asc").0, 404);
    let leftovers: Vec<String> = std::fs::read_dir(server.data_dir().join("repos/el9/beta/repodata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".asc"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let plain = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    plain.dnf_ok(&["install", "sr-late"]);
}

/// The `<revision>` of a repomd.xml.
fn revision(repomd: &str) -> String {
    let start = repomd.find("<revision>").unwrap() + "<revision>".len();
    repomd[start..start + repomd[start..].find('<').unwrap()].to_string()
}

#[test]
fn readers_racing_publications_always_get_the_matching_signature() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = gen_key(keys.path(), "racer");
    let server = TestServer::start_with_config(&format!("signing_key = \"{}\"\n", key_file.display()));
    let team = server.add_team("racers");
    for i in 0..10 {
        server.add_element(&format!("racer{i}"), "racers");
    }
    let work = tempfile::tempdir().unwrap();
    let specs: Vec<SpecPackage> = (0..10)
        .map(|i| SpecPackage::new(&format!("sr-racer-{i}"), "1.0", "1"))
        .collect();
    let rpms = build_rpms(work.path(), &specs);
    let (_, key) = get(&server, "/repo/el9/RPM-GPG-KEY-stagerepo");
    let key = Arc::new(parse_public_key(&String::from_utf8(key).unwrap()).unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let (pairs, fixed_mismatches) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let revisions = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let base = format!("{}/repo/el9/beta/repodata/", server.url);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (stop, pairs, fixed, key, base, revisions) = (
                stop.clone(),
                pairs.clone(),
                fixed_mismatches.clone(),
                key.clone(),
                base.clone(),
                revisions.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (status, repomd) = ureq_get(&format!("{base}repomd.xml")).unwrap();
                    assert_eq!(status, 200);
                    let rev = revision(&String::from_utf8_lossy(&repomd));
                    revisions.lock().unwrap().insert(rev.clone());
                    // A slow client: the next publication may complete between the requests.
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    let (status, sig) = ureq_get(&format!("{base}repomd-{rev}.xml.asc")).unwrap();
                    assert_eq!(status, 200, "signature of revision {rev}");
                    assert!(
                        verify_detached(&key, &repomd, &String::from_utf8(sig).unwrap()),
                        "the signature of revision {rev} does not verify its repomd.xml"
                    );
                    let (_, current) = ureq_get(&format!("{base}repomd.xml.asc")).unwrap();
                    if !verify_detached(&key, &repomd, &String::from_utf8_lossy(&current)) {
                        fixed.fetch_add(1, Ordering::Relaxed);
                    }
                    pairs.fetch_add(1, Ordering::Relaxed);
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
                &format!("racer{i}"),
                "--version",
                "1.0.0",
                &rpm.display().to_string(),
            ],
        );
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join()
            .expect("a reader fetched a repomd.xml whose signature it could not get or verify");
    }
    let seen = revisions.lock().unwrap().len();
    eprintln!(
        "{} pairs verified over {seen} revisions; the fixed name repomd.xml.asc had moved on {} times",
        pairs.load(Ordering::Relaxed),
        fixed_mismatches.load(Ordering::Relaxed)
    );
    assert!(
        pairs.load(Ordering::Relaxed) >= 10 && seen >= 3,
        "readers saw publications"
    );
    // At rest, the fixed name matches too, and dnf verifies it.
    assert!(served_signature_verifies(&server, "beta"));
    let host = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    let out = host.dnf_ok(&["repoquery", "--available", "sr-racer-*"]);
    assert_eq!(out.lines().filter(|l| l.starts_with("sr-racer-")).count(), 10, "{out}");
}
