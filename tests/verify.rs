//! Corruption at rest, end to end with the real server: a stored package and a repodata file
//! damaged on disk are found by the background scrub (metrics) and by `stagerepo admin verify`
//! (which names both and exits 1), are refused for download with a 503 (also after a restart),
//! and are served again once repaired (re-upload of the same bytes; the file restored).

mod support;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::{build_rpms, http, json, require_tool, SpecPackage, TestServer};

/// Flips one byte in the middle of a file, in place (the same inode, as a disk error would).
fn damage(path: &Path) {
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let at = f.metadata().unwrap().len() / 2;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x20]).unwrap();
    f.sync_all().unwrap();
}

/// The value of an unlabelled sample in /metrics.
fn metric(server: &TestServer, name: &str) -> f64 {
    let (status, body) = http(
        reqwest::Method::GET,
        &format!("{}/metrics", server.url),
        None,
        None,
        &[],
    )
    .unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "still not {what} after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(server: &TestServer, rel: &str) -> (u16, Vec<u8>) {
    http(
        reqwest::Method::GET,
        &format!("{}/repo/{rel}", server.url),
        None,
        None,
        &[],
    )
    .unwrap()
}

/// The href of the primary metadata in a repomd.xml.
fn primary_href(repomd: &str) -> String {
    let at = repomd.find("type=\"primary\"").unwrap();
    let start = at + repomd[at..].find("href=\"").unwrap() + "href=\"".len();
    repomd[start..start + repomd[start..].find('"').unwrap()].to_string()
}

/// The sha256 a checksum-named repodata file must have.
fn primary_sha(href: &str) -> String {
    href.trim_start_matches("repodata/")[..64].to_string()
}

#[test]
fn corruption_at_rest_is_found_refused_and_repaired() {
    require_tool("rpmbuild");
    let mut server = TestServer::start_with_config("scrub_interval = \"1s\"\n");
    let team = server.team_with_element("t", "kept");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-kept", "1.0", "1")]);
    server.submit(&team, "kept", "1.0.0", &rpms);
    let name = rpms[0].file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&rpms[0]).unwrap();
    let sha = hex::encode(Sha256::digest(&bytes));
    let data = server.data_dir();
    let beta = data.join("repos/el9/beta");
    let repomd = std::fs::read_to_string(beta.join("repodata/repomd.xml")).unwrap();
    let primary = primary_href(&repomd);
    let package_rel = format!("el9/beta/Packages/{name}");
    let primary_rel = format!("el9/beta/{primary}");
    // Both served (and so in the file cache) while intact.
    assert_eq!(get(&server, &package_rel), (200, bytes.clone()));
    assert_eq!(get(&server, &primary_rel).0, 200);

    // Nothing to find at first; the scrub runs every second.
    let (ok, out, _) = server.cli(None, &["admin", "verify"]);
    assert!(ok, "{out}");
    assert!(out.contains("every file is intact"), "{out}");
    wait_for("scrubbed", Duration::from_secs(20), || {
        metric(&server, "stagerepo_scrub_runs_total") >= 1.0
    });
    assert_eq!(metric(&server, "stagerepo_scrub_corrupt_files"), 0.0);
    assert!(metric(&server, "stagerepo_scrub_last_run_timestamp_seconds") > 1.0e9);

    damage(&data.join("store").join(&sha[..2]).join(&sha));
    damage(&beta.join(&primary));

    // The background scrub finds both.
    wait_for("found by the scrub", Duration::from_secs(20), || {
        metric(&server, "stagerepo_scrub_corrupt_files") >= 2.0
    });
    let (status, body) = http(reqwest::Method::GET, &format!("{}/", server.url), None, None, &[]).unwrap();
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("corrupt file(s), not served"), "dashboard: {page}");

    // admin verify names both, says what to do, and exits 1.
    let (ok, out, err) = server.cli(None, &["admin", "verify"]);
    assert!(!ok, "admin verify succeeded:\n{out}");
    assert!(err.contains("corrupt file(s)"), "{err}");
    assert!(out.contains(&name) && out.contains("sr-kept-1.0-1"), "{out}");
    assert!(out.contains(&primary), "{out}");
    assert!(out.contains(&format!("re-upload {name}")), "{out}");
    assert!(out.contains(&sha), "expected sha256 shown: {out}");
    let (ok, out, _) = server.cli(None, &["admin", "verify", "--dist", "el9", "--json"]);
    assert!(!ok);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    let kinds: Vec<(String, String)> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["kind"].as_str().unwrap().into(), m["path"].as_str().unwrap().into()))
        .collect();
    assert!(kinds.contains(&("package".into(), package_rel.clone())), "{kinds:?}");
    assert!(kinds.contains(&("repodata".into(), primary_rel.clone())), "{kinds:?}");
    let (status, _) = http(
        reqwest::Method::POST,
        &format!("{}/api/v1/admin/verify", server.url),
        Some(&team),
        None,
        &[],
    )
    .unwrap();
    assert_eq!(status, 403, "a team token may not run verify");

    // Never served silently: 503 with a JSON error, and a log line naming the file.
    for rel in [&package_rel, &primary_rel] {
        let (status, body) = get(&server, rel);
        assert_eq!(status, 503, "{rel}: {}", String::from_utf8_lossy(&body));
        let v = json(&body);
        assert_eq!(v["error"], "corrupt file", "{v}");
        assert!(v["detail"].as_str().unwrap().contains(rel.as_str()), "{v}");
        // Not busy: no Retry-After promising it soon.
        let resp = reqwest::blocking::get(format!("{}/repo/{rel}", server.url)).unwrap();
        assert_eq!(resp.status().as_u16(), 503);
        assert!(resp.headers().get("retry-after").is_none(), "{:?}", resp.headers());
    }
    assert!(
        server.log().contains("refused to serve a corrupt file"),
        "{}",
        server.log()
    );
    assert!(server.log().contains(&package_rel));

    // The marks survive a restart, and the restart republishes the repository whose
    // repodata is marked: the package is still refused, the metadata served again.
    server.restart();
    assert_eq!(get(&server, &package_rel).0, 503);
    let (status, body) = get(&server, &primary_rel);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(hex::encode(Sha256::digest(&body)), primary_sha(&primary));

    // Re-uploading the same bytes repairs the package (stored file and its links).
    let (status, body) = http(
        reqwest::Method::PUT,
        &format!("{}/api/v1/upload/{name}", server.url),
        Some(&team),
        Some(bytes.clone()),
        &[],
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(get(&server, &package_rel), (200, bytes.clone()));
    let (ok, out, _) = server.cli(None, &["admin", "verify"]);
    assert!(ok, "{out}");
    assert_eq!(metric(&server, "stagerepo_scrub_corrupt_files"), 0.0);

    // Damage found by a check is also cleared by a check once the file is right again.
    damage(&data.join("store").join(&sha[..2]).join(&sha));
    assert!(!server.cli(None, &["admin", "verify"]).0);
    damage(&data.join("store").join(&sha[..2]).join(&sha));
    assert!(server.cli(None, &["admin", "verify"]).0);
    assert_eq!(get(&server, &package_rel), (200, bytes));
}

