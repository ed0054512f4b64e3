//! The release manager's upkeep: removing sites, teams and elements (refused while something
//! depends on them), rotating a site token, re-adding a rollout pair, the server's version.

mod support;

use support::*;

#[test]
fn removals_are_refused_naming_what_depends_and_succeed_once_nothing_does() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let team = server.team_with_element("fts-team", "fts");
    server.add_site("CERN-PROD", None);
    server.add_rollout("fts", "CERN-PROD", "1d");

    // Re-adding the pair says the SLA changed.
    let out = server.add_rollout("fts", "CERN-PROD", "3d");
    assert!(
        out.contains("SLA changed 1day -> 3days") || out.contains("SLA changed 1d -> 3d"),
        "{out}"
    );

    // A site with a rollout assignment: 409 naming it.
    let (ok, _, err) = server.cli(None, &["admin", "site", "remove", "CERN-PROD"]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("409") && err.contains("1 rollout assignments") && err.contains("admin rollout remove"),
        "{err}"
    );
    let (ok, _, err) = server.cli(None, &["admin", "element", "remove", "fts"]);
    assert!(
        !ok && err.contains("409") && err.contains("rollout assignments"),
        "{err}"
    );
    let (ok, _, err) = server.cli(None, &["admin", "team", "remove", "fts-team"]);
    assert!(!ok && err.contains("409") && err.contains("1 elements"), "{err}");

    // An element with a release stays.
    let rpms = build_rpms(work.path(), &[SpecPackage::new("fts-server", "1.0", "1")]);
    server.submit(&team, "fts", "1.0.0", &rpms);
    server.cli_ok(
        None,
        &["admin", "rollout", "remove", "--element", "fts", "--site", "CERN-PROD"],
    );
    let (ok, _, err) = server.cli(None, &["admin", "element", "remove", "fts"]);
    assert!(!ok && err.contains("1 releases"), "{err}");

    // Nothing refers to the site any more: it goes, and its token stops working.
    server.cli_ok(None, &["admin", "site", "remove", "CERN-PROD"]);
    let sites = server.get_json("/api/v1/admin/sites");
    assert_eq!(sites.as_array().unwrap().len(), 0, "{sites}");
    let (ok, _, err) = server.cli(None, &["admin", "site", "remove", "CERN-PROD"]);
    assert!(!ok && err.contains("404"), "{err}");

    // A team and element without history go.
    server.team_with_element("spare-team", "spare");
    server.cli_ok(None, &["admin", "element", "remove", "spare"]);
    server.cli_ok(None, &["admin", "team", "remove", "spare-team"]);
    let teams = server.get_json("/api/v1/admin/teams");
    assert!(
        teams.as_array().unwrap().iter().all(|t| t["name"] != "spare-team"),
        "{teams}"
    );
    let audit = server.get_json("/api/v1/audit");
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    for a in ["site.remove", "element.remove", "team.remove"] {
        assert!(actions.contains(&a), "{actions:?}");
    }
}

#[test]
fn a_rotated_site_token_replaces_the_old_one() {
    let server = TestServer::start();
    let (old, _) = server.add_site("CERN-PROD", None);
    let out = server.cli_ok(None, &["admin", "site", "token-rotate", "CERN-PROD", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let new = v["token"].as_str().unwrap();
    assert_ne!(new, old);
    let (ok, _, err) = server.cli(Some(&old), &["site", "problem", "1", "x"]);
    assert!(!ok && err.contains("401"), "old token still accepted: {err}");
    let (_, _, err) = server.cli(Some(new), &["site", "problem", "999", "x"]);
    assert!(err.contains("404"), "new token refused: {err}");
}

#[test]
fn version_asks_the_server_when_one_answers() {
    let server = TestServer::start();
    let (ok, out, _) = server.cli(None, &["--version"]);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("stagerepo {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    let api = server.get_json("/api/v1/version");
    assert_eq!(
        lines.get(1).copied(),
        Some(
            format!(
                "server {}: stagerepo {} (commit {})",
                server.url,
                api["version"].as_str().unwrap(),
                api["commit"].as_str().unwrap()
            )
            .as_str()
        ),
        "{out}"
    );
    // Unreachable: the local version only, quickly and quietly.
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stagerepo"))
        .args(["--server", "http://127.0.0.1:9", "--version"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// The CLI's one-line answers say what happened when a value is empty: a cleared e-mail
/// address, a consistency check without base repositories.
#[test]
fn cli_answers_name_empty_values() {
    let server = TestServer::start();
    server.add_site("RAL-LCG2", None);
    let out = server.cli_ok(
        None,
        &["admin", "site", "set", "RAL-LCG2", "--email", "ops@ral.example"],
    );
    assert_eq!(out.trim(), "site RAL-LCG2: e-mail ops@ral.example");
    let out = server.cli_ok(None, &["admin", "site", "set", "RAL-LCG2", "--email", ""]);
    assert_eq!(out.trim(), "site RAL-LCG2: e-mail cleared");
    let out = server.cli_ok(None, &["admin", "check", "--dist", "el9"]);
    assert_eq!(out.trim(), "el9: production is consistent (0 packages, bases: none)");
}

/// An admin command that found no token at all says where it looked, so that running it
/// outside the server's directory is not a bare "missing or invalid token".
#[test]
fn an_admin_command_without_a_token_says_where_it_looked() {
    let server = TestServer::start();
    let (ok, _, err) = server.cli(None, &["admin", "verify", "--data-dir", "/nonexistent/stagerepo"]);
    assert!(!ok);
    assert!(
        err.contains("401") && err.contains("no token was sent") && err.contains("/nonexistent/stagerepo/admin.token"),
        "{err}"
    );
    // A token that was sent and refused is not explained away.
    let (ok, _, err) = server.cli(Some("srt_wrong"), &["admin", "verify"]);
    assert!(
        !ok && err.contains("401") && !err.contains("no token was sent"),
        "{err}"
    );
}
