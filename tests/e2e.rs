//! End to end: real rpmbuild, the real server binary and real dnf.

mod support;

use serde_json::Value;
use support::*;

#[test]
fn upload_release_and_install_with_dnf_from_beta_then_production() {
    require_tool("dnf");
    let server = TestServer::start();
    let team = server.team_with_element("demo-team", "demo");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(
        work.path(),
        &[
            SpecPackage::new("sr-demo-lib", "1.0", "1"),
            SpecPackage::new("sr-demo-app", "1.0", "1").requires("sr-demo-lib >= 1.0"),
        ],
    );
    // A newer lib that nobody releases must not be installed: only what was published is visible.
    let unreleased = build_rpms(work.path(), &[SpecPackage::new("sr-demo-lib", "2.0", "1")]);
    let (status, _) = http(
        reqwest::Method::PUT,
        &format!("{}/api/v1/upload/sr-demo-lib-2.0-1.noarch.rpm", server.url),
        Some(&team),
        Some(std::fs::read(&unreleased[0]).unwrap()),
        &[],
    )
    .unwrap();
    assert_eq!(status, 201);

    let mut args = vec![
        "release",
        "submit",
        "--dist",
        "el9",
        "--element",
        "demo",
        "--version",
        "1.0.0",
        "--json",
    ];
    let paths: Vec<String> = rpms.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = server.cli_ok(Some(&team), &args);
    let release: Value = serde_json::from_str(&out).unwrap();
    let id = release["id"].as_i64().expect("release id");
    assert_eq!(release["state"], "beta");

    // Beta: dnf resolves the dependency and installs exactly the released versions.
    let root = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    root.dnf_ok(&["install", "sr-demo-app"]);
    assert_eq!(
        root.installed("sr-demo-app").as_deref(),
        Some("sr-demo-app-1.0-1.noarch")
    );
    assert_eq!(
        root.installed("sr-demo-lib").as_deref(),
        Some("sr-demo-lib-1.0-1.noarch")
    );

    // Production does not have it yet.
    let prod = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    let (ok, text) = prod.dnf(&["install", "sr-demo-app"]);
    assert!(!ok, "production must not offer an unpublished release:\n{text}");

    let id = id.to_string();
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &id,
            "--force",
            "--reason",
            "end-to-end test",
        ],
    );
    prod.dnf_ok(&["install", "sr-demo-app"]);
    assert_eq!(
        prod.installed("sr-demo-app").as_deref(),
        Some("sr-demo-app-1.0-1.noarch")
    );
    assert_eq!(
        prod.installed("sr-demo-lib").as_deref(),
        Some("sr-demo-lib-1.0-1.noarch")
    );

    // The release shows as promoted; the .repo file points at this server.
    let (_, body) = ureq_get(&format!("{}/api/v1/releases/{}", server.url, id)).unwrap();
    assert_eq!(json(&body)["state"], "promoted");
    let (_, repo_file) = ureq_get(&format!("{}/repo/el9/production.repo", server.url)).unwrap();
    let repo_file = String::from_utf8(repo_file).unwrap();
    assert!(
        repo_file.contains(&format!("baseurl={}/repo/el9/production/", server.url)),
        "{repo_file}"
    );
}

