//! What a host gets, end to end (issue 9): production holds fts-libs 3.13.x, which provides
//! `libfts-api = 3`, and dmlite 1.15.0, which needs it. Real dnf on a host with both
//! installed from production runs `dnf upgrade --setopt=best=True` (EL9's default) after
//! every promotion and succeeds. The release of fts-libs that drops the provide, a soname
//! bump (`libfoo.so.1()(64bit)` to `.so.2`) and an obsoleting replacement are refused by
//! `admin check`, forced promotion and the gate, with a message naming the needing
//! package, the requirement, the version that provided it and the release that removes it;
//! pointing dnf at production plus the refused release shows that it is the one that would
//! have broken the upgrade. Beta warnings, the announce refusal and its forced override are
//! checked on the same releases.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

fn promote(server: &TestServer, id: i64) -> (bool, String) {
    let (ok, out, err) = server.cli(
        None,
        &[
            "admin",
            "release",
            "promote",
            &id.to_string(),
            "--force",
            "--reason",
            "test",
        ],
    );
    (ok, format!("{out}{err}"))
}

fn pkg(name: &str, version: &str) -> SpecPackage {
    SpecPackage::new(name, version, "1.el9")
}

/// `dnf upgrade` with best=True on the host.
fn upgrade(host: &DnfRoot) -> (bool, String) {
    host.dnf(&["upgrade", "--setopt=best=True"])
}

