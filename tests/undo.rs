//! Roll-back and withdrawal say what they undo: the releases and advisories (with type and
//! severity) that leave production are listed before acting (dry run) and in the output; a
//! roll-back that removes a security advisory needs --force; the audit log and the
//! repository history name the withdrawal and the roll-back with their reasons.

mod support;

use serde_json::Value;
use support::*;

fn submit_typed(
    server: &TestServer,
    team: &str,
    version: &str,
    kind: &str,
    severity: Option<&str>,
    work: &std::path::Path,
) -> i64 {
    let dir = work.join(version);
    std::fs::create_dir_all(&dir).unwrap();
    let rpms = build_rpms(&dir, &[SpecPackage::new("sr-undo", version, "1")]);
    let mut args = vec![
        "release",
        "submit",
        "--dist",
        "el9",
        "--element",
        "undo",
        "--version",
        version,
        "--type",
        kind,
        "--json",
    ];
    if let Some(s) = severity {
        args.extend(["--severity", s]);
    }
    let files: Vec<String> = rpms.iter().map(|p| p.display().to_string()).collect();
    args.extend(files.iter().map(String::as_str));
    let v: Value = serde_json::from_str(&server.cli_ok(Some(team), &args)).unwrap();
    v["id"].as_i64().unwrap()
}

fn promote(server: &TestServer, id: i64) {
    server.cli_ok(
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
}

fn production_revision(server: &TestServer) -> i64 {
    server.get_json("/api/v1/repos/el9/production/revisions")[0]["number"]
        .as_i64()
        .unwrap()
}

#[test]
fn rollback_and_withdrawal_list_what_leaves_and_guard_security_fixes() {
    let server = TestServer::start();
    let team = server.team_with_element("t", "undo");
    let work = tempfile::tempdir().unwrap();
    let r1 = submit_typed(&server, &team, "1.0.0", "enhancement", None, work.path());
    promote(&server, r1);
    let rev1 = production_revision(&server);
    let r2 = submit_typed(&server, &team, "1.0.1", "security", Some("critical"), work.path());
    promote(&server, r2);
    let r3 = submit_typed(&server, &team, "1.0.2", "bugfix", Some("low"), work.path());
    promote(&server, r3);
    let rev3 = production_revision(&server);

    // Dry run: lists both releases and their advisories, changes nothing.
    let before = snapshot_tree(&server.data_dir().join("repos/el9/production/repodata"));
    let out = server.cli_ok(
        None,
        &[
            "admin",
            "repo",
            "rollback",
            "--dist",
            "el9",
            "--to",
            &rev1.to_string(),
            "--reason",
            "regression",
            "--dry-run",
        ],
    );
    assert!(
        out.contains(&format!("would leave production: release {r2} (undo 1.0.1)")),
        "{out}"
    );
    assert!(
        out.contains(&format!("would leave production: release {r3} (undo 1.0.2)")),
        "{out}"
    );
    assert!(
        out.contains("(security, Critical)") && out.contains("(bugfix, Low)"),
        "{out}"
    );
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(production_revision(&server), rev3);
    assert!(before == snapshot_tree(&server.data_dir().join("repos/el9/production/repodata")));

    // Without --force: refused (409) naming the security advisory; the listing came first.
    let (ok, stdout, stderr) = server.cli(
        None,
        &[
            "admin",
            "repo",
            "rollback",
            "--dist",
            "el9",
            "--to",
            &rev1.to_string(),
            "--reason",
            "regression",
        ],
    );
    assert!(!ok, "{stdout}{stderr}");
    assert!(stdout.contains("leaving production: advisory"), "{stdout}");
    assert!(
        stderr.contains("409") && stderr.contains("security") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(production_revision(&server), rev3);
    // The API says the same with a JSON list.
    let (status, body) = http(
        reqwest::Method::POST,
        &format!("{}/api/v1/admin/repos/el9/rollback", server.url),
        Some(&server.admin_token),
        Some(format!(r#"{{"to": {rev1}, "reason": "x"}}"#).into_bytes()),
        &[("content-type", "application/json")],
    )
    .unwrap();
    assert_eq!(status, 409);
    let err = json(&body);
    assert!(
        err["failures"][0].as_str().unwrap().contains("security, Critical"),
        "{err:#}"
    );

    // Withdrawal of the bugfix release: listed first and in the output.
    let out = server.cli_ok(
        None,
        &["admin", "release", "withdraw", &r3.to_string(), "--reason", "bad build"],
    );
    assert!(
        out.contains(&format!("leaving production: release {r3} (undo 1.0.2)")),
        "{out}"
    );
    assert!(
        out.contains(&format!("left production: release {r3}")) && out.contains("(bugfix, Low)"),
        "{out}"
    );
    assert!(
        !out.contains("security"),
        "only the withdrawn release's advisory leaves: {out}"
    );

    // The roll-back with --force.
    let out = server.cli_ok(
        None,
        &[
            "admin",
            "repo",
            "rollback",
            "--dist",
            "el9",
            "--to",
            &rev1.to_string(),
            "--reason",
            "regression",
            "--force",
        ],
    );
    assert!(
        out.contains(&format!("left production: release {r2} (undo 1.0.1)")) && out.contains("(security, Critical)"),
        "{out}"
    );

    // History and audit name what happened, with the reason.
    let history = server.cli_ok(None, &["admin", "repo", "history", "--dist", "el9"]);
    assert!(
        history.contains(&format!("withdrawal of release {r3}: bad build")),
        "{history}"
    );
    assert!(
        history.contains(&format!("roll-back to revision {rev1}: regression")),
        "{history}"
    );
    let audit = server.cli_ok(None, &["admin", "audit"]);
    assert!(
        audit.contains(&format!("withdrawal of release {r3}: bad build")),
        "{audit}"
    );
    assert!(
        audit.contains(&format!("roll-back to revision {rev1}: regression")),
        "{audit}"
    );
    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "sr-undo"]);
    assert_eq!(host.installed("sr-undo").as_deref(), Some("sr-undo-1.0.0-1.noarch"));
}