#[test]
fn release_submit_is_idempotent_for_uploads_and_refuses_duplicates() {
    let server = TestServer::start();
    let team = server.team_with_element("t1", "idem");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-idem", "1.0", "1")]);
    let file = rpms[0].display().to_string();
    server.cli_ok(Some(&team), &["upload", &file]);
    // Submitting uploads again (skipped: identical bytes already stored), then creates the release.
    let out = server.cli_ok(
        Some(&team),
        &[
            "release",
            "submit",
            "--dist",
            "el9",
            "--element",
            "idem",
            "--version",
            "1.0.0",
            "--json",
            &file,
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["id"].as_i64().is_some());
    // Same element and version again: refused with a clear one-line error.
    let (ok, _, err) = server.cli(
        Some(&team),
        &[
            "release",
            "submit",
            "--dist",
            "el9",
            "--element",
            "idem",
            "--version",
            "1.0.0",
            &file,
        ],
    );
    assert!(!ok);
    assert!(err.contains("409") && err.contains("already exists"), "{err}");
    // Not semver.
    let (ok, _, err) = server.cli(
        Some(&team),
        &[
            "release",
            "submit",
            "--dist",
            "el9",
            "--element",
            "idem",
            "--version",
            "1.0",
            &file,
        ],
    );
    assert!(!ok && err.contains("semantic"), "{err}");
    // Unknown distribution.
    let (ok, _, err) = server.cli(
        Some(&team),
        &[
            "release",
            "submit",
            "--dist",
            "el7",
            "--element",
            "idem",
            "--version",
            "2.0.0",
            &file,
        ],
    );
    assert!(!ok && err.contains("404"), "{err}");
}

#[test]
fn admin_tokens_teams_and_rights() {
    let server = TestServer::start();
    // The admin token file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.data_dir().join("admin.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let token = server.add_team("alpha");
    let out = server.cli_ok(None, &["admin", "team", "list"]);
    assert!(out.contains("alpha"), "{out}");
    let out = server.cli_ok(None, &["admin", "team", "list", "--json"]);
    let teams: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(teams[0]["name"], "alpha");
    assert!(!out.contains(&token), "tokens are never listed");

    // A team token is not an admin token: 403. A wrong token: 401. No token: 401.
    let url = format!("{}/api/v1/admin/teams", server.url);
    let (s, b) = http(reqwest::Method::GET, &url, Some(&token), None, &[]).unwrap();
    assert_eq!(s, 403);
    assert_eq!(json(&b)["error"], "forbidden");
    let (s, b) = http(reqwest::Method::GET, &url, Some("nope"), None, &[]).unwrap();
    assert_eq!(s, 401);
    assert!(json(&b)["detail"].as_str().unwrap().contains("token"));
    let (s, _) = http(reqwest::Method::GET, &url, None, None, &[]).unwrap();
    assert_eq!(s, 401);

    // Rotation: the old token stops working, the new one works.
    let out = server.cli_ok(None, &["admin", "team", "token-rotate", "alpha", "--json"]);
    let new_token = serde_json::from_str::<Value>(&out).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let up = format!("{}/api/v1/upload/x-1-1.noarch.rpm", server.url);
    let (s, _) = http(reqwest::Method::PUT, &up, Some(&token), Some(b"x".to_vec()), &[]).unwrap();
    assert_eq!(s, 401);
    let (s, _) = http(reqwest::Method::PUT, &up, Some(&new_token), Some(b"x".to_vec()), &[]).unwrap();
    assert_eq!(s, 400, "a valid team token reaches validation");

    // Duplicate team: 409, one clear line from the CLI.
    let (ok, _, err) = server.cli(None, &["admin", "team", "add", "alpha"]);
    assert!(
        !ok && err.starts_with("error: 409") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn restart_keeps_everything_and_repodata_is_byte_identical() {
    let mut server = TestServer::start();
    let team = server.team_with_element("t", "r");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-restart", "1.0", "1")]);
    server.cli_ok(
        Some(&team),
        &[
            "release",
            "submit",
            "--dist",
            "el9",
            "--element",
            "r",
            "--version",
            "1.0.0",
            &rpms[0].display().to_string(),
        ],
    );
    let repomd_url = format!("{}/repo/el9/beta/repodata/repomd.xml", server.url);
    let before = ureq_get(&repomd_url).unwrap().1;
    server.restart();
    let after = ureq_get(&repomd_url).unwrap().1;
    assert_eq!(
        before, after,
        "an unchanged repository keeps its repomd.xml byte for byte"
    );
    assert!(server.log().contains("shutting down"), "SIGTERM shuts down gracefully");
}
