//! Dependency closure guarding production, end to end with base repositories made by
//! createrepo_c: a breaking promotion or withdrawal is refused and production is unchanged.

mod support;

use std::process::Command;

use serde_json::Value;
use support::*;

fn base_repo(dir: &std::path::Path) -> std::path::PathBuf {
    require_tool("createrepo_c");
    let repo = dir.join("base");
    std::fs::create_dir_all(&repo).unwrap();
    let mut os = SpecPackage::new("os-lib", "1.0", "1");
    os.provides.push("libos = 1.0".into());
    build_rpms(&repo, &[os]);
    let status = Command::new("createrepo_c")
        .arg("--no-database")
        .arg("-q")
        .arg(&repo)
        .status()
        .unwrap();
    assert!(status.success());
    repo
}

fn force(server: &TestServer, id: i64) -> (bool, String) {
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

#[test]
fn breaking_promotions_and_withdrawals_are_refused() {
    let server = TestServer::start();
    let team = server.team_with_element("t", "app");
    server.add_element("plugin", "t");
    let work = tempfile::tempdir().unwrap();
    let base = base_repo(work.path());
    let out = server.cli_ok(
        None,
        &["admin", "base", "add", "--dist", "el9", "os", base.to_str().unwrap()],
    );
    assert!(out.contains("1 packages"), "{out}");
    assert!(server
        .cli_ok(None, &["admin", "base", "list", "--dist", "el9"])
        .contains("os"));

    // app 1.0 needs the base's libos: promotable.
    let app1 = server.submit(
        &team,
        "app",
        "1.0.0",
        &build_rpms(
            work.path(),
            &[SpecPackage::new("app", "1.0", "1").requires("libos >= 1.0")],
        ),
    );
    let (ok, text) = force(&server, app1);
    assert!(ok, "{text}");
    // plugin needs app >= 1.0 from production.
    let plugin = server.submit(
        &team,
        "plugin",
        "1.0.0",
        &build_rpms(
            work.path(),
            &[SpecPackage::new("plugin", "1.0", "1").requires("app >= 1.0")],
        ),
    );
    let (ok, text) = force(&server, plugin);
    assert!(ok, "{text}");
    let out = server.cli_ok(None, &["admin", "check", "--dist", "el9"]);
    assert!(out.contains("is consistent"), "{out}");

    let repodata = server.data_dir().join("repos/el9/production/repodata");
    let before = snapshot_tree(&repodata);

    // app 2.0 needs a newer libos than the base has: refused, naming what is there instead.
    let app2 = server.submit(
        &team,
        "app",
        "2.0.0",
        &build_rpms(
            work.path(),
            &[SpecPackage::new("app", "2.0", "1").requires("libos >= 2.0")],
        ),
    );
    let (ok, text) = force(&server, app2);
    assert!(!ok, "{text}");
    assert!(
        text.contains("409") && text.contains("app-2.0-1.noarch") && text.contains("libos >= 2.0"),
        "{text}"
    );
    assert!(
        text.contains("os-lib-1.0-1.noarch"),
        "names what is present instead: {text}"
    );
    let (ok, out, _) = server.cli(
        None,
        &[
            "admin",
            "check",
            "--dist",
            "el9",
            "--with-release",
            &app2.to_string(),
            "--json",
        ],
    );
    assert!(!ok);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    assert!(report["failures"].to_string().contains("libos >= 2.0"), "{report:#}");
    // An unmet file requirement is refused too.
    let app3 = server.submit(
        &team,
        "app",
        "3.0.0",
        &build_rpms(
            work.path(),
            &[SpecPackage::new("app", "3.0", "1").requires("/usr/share/nowhere/file")],
        ),
    );
    let (ok, text) = force(&server, app3);
    assert!(!ok && text.contains("/usr/share/nowhere/file"), "{text}");
    assert!(
        before == snapshot_tree(&repodata),
        "production repodata byte for byte unchanged"
    );

    // Withdrawing app 1.0 would leave plugin without `app >= 1.0`: refused.
    let (ok, out, err) = server.cli(
        None,
        &["admin", "release", "withdraw", &app1.to_string(), "--reason", "try"],
    );
    assert!(
        !ok && err.contains("plugin-1.0-1.noarch") && err.contains("app >= 1.0"),
        "{out}{err}"
    );
    assert!(
        before == snapshot_tree(&repodata),
        "production unchanged after the refused withdrawal"
    );
    assert_eq!(
        server.get_json(&format!("/api/v1/releases/{app1}"))["state"],
        "promoted"
    );

    // A dnf client agrees: production installs.
    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    let base_repo_file = work.path().join("base.repo");
    std::fs::write(
        &base_repo_file,
        format!("[base]\nname=base\nbaseurl=file://{}\ngpgcheck=0\n", base.display()),
    )
    .unwrap();
    std::fs::copy(&base_repo_file, host.dir.path().join("repos/base.repo")).unwrap();
    host.dnf_ok(&["install", "plugin"]);
    assert_eq!(host.installed("app").as_deref(), Some("app-1.0-1.noarch"));
}

#[test]
fn conflicts_and_obsoletes_across_elements_are_refused() {
    let server = TestServer::start();
    let team = server.team_with_element("t", "legacy");
    server.add_element("newtool", "t");
    server.add_element("replacer", "t");
    let work = tempfile::tempdir().unwrap();
    let legacy = server.submit(
        &team,
        "legacy",
        "1.0.0",
        &build_rpms(work.path(), &[SpecPackage::new("legacy-cli", "1.0", "1")]),
    );
    let (ok, text) = force(&server, legacy);
    assert!(ok, "{text}");
    let before = snapshot_tree(&server.data_dir().join("repos/el9/production/repodata"));

    let clash = build_rpms(
        work.path(),
        &[SpecPackage::new("newtool", "1.0", "1").conflicts("legacy-cli < 2")],
    );
    let id = server.submit(&team, "newtool", "1.0.0", &clash);
    let (ok, text) = force(&server, id);
    assert!(
        !ok && text.contains("conflicts with") && text.contains("legacy-cli-1.0-1.noarch"),
        "{text}"
    );
    assert!(text.contains("element legacy"), "names the other element: {text}");

    let eater = build_rpms(
        work.path(),
        &[SpecPackage::new("replacer", "1.0", "1").obsoletes("legacy-cli < 2")],
    );
    let id = server.submit(&team, "replacer", "1.0.0", &eater);
    let (ok, text) = force(&server, id);
    assert!(
        !ok && text.contains("obsoletes") && text.contains("legacy-cli"),
        "{text}"
    );
    // The gate shows the same failure for a release in rollout.
    server.add_site("S", None);
    server.add_rollout("replacer", "S", "1h");
    // A release that could never be promoted is only announced when forced with a reason.
    let (ok, _, err) = server.cli(None, &["admin", "release", "announce", &id.to_string()]);
    assert!(!ok && err.contains("409") && err.contains("obsoletes"), "{err}");
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "announce",
            &id.to_string(),
            "--force",
            "--reason",
            "show the gate",
        ],
    );
    let gate = server.get_json(&format!("/api/v1/releases/{id}"));
    assert_eq!(gate_condition(&gate, "consistency")["passed"], false, "{gate:#}");
    assert!(
        gate_condition(&gate, "consistency")["detail"]
            .as_str()
            .unwrap()
            .contains("obsoletes"),
        "{gate:#}"
    );
    assert!(before == snapshot_tree(&server.data_dir().join("repos/el9/production/repodata")));
}

