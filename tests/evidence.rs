//! Rollout on evidence, end to end: real dnf installroots at two rollout sites, one reporting
//! with `stagerepo site inventory`, the other the way pakiti-client reports; a release nobody
//! deployed is not promoted by silence.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use support::*;

/// The package list of an installroot exactly as pakiti-client's `find_packages` makes it
/// (CESNET/pakiti-client, protocol 5): `rpm -qa --queryformat "%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\t%{ARCH}\n"`,
/// `\t(none):` turned into `\t0:`, gpg-pubkey entries dropped, lines sorted.
fn pakiti_packages(root: &std::path::Path) -> String {
    let out = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args([
            "-qa",
            "--queryformat",
            "%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\t%{ARCH}\n",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpm -qa: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| format!("{}\n", l.replace("\t(none):", "\t0:")))
        .filter(|l| !l.starts_with("gpg-pubkey\t"))
        .collect();
    lines.sort();
    lines.concat()
}

/// A report as pakiti-client's `format_report` writes it: `#`, the data keys sorted, each
/// `key: value`, `#`, the package lines, `#`.
fn pakiti_report(site: &str, host: &str, root: &std::path::Path) -> String {
    let data = [
        ("arch", "x86_64".to_string()),
        ("host", host.to_string()),
        ("kernel", "5.14.0-427.el9.x86_64".to_string()),
        ("packager", "rpm".to_string()),
        ("site", site.to_string()),
        ("system", "AlmaLinux release 9.4 (Seafoam Ocelot)".to_string()),
        ("tag", "rollout".to_string()),
        ("version", "1".to_string()),
    ];
    let mut report = "#\n".to_string();
    for (k, v) in data {
        report.push_str(&format!("{k}: {v}\n"));
    }
    report.push_str("#\n");
    report.push_str(&pakiti_packages(root));
    report.push_str("#\n");
    report
}

/// Sends a report as pakiti-client's `send_report` does: LWP's `post($url, Content => $report)`
/// (a form content type, the raw report as body) to the configured URL with `?protocol=5`
/// appended.
fn pakiti_send(server: &TestServer, site_token: &str, report: &str) -> (u16, String) {
    let url = format!("{}/api/v1/pakiti?token={site_token}?protocol=5", server.url);
    let (status, body) = http(
        Method::POST,
        &url,
        None,
        Some(report.as_bytes().to_vec()),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    )
    .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn rollout(server: &TestServer, site: &str, sla: &str) -> String {
    server.cli_ok(
        None,
        &[
            "admin",
            "rollout",
            "add",
            "--element",
            "fts",
            "--site",
            site,
            "--sla",
            sla,
        ],
    )
}

/// Runs the install command `site pending` prints (`dnf --enablerepo=... upgrade ...`) in a root.
fn run_pending_command(host: &DnfRoot, command: &str) -> String {
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(args[0], "dnf", "{command}");
    host.dnf_ok(&args[1..])
}

#[test]
fn a_release_nobody_deployed_is_not_promoted_by_silence() {
    require_tool("rpm");
    let server = TestServer::start_with_config("min_deployed_sites = 2\n");
    let team = server.team_with_element("fts-team", "fts");
    let (cern, _) = server.add_site("CERN-PROD", None);
    let (ral, _) = server.add_site("RAL", None);
    rollout(&server, "CERN-PROD", "40s");
    rollout(&server, "RAL", "40s");
    let work = tempfile::tempdir().unwrap();
    let build = |v: &str| {
        let dir = work.path().join(v);
        std::fs::create_dir_all(&dir).unwrap();
        build_rpms(
            &dir,
            &[
                SpecPackage::new("fts-libs", v, "1"),
                SpecPackage::new("fts-server", v, "1").requires(&format!("fts-libs = {v}-1")),
            ],
        )
    };

    // Version 1 is in production and installed on one host at each site.
    let v1 = server.submit(&team, "fts", "1.0.0", &build("1.0"));
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &v1.to_string(),
            "--force",
            "--reason",
            "initial version",
        ],
    );
    let repos = [
        format!("{}/repo/el9/production.repo", server.url),
        format!("{}/repo/el9/beta.repo", server.url),
    ];
    let wn_cern = DnfRoot::new(&repos);
    let wn_ral = DnfRoot::new(&repos);
    for wn in [&wn_cern, &wn_ral] {
        wn.dnf_ok(&["install", "fts-server"]);
        assert_eq!(wn.installed("fts-server").as_deref(), Some("fts-server-1.0-1.noarch"));
    }

    // Version 2 is announced; both sites install it from beta with the command `site pending`
    // gives them, and report what their host runs: CERN with `site inventory`, RAL as
    // pakiti-client does.
    let v2 = server.submit(&team, "fts", "2.0.0", &build("2.0"));
    server.cli_ok(None, &["admin", "release", "announce", &v2.to_string()]);
    let pending: Value = serde_json::from_str(&server.cli_ok(Some(&cern), &["site", "pending", "--json"]))
        .unwrap_or_else(|e| panic!("site pending --json: {e}"));
    let entry = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["release"] == v2)
        .unwrap_or_else(|| panic!("release {v2} not pending for CERN: {pending:#}"));
    assert!(entry["seconds_left"].as_i64().unwrap() > 0, "{entry:#}");
    let install = entry["install"].as_str().unwrap().to_string();
    assert!(install.contains("--enablerepo=stagerepo-el9-beta"), "{install}");
    let text = server.cli_ok(Some(&ral), &["site", "pending"]);
    assert!(text.contains(&install), "the table shows the same command:\n{text}");

    for wn in [&wn_cern, &wn_ral] {
        run_pending_command(wn, &install);
        assert_eq!(wn.installed("fts-server").as_deref(), Some("fts-server-2.0-1.noarch"));
    }
    let root = wn_cern.dir.path().join("root");
    let out = server.cli_ok(
        Some(&cern),
        &[
            "site",
            "inventory",
            "--root",
            root.to_str().unwrap(),
            "--host",
            "wn1.cern.ch",
        ],
    );
    assert!(out.contains("2.0.0") && out.contains(&format!("release {v2}")), "{out}");
    let report = pakiti_report("RAL", "wn7.ral.ac.uk", &wn_ral.dir.path().join("root"));
    assert!(report.contains("fts-server\t0:2.0-1\tnoarch\n"), "{report}");
    let (status, answer) = pakiti_send(&server, &ral, &report);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.lines().any(|l| l == "OK"), "pakiti-client expects OK: {answer}");

    // Both sites show the release deployed; after the deadlines the timer promotes it.
    let detail = server.get_json(&format!("/api/v1/releases/{v2}"));
    let sites = detail["sites"].as_array().unwrap_or_else(|| panic!("{detail:#}"));
    for s in sites {
        assert!(s["deployed"].is_object() && s["evidence"] == true, "deployed: {s:#}");
    }
    server.wait_for_state(v2, "promoted", Duration::from_secs(60));
    let prod_only = DnfRoot::new(&repos[..1]);
    prod_only.dnf_ok(&["install", "fts-server"]);
    assert_eq!(
        prod_only.installed("fts-server").as_deref(),
        Some("fts-server-2.0-1.noarch")
    );

    // Version 3 with a short SLA: nobody installs it. The deadlines pass, and it stays in
    // rollout, waiting for deployment evidence.
    for site in ["CERN-PROD", "RAL"] {
        let out = rollout(&server, site, "2s");
        assert!(out.contains("40s") || out.to_lowercase().contains("sla"), "{out}");
    }
    let v3 = server.submit(&team, "fts", "3.0.0", &build("3.0"));
    server.cli_ok(None, &["admin", "release", "announce", &v3.to_string()]);
    let start = Instant::now();
    let detail = loop {
        let d = server.get_json(&format!("/api/v1/releases/{v3}"));
        let c = gate_condition(&d, "deployment evidence");
        if c["detail"]
            .as_str()
            .unwrap_or("")
            .contains("waiting for deployment evidence")
        {
            break d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no evidence condition: {d:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(detail["state"], "rollout", "{detail:#}");
    assert_eq!(detail["gate"]["open"], false, "{detail:#}");
    // Another timer round does not promote it either.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(server.get_json(&format!("/api/v1/releases/{v3}"))["state"], "rollout");

    let show = server.cli_ok(None, &["admin", "release", "show", &v3.to_string()]);
    assert!(show.contains("expired"), "{show}");
    let sla = server.get_json("/api/v1/sla");
    let rows = sla
        .as_array()
        .or_else(|| sla["sites"].as_array())
        .unwrap_or_else(|| panic!("{sla:#}"));
    for site in ["CERN-PROD", "RAL"] {
        let row = rows
            .iter()
            .find(|r| r["site"] == site)
            .unwrap_or_else(|| panic!("{sla:#}"));
        assert_eq!(row["expired_without_evidence"], 1, "{row:#}");
        assert_eq!(row["deployed_on_time"], 1, "{row:#}");
    }
    let table = server.cli_ok(None, &["admin", "sla"]);
    assert!(table.contains("CERN-PROD") && table.contains("RAL"), "{table}");

    // The hosts still run version 2, and production still serves it.
    let (ok, text) = wn_cern.dnf(&["check-update", "--disablerepo=stagerepo-el9-beta"]);
    assert!(ok, "nothing new in production:\n{text}");

    // The admin can still push it through, with a reason on record.
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &v3.to_string(),
            "--force",
            "--reason",
            "tested at CERN by hand",
        ],
    );
    assert_eq!(server.get_json(&format!("/api/v1/releases/{v3}"))["state"], "promoted");
}
