//! Consistency features end to end: advisories with real dnf, withdrawal, roll-back, history,
//! the fast track, and a signed repository that dnf verifies.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::*;

fn force(server: &TestServer, id: i64) {
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &id.to_string(),
            "--force",
            "--reason",
            "test set-up",
        ],
    );
}

#[test]
fn advisories_withdrawal_rollback_and_history() {
    let server = TestServer::start();
    let team = server.team_with_element("fts-team", "fts");
    server.add_element("dmlite", "fts-team");
    let work = tempfile::tempdir().unwrap();
    let build = |name: &str, v: &str| build_rpms(work.path(), &[SpecPackage::new(name, v, "1")]);

    let fts1 = server.submit(&team, "fts", "1.0.0", &build("fts-server", "1.0"));
    let dm1 = server.submit(&team, "dmlite", "1.0.0", &build("dmlite-libs", "1.0"));
    force(&server, fts1);
    force(&server, dm1);
    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "fts-server", "dmlite-libs"]);

    let fts2 = {
        let files = build("fts-server", "2.0");
        let mut args = vec![
            "release",
            "submit",
            "--dist",
            "el9",
            "--element",
            "fts",
            "--version",
            "2.0.0",
            "--json",
        ];
        args.extend([
            "--type",
            "bugfix",
            "--severity",
            "important",
            "--notes",
            "Fixes stuck transfers.",
        ]);
        let f = files[0].display().to_string();
        args.push(&f);
        serde_json::from_str::<Value>(&server.cli_ok(Some(&team), &args)).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let dm2 = server.submit(&team, "dmlite", "2.0.0", &build("dmlite-libs", "2.0"));
    force(&server, fts2);
    force(&server, dm2);

    // dnf sees the advisories, and upgrading by advisory upgrades exactly its packages.
    let list = host.dnf_ok(&["updateinfo", "list", "--all"]);
    let year = chrono_year();
    let fts_adv = format!("STAGE-{year}-0003");
    assert!(
        list.contains(&fts_adv) && list.contains("bugfix") && list.contains("fts-server-2.0-1"),
        "{list}"
    );
    let info = host.dnf_ok(&["updateinfo", "info", &fts_adv]);
    assert!(
        info.contains("Important") && info.contains("Fixes stuck transfers."),
        "{info}"
    );
    host.dnf_ok(&["upgrade", "--advisory", &fts_adv]);
    assert_eq!(host.installed("fts-server").as_deref(), Some("fts-server-2.0-1.noarch"));
    assert_eq!(
        host.installed("dmlite-libs").as_deref(),
        Some("dmlite-libs-1.0-1.noarch"),
        "not in the advisory"
    );

    // Withdraw fts 2.0.0: a fresh host gets 1.0 again; the announcement says how to go back.
    let out = server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "withdraw",
            &fts2.to_string(),
            "--reason",
            "breaks transfers",
        ],
    );
    assert!(out.contains("withdrawn"), "{out}");
    assert_eq!(
        server.get_json(&format!("/api/v1/releases/{fts1}"))["state"],
        "promoted",
        "1.0 is the newest again"
    );
    let fresh = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    fresh.dnf_ok(&["install", "fts-server"]);
    assert_eq!(
        fresh.installed("fts-server").as_deref(),
        Some("fts-server-1.0-1.noarch")
    );
    let (_, feed) = ureq_get(&format!("{}/feed.atom", server.url)).unwrap();
    let feed = String::from_utf8(feed).unwrap();
    assert!(
        feed.contains("withdrawn") && feed.contains("dnf distro-sync fts-server"),
        "{feed}"
    );
    let (ok, text) = host.dnf(&["distro-sync"]);
    assert!(ok, "{text}");
    assert_eq!(host.installed("fts-server").as_deref(), Some("fts-server-1.0-1.noarch"));

    // History and diff.
    let history = server.get_json("/api/v1/repos/el9/production/revisions");
    let revs: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_i64().unwrap())
        .collect();
    assert_eq!(revs, [6, 5, 4, 3, 2, 1], "{history:#}");
    let out = server.cli_ok(
        None,
        &["admin", "repo", "history", "--dist", "el9", "--repo", "production"],
    );
    assert!(out.contains("withdraw") || out.contains("breaks transfers"), "{out}");
    let diff = server.get_json("/api/v1/repos/el9/production/diff?from=3&to=5");
    assert_eq!(
        diff["added"],
        serde_json::json!(["dmlite-libs-2.0-1.noarch", "fts-server-2.0-1.noarch"]),
        "{diff:#}"
    );
    assert_eq!(diff["upgraded"].as_array().unwrap().len(), 2, "{diff:#}");
    let out = server.cli_ok(None, &["admin", "repo", "diff", "--dist", "el9", "5", "6"]);
    assert!(
        out.contains("removed") && out.contains("fts-server-2.0-1.noarch") && out.contains("downgraded"),
        "{out}"
    );

    // Roll back to revision 3 (both elements at 1.0): exactly that package set again.
    server.cli_ok(
        None,
        &[
            "admin",
            "repo",
            "rollback",
            "--dist",
            "el9",
            "--to",
            "3",
            "--reason",
            "back to the known good set",
        ],
    );
    let diff = server.get_json("/api/v1/repos/el9/production/diff?from=3&to=7");
    assert!(
        diff["added"].as_array().unwrap().is_empty() && diff["removed"].as_array().unwrap().is_empty(),
        "{diff:#}"
    );
    assert_eq!(
        server.get_json(&format!("/api/v1/releases/{dm2}"))["state"],
        "withdrawn"
    );
    assert_eq!(server.get_json(&format!("/api/v1/releases/{dm1}"))["state"], "promoted");
    let audit = server.cli_ok(None, &["admin", "audit"]);
    assert!(
        audit.contains("repo.rollback") && audit.contains("release.withdrawn"),
        "{audit}"
    );
}