#[test]
fn verify_refuses_unknown_dist_and_bad_bodies() {
    let server = TestServer::start();
    let url = format!("{}/api/v1/admin/verify", server.url);
    let post = |body: &str| {
        http(
            reqwest::Method::POST,
            &url,
            Some(&server.admin_token),
            Some(body.as_bytes().to_vec()),
            &[("content-type", "application/json")],
        )
        .unwrap()
    };
    let (status, body) = post(r#"{"dist": "nope"}"#);
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let (status, body) = post(r#"{"dist": 7}"#);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(json(&body)["detail"].as_str().unwrap().contains("invalid JSON"));
    let (status, body) = post("");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["ok"], true);
    let (status, _) = http(reqwest::Method::POST, &url, None, None, &[]).unwrap();
    assert_eq!(status, 401);
}

/// A package found corrupt while only stored, then published (a release into beta, a
/// promotion into production), is refused under its new links too, until a re-upload
/// repairs it everywhere.
#[test]
fn a_corrupt_package_published_later_is_refused_under_its_new_links() {
    require_tool("rpmbuild");
    let server = TestServer::start();
    let team = server.team_with_element("t", "late");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-late", "1.0", "1")]);
    let name = rpms[0].file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&rpms[0]).unwrap();
    let sha = hex::encode(Sha256::digest(&bytes));
    let upload = || {
        http(
            reqwest::Method::PUT,
            &format!("{}/api/v1/upload/{name}", server.url),
            Some(&team),
            Some(bytes.clone()),
            &[],
        )
        .unwrap()
    };
    assert_eq!(upload().0, 201);
    damage(&server.data_dir().join("store").join(&sha[..2]).join(&sha));
    let (ok, out, _) = server.cli(None, &["admin", "verify", "--json"]);
    assert!(!ok, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["mismatches"][0]["path"],
        format!("store/{}/{sha}", &sha[..2]),
        "{report}"
    );

    // Through the API: the CLI's submit would re-upload (and so repair) the package first.
    let (status, body) = http(
        reqwest::Method::POST,
        &format!("{}/api/v1/releases", server.url),
        Some(&team),
        Some(
            serde_json::json!({"dist": "el9", "element": "late", "version": "1.0.0", "packages": [name]})
                .to_string()
                .into_bytes(),
        ),
        &[("content-type", "application/json")],
    )
    .unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let id = json(&body)["id"].as_i64().unwrap();
    let beta_rel = format!("el9/beta/Packages/{name}");
    let (status, body) = get(&server, &beta_rel);
    assert_eq!(status, 503, "served a known corrupt package ({} bytes)", body.len());
    let v = json(&body);
    assert_eq!(v["error"], "corrupt file", "{v}");
    assert!(v["detail"].as_str().unwrap().contains(&beta_rel), "{v}");
    server.promote_forced(id, "test");
    let production_rel = format!("el9/production/Packages/{name}");
    assert_eq!(get(&server, &production_rel).0, 503);

    assert_eq!(upload().0, 200, "the re-upload that repairs it");
    assert_eq!(get(&server, &beta_rel), (200, bytes.clone()));
    assert_eq!(get(&server, &production_rel), (200, bytes));
    assert!(server.cli(None, &["admin", "verify"]).0);
}

