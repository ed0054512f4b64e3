//! Who deploys what, end to end: the real binary, rpmbuild, dnf in installroots and `rpm -qa`.

mod support;
mod world;

use serde_json::json;
use support::*;
use world::World;

#[test]
fn site_inventory_from_a_dnf_installroot_shows_who_runs_what() {
    let w = World::new();
    let server = &w.server;
    let (cern, _) = server.add_site("CERN-PROD", None);
    let (ral, _) = server.add_site("RAL", None);
    w.rollout("CERN-PROD", "1h");
    let v1 = server.submit(&w.team, "fts", "1.0.0", &w.rpms("1.0"));
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &v1.to_string(),
            "--force",
            "--reason",
            "first",
        ],
    );

    // A real host: dnf installs from production, `stagerepo site inventory` reads rpm's database.
    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "fts-server"]);
    let root = host.dir.path().join("root");
    let out = server.cli_ok(
        Some(&cern),
        &["site", "inventory", "--root", root.to_str().unwrap(), "--host", "h1"],
    );
    assert!(
        out.contains("h1 at CERN-PROD") && out.contains("1.0.0 (release 1, promoted)"),
        "{out}"
    );

    let inv = server.get_json("/api/v1/inventory");
    let fts = &inv["elements"][0];
    assert_eq!(fts["element"], "fts", "{inv:#}");
    assert_eq!(fts["releases"][0]["release"], v1);
    assert_eq!(fts["releases"][0]["hosts"], 1);
    assert_eq!(fts["releases"][0]["sites"], json!(["CERN-PROD"]));
    let h1 = &fts["sites"][0]["hosts"][0];
    assert_eq!(
        (h1["host"].as_str(), h1["release"].as_i64()),
        (Some("h1"), Some(v1)),
        "{inv:#}"
    );
    assert_eq!(h1["exact"], true);
    assert_eq!(
        h1["packages"],
        json!(["fts-libs-0:1.0-1.noarch", "fts-server-0:1.0-1.noarch"])
    );
    let table = server.cli_ok(None, &["admin", "inventory"]);
    assert!(
        table.contains("CERN-PROD") && table.contains("h1") && table.contains("1.0.0 (release 1, promoted)"),
        "{table}"
    );

    // The API directly, with and without epochs; unknown packages are kept but not mapped.
    let report =
        |host: &str, pkgs: &[&str]| w.post("/api/v1/deployments", &ral, json!({"host": host, "packages": pkgs}));
    let (st, v) = report(
        "r1",
        &[
            "fts-server-0:1.0-1.noarch",
            "fts-libs-1.0-1.noarch",
            "bash-0:5.1.8-9.el9.x86_64",
        ],
    );
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["packages"], 3);
    assert_eq!(v["runs"][0]["release"], v1, "{v}");
    let inv = server.get_json("/api/v1/inventory");
    assert_eq!(inv["elements"][0]["releases"][0]["hosts"], 2, "{inv:#}");
    assert_eq!(inv["elements"][0]["releases"][0]["sites"], json!(["CERN-PROD", "RAL"]));

    // Bad entries are refused, all of them named, and nothing is recorded.
    let (st, v) = report(
        "r1",
        &["ok-1.0-1.noarch", "garbage", "x-y:1-1.noarch", "no-version.noarch"],
    );
    assert_eq!(st, 400, "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.starts_with("bad entries: "), "{detail}");
    for bad in ["garbage", "x-y:1-1.noarch", "no-version.noarch"] {
        assert!(detail.contains(bad), "{bad} not named: {detail}");
    }
    assert!(!detail.contains("ok-1.0-1.noarch"), "{detail}");
    let (st, v) = report("bad host!", &[]);
    assert_eq!(st, 400, "{v}");
    let (st, v) = w.post("/api/v1/deployments", &w.team, json!({"host": "t", "packages": []}));
    assert_eq!(st, 403, "{v}");
    assert_eq!(
        server.get_json("/api/v1/deployments?host=r1").as_array().unwrap().len(),
        1
    );

    // The newest report of a host replaces the previous one; history stays.
    let (st, _) = report("r1", &["bash-0:5.1.8-9.el9.x86_64"]);
    assert_eq!(st, 201);
    let inv = server.get_json("/api/v1/inventory");
    assert_eq!(inv["elements"][0]["releases"][0]["hosts"], 1, "{inv:#}");
    let history = server.get_json("/api/v1/deployments?host=r1");
    let counts: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["packages"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [1, 3], "newest first: {history:#}");
    assert_eq!(inv["hosts_reporting"], 2);

    // Filters.
    let by_site = server.get_json("/api/v1/inventory?site=RAL");
    assert_eq!(by_site["elements"], json!([]), "r1 no longer runs fts: {by_site:#}");
    let out = server.cli_ok(
        None,
        &[
            "admin",
            "inventory",
            "--element",
            "fts",
            "--dist",
            "el9",
            "--site",
            "CERN-PROD",
        ],
    );
    assert!(out.contains("h1"), "{out}");
    let (ok, _, err) = server.cli(None, &["admin", "inventory", "--dist", "el7"]);
    assert!(!ok && err.contains("404") && err.contains("el7"), "{err}");

    // An open critical problem: the host's site must be told.
    let (st, p) = w.post(
        "/api/v1/problems",
        &cern,
        json!({"release": v1, "text": "transfers corrupt files"}),
    );
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_i64().unwrap().to_string();
    server.cli_ok(None, &["admin", "problem", "triage", &pid, "--criticality", "critical"]);
    let inv = server.get_json("/api/v1/inventory");
    let alert = &inv["elements"][0]["alerts"][0];
    assert_eq!(
        (alert["site"].as_str(), alert["host"].as_str()),
        (Some("CERN-PROD"), Some("h1")),
        "{inv:#}"
    );
    assert!(
        alert["reason"].as_str().unwrap().contains("open critical problem"),
        "{alert}"
    );
    let out = server.cli_ok(None, &["admin", "inventory"]);
    assert!(
        out.contains("sites to tell:") && out.contains("CERN-PROD host h1 runs fts 1.0.0"),
        "{out}"
    );

    // Withdrawn: still told, with the reason.
    server.cli_ok(
        None,
        &["admin", "problem", "close", &pid, "--reason", "fixed by withdrawal"],
    );
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "withdraw",
            &v1.to_string(),
            "--reason",
            "corruption",
        ],
    );
    let inv = server.get_json("/api/v1/inventory");
    assert_eq!(inv["elements"][0]["alerts"][0]["reason"], "withdrawn", "{inv:#}");
}

#[test]
fn version_names_the_commit() {
    let server = TestServer::start();
    let out = server.cli_ok(None, &["--version"]);
    let v = server.get_json("/api/v1/version");
    let commit = v["commit"].as_str().unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // The client's own version, then the server's (asked over HTTP).
    let own = format!("stagerepo {} (commit {commit})", env!("CARGO_PKG_VERSION"));
    assert_eq!(out.trim(), format!("{own}\nserver {}: {own}", server.url));
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match git {
        Ok(o) if o.status.success() => {
            assert_eq!(
                commit,
                String::from_utf8_lossy(&o.stdout).trim(),
                "built from this checkout"
            )
        }
        _ => assert_eq!(commit, "unknown"),
    }
}