fn chrono_year() -> String {
    let out = Command::new("date").arg("-u").arg("+%Y").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_critical_fix_is_fast_tracked() {
    let server = TestServer::start_with_config("fast_track_sla = \"2s\"\n");
    let team = server.team_with_element("fts-team", "fts");
    let (site, _) = server.add_site("CERN-PROD", None);
    server.add_rollout("fts", "CERN-PROD", "1h");
    let work = tempfile::tempdir().unwrap();
    let v1 = server.submit(
        &team,
        "fts",
        "1.0.0",
        &build_rpms(work.path(), &[SpecPackage::new("fts-server", "1.0", "1")]),
    );
    force(&server, v1);
    let p: Value = serde_json::from_str(&server.cli_ok(
        Some(&site),
        &["site", "problem", &v1.to_string(), "data loss", "--json"],
    ))
    .unwrap();
    let pid = p["id"].as_i64().unwrap().to_string();
    server.cli_ok(None, &["admin", "problem", "triage", &pid, "--criticality", "critical"]);

    let rpms = build_rpms(work.path(), &[SpecPackage::new("fts-server", "1.1", "1")]);
    let f = rpms[0].display().to_string();
    let out = server.cli_ok(
        Some(&team),
        &[
            "release",
            "submit",
            "--dist",
            "el9",
            "--element",
            "fts",
            "--version",
            "1.1.0",
            "--fixes",
            &pid,
            "--json",
            &f,
        ],
    );
    let v2 = serde_json::from_str::<Value>(&out).unwrap()["id"].as_i64().unwrap();
    let shown = server.cli_ok(None, &["admin", "release", "announce", &v2.to_string()]);
    assert!(shown.contains("fast track"), "{shown}");
    let gate = server.get_json(&format!("/api/v1/releases/{v2}"));
    assert_eq!(gate["gate"]["fast_track"], true);
    assert!(
        gate["gate"]["fast_track_reason"]
            .as_str()
            .unwrap()
            .contains(&format!("critical problem {pid}")),
        "{gate:#}"
    );
    // The site runs the fix at once (evidence); a 1 h SLA, but it is promoted after the 2 s
    // fast track.
    server.report_deployment(&site, "wn1", &["fts-server-1.1-1.noarch"]);
    server.wait_for_state(v2, "promoted", Duration::from_secs(15));
    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "fts-server"]);
    let info = host.dnf_ok(&["updateinfo", "info", "--all"]);
    assert!(
        info.contains("Critical") && info.contains("data loss"),
        "severity from the fixed problem:\n{info}"
    );

    // The promotion closed the problem it fixes, with a reference to the release, on record.
    let problems = server.get_json("/api/v1/admin/problems");
    let p = problems
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"].as_i64().map(|i| i.to_string()).as_deref() == Some(pid.as_str()))
        .unwrap_or_else(|| panic!("{problems:#}"));
    assert_eq!(p["open"], false, "{p:#}");
    assert!(
        p["closed_reason"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("release {v2}")),
        "{p:#}"
    );
    let audit = server.cli_ok(None, &["admin", "audit"]);
    assert!(
        audit
            .lines()
            .any(|l| l.contains("problem.close") && l.contains(&format!("problem:{pid}"))),
        "{audit}"
    );
    let open = server.cli_ok(None, &["admin", "problem", "list", "--open"]);
    assert!(!open.contains("data loss"), "{open}");
    let (_, dashboard) = ureq_get(&format!("{}/", server.url)).unwrap();
    let dashboard = String::from_utf8(dashboard).unwrap();
    assert!(dashboard.contains("No open problem."), "{dashboard}");
}