/// A backup meeting a corrupt stored package is refused with a 409 naming the package and
/// its repair (not a 500), leaves the directory empty, marks the package, and succeeds once
/// it is repaired.
#[test]
fn a_backup_refuses_a_corrupt_package_naming_it() {
    require_tool("rpmbuild");
    let server = TestServer::start();
    let team = server.team_with_element("t", "bk");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-bk", "1.0", "1")]);
    server.submit(&team, "bk", "1.0.0", &rpms);
    let name = rpms[0].file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&rpms[0]).unwrap();
    let sha = hex::encode(Sha256::digest(&bytes));
    damage(&server.data_dir().join("store").join(&sha[..2]).join(&sha));

    let dir = work.path().join("backup");
    let backup = || {
        http(
            reqwest::Method::POST,
            &format!("{}/api/v1/admin/backup", server.url),
            Some(&server.admin_token),
            Some(format!(r#"{{"dir": "{}"}}"#, dir.display()).into_bytes()),
            &[("content-type", "application/json")],
        )
        .unwrap()
    };
    let (status, body) = backup();
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    let detail = json(&body)["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains(&sha) && detail.contains(&format!("re-upload {name}")),
        "{detail}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "the failed backup left files"
    );

    let (status, _) = http(
        reqwest::Method::PUT,
        &format!("{}/api/v1/upload/{name}", server.url),
        Some(&team),
        Some(bytes),
        &[],
    )
    .unwrap();
    assert!(status == 200 || status == 201, "{status}");
    let (status, body) = backup();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// `release submit` repairs a package found corrupt by uploading its bytes again instead of
/// skipping them as already stored (`GET /api/v1/packages/...` says `corrupt`).
#[test]
fn release_submit_re_uploads_a_corrupt_package() {
    require_tool("rpmbuild");
    let server = TestServer::start();
    let team = server.team_with_element("t", "fix");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-fix", "1.0", "1")]);
    server.submit(&team, "fix", "1.0.0", &rpms);
    let name = rpms[0].file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&rpms[0]).unwrap();
    let sha = hex::encode(Sha256::digest(&bytes));
    damage(&server.data_dir().join("store").join(&sha[..2]).join(&sha));
    assert!(!server.cli(None, &["admin", "verify"]).0);
    let package = format!("/api/v1/packages/{name}");
    assert_eq!(server.get_json(&package)["corrupt"], true);

    let mut args = vec![
        "release",
        "submit",
        "--dist",
        "el9",
        "--element",
        "fix",
        "--version",
        "1.0.1",
    ];
    let file = rpms[0].display().to_string();
    args.push(&file);
    let (ok, out, err) = server.cli(Some(&team), &args);
    assert!(ok, "{out}{err}");
    assert!(format!("{out}{err}").contains("repaired"), "{out}{err}");
    assert_eq!(server.get_json(&package)["corrupt"], false);
    assert_eq!(get(&server, &format!("el9/beta/Packages/{name}")), (200, bytes));
}

/// The repodata of an older generation, kept servable for clients holding an older
/// repomd.xml, is checked too (against the sha256 its name carries) and refused once
/// damaged; the restart's republication removes it instead of serving it.
#[test]
fn an_older_generation_repodata_file_is_checked_and_refused() {
    require_tool("rpmbuild");
    let mut server = TestServer::start();
    let team = server.team_with_element("t", "gen");
    let work = tempfile::tempdir().unwrap();
    let beta = server.data_dir().join("repos/el9/beta");
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-gen", "1.0", "1")]);
    server.submit(&team, "gen", "1.0.0", &rpms);
    let old = primary_href(&std::fs::read_to_string(beta.join("repodata/repomd.xml")).unwrap());
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-gen", "1.1", "1")]);
    server.submit(&team, "gen", "1.1.0", &rpms);
    let now = primary_href(&std::fs::read_to_string(beta.join("repodata/repomd.xml")).unwrap());
    assert_ne!(old, now);
    let old_rel = format!("el9/beta/{old}");
    assert_eq!(get(&server, &old_rel).0, 200, "the older generation is servable");
    damage(&beta.join(&old));

    let (ok, out, _) = server.cli(None, &["admin", "verify", "--json"]);
    assert!(!ok, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let paths: Vec<&str> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [old_rel.as_str()], "{report}");
    assert_eq!(get(&server, &old_rel).0, 503);

    server.restart();
    assert_ne!(get(&server, &old_rel).0, 200, "a damaged file served after the restart");
    let (ok, out, _) = server.cli(None, &["admin", "verify"]);
    assert!(ok, "{out}");
    assert_eq!(get(&server, &format!("el9/beta/{now}")).0, 200);
}