/// The same, with an extra repository holding production's packages plus `rpms` (as
/// production would be had the release been promoted).
fn upgrade_with(server: &TestServer, host: &DnfRoot, rpms: &[PathBuf]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let prod = server.data_dir().join("repos/el9/production/Packages");
    for e in std::fs::read_dir(&prod).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    for r in rpms {
        std::fs::copy(r, dir.path().join(r.file_name().unwrap())).unwrap();
    }
    createrepo(dir.path());
    let repo_file = host.dir.path().join("repos/would-be.repo");
    std::fs::write(
        &repo_file,
        format!(
            "[would-be]\nname=production with the release\nbaseurl=file://{}\ngpgcheck=0\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let result = upgrade(host);
    std::fs::remove_file(&repo_file).unwrap();
    result
}

fn check_with(server: &TestServer, id: i64) -> Value {
    let (_, out, _) = server.cli(
        None,
        &[
            "admin",
            "check",
            "--dist",
            "el9",
            "--with-release",
            &id.to_string(),
            "--json",
        ],
    );
    serde_json::from_str(&out).unwrap()
}

fn failures(v: &Value) -> String {
    v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Submits `pkgs` as a release of `element`; returns the id and the RPM files.
fn release(
    server: &TestServer,
    team: &str,
    element: &str,
    version: &str,
    pkgs: &[SpecPackage],
    work: &Path,
) -> (i64, Vec<PathBuf>) {
    let dir = work.join(format!("{element}-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    let rpms = build_rpms(&dir, pkgs);
    (server.submit(team, element, version, &rpms), rpms)
}

#[test]
fn hosts_upgrade_after_every_promotion_and_breaking_releases_are_refused() {
    let server = TestServer::start();
    let team = server.team_with_element("t", "fts");
    server.add_element("dmlite", "t");
    server.add_element("foo", "t");
    server.add_element("tools", "t");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    let (fts1, _) = release(
        &server,
        &team,
        "fts",
        "3.13.0",
        &[pkg("fts-libs", "3.13.0").provides("libfts-api = 3")],
        w,
    );
    assert!(promote(&server, fts1).0);
    let (dm, _) = release(
        &server,
        &team,
        "dmlite",
        "1.15.0",
        &[pkg("dmlite", "1.15.0").requires("libfts-api = 3")],
        w,
    );
    assert!(promote(&server, dm).0);
    let (foo1, _) = release(
        &server,
        &team,
        "foo",
        "1.0.0",
        &[pkg("libfoo", "1.0").provides("libfoo.so.1()(64bit)")],
        w,
    );
    assert!(promote(&server, foo1).0);
    let (tools, _) = release(
        &server,
        &team,
        "tools",
        "1.0.0",
        &[pkg("foo-tools", "1.0").requires("libfoo.so.1()(64bit)")],
        w,
    );
    assert!(promote(&server, tools).0);

    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "fts-libs", "dmlite", "libfoo", "foo-tools"]);
    let (ok, out) = upgrade(&host);
    assert!(ok, "{out}");

    // A compatible fts-libs: promoted, and the host upgrades to it.
    let (fts2, _) = release(
        &server,
        &team,
        "fts",
        "3.13.1",
        &[pkg("fts-libs", "3.13.1").provides("libfts-api = 3")],
        w,
    );
    assert!(check_with(&server, fts2)["ok"] == true);
    let (ok, text) = promote(&server, fts2);
    assert!(ok, "{text}");
    let (ok, out) = upgrade(&host);
    assert!(ok, "{out}");
    assert_eq!(
        host.installed("fts-libs").as_deref(),
        Some("fts-libs-3.13.1-1.el9.noarch")
    );

    let repodata = server.data_dir().join("repos/el9/production/repodata");
    let before = snapshot_tree(&repodata);

    // 1. fts-libs 3.14.0 drops libfts-api = 3. Counting every version, 3.13.1 would still
    // "provide" it; a host only has 3.14.0.
    let (bad, bad_rpms) = release(
        &server,
        &team,
        "fts",
        "3.14.0",
        &[pkg("fts-libs", "3.14.0").provides("libfts-api = 4")],
        w,
    );
    let v = check_with(&server, bad);
    assert_eq!(v["ok"], false);
    let text = failures(&v);
    assert!(
        text.contains("dmlite-1.15.0-1.el9.noarch requires libfts-api = 3")
            && text.contains("fts-libs-3.13.1-1.el9.noarch provided it")
            && text.contains(&format!(
                "fts-libs-3.14.0-1.el9.noarch of release {bad} (fts 3.14.0) supersedes it"
            )),
        "{text}"
    );
    let (ok, text) = promote(&server, bad);
    assert!(!ok && text.contains("409") && text.contains("libfts-api = 3"), "{text}");
    let (ok, out) = upgrade_with(&server, &host, &bad_rpms);
    assert!(!ok, "dnf upgrade must fail with the refused release:\n{out}");
    assert!(out.contains("libfts-api = 3"), "{out}");

    // Beta checked as well: the release is in beta, with warnings everywhere.
    let detail = server.get_json(&format!("/api/v1/releases/{bad}"));
    assert_eq!(detail["state"], "beta");
    let warnings = detail["warnings"].to_string();
    assert!(warnings.contains("libfts-api = 3"), "{detail:#}");
    assert!(
        warnings.contains("with beta and production both enabled: dmlite-1.15.0-1.el9.noarch"),
        "{warnings}"
    );
    let shown = server.cli_ok(None, &["admin", "release", "show", &bad.to_string()]);
    assert!(shown.contains("WARNING") && shown.contains("libfts-api = 3"), "{shown}");
    // And the host that enables beta too breaks, as reported.
    let both = DnfRoot::new(&[
        format!("{}/repo/el9/production.repo", server.url),
        format!("{}/repo/el9/beta.repo", server.url),
    ]);
    both.dnf_ok(&["install", "fts-libs-3.13.1", "dmlite"]);
    let (ok, out) = upgrade(&both);
    assert!(!ok, "{out}");

    // Announce: refused with the failures (409, JSON), then forced with a reason.
    server.add_site("site1", None);
    server.add_rollout("fts", "site1", "1h");
    let url = format!("{}/api/v1/admin/releases/{bad}/announce", server.url);
    let (status, body) = http(
        reqwest::Method::POST,
        &url,
        Some(&server.admin_token),
        Some(b"{}".to_vec()),
        &[("content-type", "application/json")],
    )
    .unwrap();
    assert_eq!(status, 409);
    let err = json(&body);
    assert!(err["failures"].to_string().contains("libfts-api = 3"), "{err:#}");
    let (status, _) = http(
        reqwest::Method::POST,
        &url,
        Some(&server.admin_token),
        Some(br#"{"force":true}"#.to_vec()),
        &[("content-type", "application/json")],
    )
    .unwrap();
    assert_eq!(status, 400, "force needs a reason");
    let out = server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "announce",
            &bad.to_string(),
            "--force",
            "--reason",
            "sites test the API change",
        ],
    );
    assert!(out.contains("WARNING"), "{out}");
    let (_, feed) = ureq_get(&format!("{}/feed.atom", server.url)).unwrap();
    assert!(
        String::from_utf8_lossy(&feed).contains("Warnings:"),
        "announcement carries the warnings"
    );
    // In rollout, the gate shows the same cause.
    let gate = server.get_json(&format!("/api/v1/releases/{bad}"))["gate"].to_string();
    assert!(gate.contains("libfts-api = 3"), "{gate}");

    // 2. A soname bump.
    let (soname, soname_rpms) = release(
        &server,
        &team,
        "foo",
        "2.0.0",
        &[pkg("libfoo", "2.0").provides("libfoo.so.2()(64bit)")],
        w,
    );
    let text = failures(&check_with(&server, soname));
    assert!(
        text.contains("foo-tools-1.0-1.el9.noarch requires libfoo.so.1()(64bit)")
            && text.contains(&format!(
                "libfoo-2.0-1.el9.noarch of release {soname} (foo 2.0.0) supersedes it"
            )),
        "{text}"
    );
    assert!(!promote(&server, soname).0);
    let (ok, out) = upgrade_with(&server, &host, &soname_rpms);
    assert!(!ok, "{out}");

    // 3. An obsoleting replacement that lacks the provide.
    let (obs, obs_rpms) = release(
        &server,
        &team,
        "fts",
        "3.15.0",
        &[pkg("fts-libs-ng", "3.15.0").obsoletes("fts-libs < 3.15")],
        w,
    );
    let text = failures(&check_with(&server, obs));
    assert!(
        text.contains("dmlite-1.15.0-1.el9.noarch requires libfts-api = 3")
            && text.contains(&format!(
                "fts-libs-ng-3.15.0-1.el9.noarch of release {obs} (fts 3.15.0) obsoletes it"
            )),
        "{text}"
    );
    assert!(!promote(&server, obs).0);
    let (ok, out) = upgrade_with(&server, &host, &obs_rpms);
    assert!(!ok, "{out}");

    // Nothing refused reached production, and the host still upgrades cleanly.
    assert_eq!(snapshot_tree(&repodata), before);
    let (ok, out) = upgrade(&host);
    assert!(ok, "{out}");
}