#[test]
fn a_signed_repository_is_verified_by_dnf() {
    require_tool("gpg");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("gnupg");
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
        "stagerepo test <repo@example.org>",
        "rsa3072",
        "sign",
        "never",
    ]);
    let secret = gpg(&["--armor", "--export-secret-keys"]);
    let key = dir.path().join("signing.asc");
    std::fs::write(&key, secret).unwrap();
    // No memory cache, so the tampered file below is what gets served (the cache would keep
    // serving the published, signed copy).
    let server = TestServer::start_with_config(&format!("signing_key = \"{}\"\nfile_cache_mb = 0\n", key.display()));
    let team = server.team_with_element("t", "sig");
    let work = tempfile::tempdir().unwrap();
    let id = server.submit(
        &team,
        "sig",
        "1.0.0",
        &build_rpms(work.path(), &[SpecPackage::new("sr-signed", "1.0", "1")]),
    );
    force(&server, id);

    let (_, repo) = ureq_get(&format!("{}/repo/el9/production.repo", server.url)).unwrap();
    let repo = String::from_utf8(repo).unwrap();
    assert!(
        repo.contains("repo_gpgcheck=1") && repo.contains("gpgkey=") && repo.contains("RPM-GPG-KEY-stagerepo"),
        "{repo}"
    );
    let (s, k) = ureq_get(&format!("{}/repo/el9/RPM-GPG-KEY-stagerepo", server.url)).unwrap();
    assert_eq!(s, 200);
    assert!(String::from_utf8(k).unwrap().contains("BEGIN PGP PUBLIC KEY BLOCK"));
    let (s, _) = ureq_get(&format!("{}/repo/el9/production/repodata/repomd.xml.asc", server.url)).unwrap();
    assert_eq!(s, 200);

    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "sr-signed"]);
    assert_eq!(host.installed("sr-signed").as_deref(), Some("sr-signed-1.0-1.noarch"));

    // Tamper with repomd.xml: dnf must refuse the repository.
    // Every copy: the server serves repomd.xml from its generation's `repomd-<rev>.xml`.
    let repodata = server.data_dir().join("repos/el9/production/repodata");
    for e in std::fs::read_dir(&repodata).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("repomd") && name.ends_with(".xml") {
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.replace("<revision>", "<revision>1")).unwrap();
        }
    }
    let fresh = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    let (ok, out) = fresh.dnf(&["install", "sr-signed"]);
    assert!(!ok, "dnf accepted an altered repomd.xml:\n{out}");
    assert!(
        out.to_lowercase().contains("gpg") || out.to_lowercase().contains("signature"),
        "{out}"
    );
}