#[test]
fn auto_announce_starts_the_rollout_at_submission() {
    let server = TestServer::start_with_config("auto_announce = true\nmin_deployed_sites = 0\n");
    let team = server.team_with_element("t", "auto");
    let (_site, _) = server.add_site("S", None);
    server.add_rollout("auto", "S", "2s");
    let work = tempfile::tempdir().unwrap();
    let id = server.submit(
        &team,
        "auto",
        "1.0.0",
        &build_rpms(work.path(), &[SpecPackage::new("sr-auto", "1.0", "1")]),
    );
    let v = server.get_json(&format!("/api/v1/releases/{id}"));
    assert_eq!(v["state"], "rollout", "{v:#}");
    assert_eq!(v["events"][1]["actor"], "stagerepo");
    server.wait_for_state(id, "promoted", std::time::Duration::from_secs(10));
}

/// The submission's check of beta plus production follows the revisions between two checks
/// (their recorded changes), also when a revision took packages out: a provider rejected
/// from beta leaves the next release of its user warned, and one submitted again clears it.
#[test]
fn beta_warnings_follow_rejections_and_resubmissions() {
    let server = TestServer::start();
    let team = server.team_with_element("t", "flib");
    server.add_element("fapp", "t");
    let work = tempfile::tempdir().unwrap();
    let mut lib = SpecPackage::new("flib", "1.0", "1");
    lib.provides.push("libflib = 1".into());
    let lib_rpms = build_rpms(work.path(), &[lib]);
    let app = |version: &str| {
        let mut p = SpecPackage::new("fapp", version, "1");
        p.requires.push("libflib = 1".into());
        build_rpms(work.path(), &[p])
    };
    // The warnings of beta plus production (production alone lacks the provider throughout).
    let warned = |id: i64| -> String {
        let detail = server.get_json(&format!("/api/v1/releases/{id}"));
        let both: Vec<&str> = detail["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .filter(|w| w.starts_with("with beta and production both enabled: "))
            .collect();
        both.join("\n")
    };

    let lib_id = server.submit(&team, "flib", "1.0.0", &lib_rpms);
    let first = server.submit(&team, "fapp", "1.0.0", &app("1.0"));
    assert!(!warned(first).contains("libflib"), "{}", warned(first));
    server.cli_ok(
        None,
        &["admin", "release", "reject", &lib_id.to_string(), "--reason", "broken"],
    );
    let second = server.submit(&team, "fapp", "1.1.0", &app("1.1"));
    assert!(warned(second).contains("libflib = 1"), "{}", warned(second));
    // The provider again, under a new release: the next user is clean again.
    let mut lib2 = SpecPackage::new("flib", "1.0", "2");
    lib2.provides.push("libflib = 1".into());
    server.submit(&team, "flib", "1.0.1", &build_rpms(work.path(), &[lib2]));
    let third = server.submit(&team, "fapp", "1.2.0", &app("1.2"));
    assert!(!warned(third).contains("libflib"), "{}", warned(third));
}
