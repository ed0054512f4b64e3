//! Advisories from submission: the id in `release submit`'s output and the API, beta's
//! updateinfo (real dnf upgrades by advisory from beta), references with their dnf types.

mod support;

use serde_json::Value;
use support::*;

#[test]
fn beta_carries_the_advisory_with_its_references_and_dnf_upgrades_by_it() {
    let server = TestServer::start();
    let team = server.team_with_element("fts-team", "fts");
    let work = tempfile::tempdir().unwrap();
    let v1 = build_rpms(work.path(), &[SpecPackage::new("fts-server", "1.0", "1")]);
    let r1 = server.submit(&team, "fts", "1.0.0", &v1);
    let year = String::from_utf8(
        std::process::Command::new("date")
            .args(["-u", "+%Y"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    assert_eq!(
        server.get_json(&format!("/api/v1/releases/{r1}"))["advisory"],
        format!("STAGE-{year}-0001")
    );
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &r1.to_string(),
            "--force",
            "--reason",
            "baseline",
        ],
    );
    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "fts-server"]);

    let v2 = build_rpms(work.path(), &[SpecPackage::new("fts-server", "2.0", "1")]);
    let f = v2[0].display().to_string();
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
            "2.0.0",
            "--type",
            "security",
            "--reference",
            "CVE-2024-3094",
            "--reference",
            "https://bugzilla.redhat.com/show_bug.cgi?id=2272210",
            "--reference",
            "https://ggus.eu/index.php?mode=ticket_info&ticket_id=165432",
            &f,
        ],
    );
    let adv = format!("STAGE-{year}-0002");
    assert!(
        out.contains(&format!("advisory {adv}")) && out.contains(&format!("--advisory={adv}")),
        "{out}"
    );
    let releases: Value = server.get_json("/api/v1/releases");
    let r2 = releases
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == "2.0.0")
        .unwrap();
    assert_eq!(r2["advisory"], adv.as_str());
    assert_eq!(r2["references"].as_array().unwrap().len(), 3);
    let show = server.cli_ok(None, &["admin", "release", "show", &r2["id"].to_string()]);
    assert!(
        show.contains(&format!("advisory: {adv}")) && show.contains("CVE-2024-3094"),
        "{show}"
    );

    // Bad references change nothing.
    let v3 = build_rpms(work.path(), &[SpecPackage::new("fts-server", "3.0", "1")]);
    let f3 = v3[0].display().to_string();
    let (ok, _, err) = server.cli(
        Some(&team),
        &[
            "release",
            "submit",
            "--dist",
            "el9",
            "--element",
            "fts",
            "--version",
            "3.0.0",
            "--reference",
            "see the wiki",
            &f3,
        ],
    );
    assert!(!ok && err.contains("400") && err.contains("neither a CVE id"), "{err}");

    // Production does not list it yet; beta does, with the references' types.
    let prod = host.dnf_ok(&["updateinfo", "list", "--all"]);
    assert!(!prod.contains(&adv), "{prod}");
    host.set_repos(&[
        format!("{}/repo/el9/production.repo", server.url),
        format!("{}/repo/el9/beta.repo", server.url),
    ]);
    let info = host.dnf_ok(&["updateinfo", "info", &adv]);
    assert!(info.contains("CVE-2024-3094"), "dnf shows the CVE: {info}");
    assert!(info.contains("2272210"), "dnf shows the bug: {info}");
    host.dnf_ok(&[
        "upgrade",
        "--enablerepo=stagerepo-el9-beta",
        &format!("--advisory={adv}"),
    ]);
    assert_eq!(host.installed("fts-server").as_deref(), Some("fts-server-2.0-1.noarch"));

    // The updateinfo XML itself carries the right reference types.
    let (status, repomd) = ureq_get(&format!("{}/repo/el9/beta/repodata/repomd.xml", server.url)).unwrap();
    assert_eq!(status, 200);
    let repomd = String::from_utf8(repomd).unwrap();
    assert!(repomd.contains("type=\"updateinfo\""), "{repomd}");
}
