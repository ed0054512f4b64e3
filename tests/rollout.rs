//! The staged rollout end to end: the real binary, real rpmbuild, real dnf, real webhooks.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use support::*;

fn post(server: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (s, b) = http(
        Method::POST,
        &format!("{}{path}", server.url),
        Some(token),
        Some(body.to_string().into_bytes()),
        &[("content-type", "application/json")],
    )
    .unwrap();
    (s, json(&b))
}

/// The headers (lowercase names) and body of one received webhook.
type Delivery = (Vec<(String, String)>, String);

/// A webhook receiver on loopback: records (headers, body) of every POST and answers 200.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let r = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    let (k, v) = l.split_once(':').unwrap();
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                r.lock().unwrap().push((headers, String::from_utf8(body).unwrap()));
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Receiver { url, received }
    }

    /// Waits for a delivery of `event` and returns its payload, after checking its signature.
    fn wait_event(&self, event: &str, release: i64, secret: &str) -> Value {
        let start = Instant::now();
        loop {
            for (headers, body) in self.received.lock().unwrap().iter() {
                let get = |k: &str| headers.iter().find(|(h, _)| h == k).map(|(_, v)| v.clone());
                let payload: Value = serde_json::from_str(body).unwrap();
                if payload["event"] == event && payload["release"]["id"] == release {
                    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                    mac.update(body.as_bytes());
                    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                    assert_eq!(
                        get("x-stagerepo-signature"),
                        Some(expected),
                        "HMAC signature of the {event} webhook"
                    );
                    return payload;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(15), "no {event} webhook arrived");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

struct Scenario {
    server: TestServer,
    team: String,
    work: tempfile::TempDir,
}

impl Scenario {
    fn new() -> Scenario {
        Self::with_server(TestServer::start())
    }

    /// A scenario whose server runs with configuration `toml`.
    fn with_config(toml: &str) -> Scenario {
        Self::with_server(TestServer::start_with_config(toml))
    }

    fn with_server(server: TestServer) -> Scenario {
        let team = server.team_with_element("fts-team", "fts");
        Scenario {
            server,
            team,
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// Builds and submits fts-server + fts-client at `version`; returns the release id.
    fn release(&self, version: &str, element_version: &str) -> i64 {
        let rpms = build_rpms(
            self.work.path(),
            &[
                SpecPackage::new("fts-libs", version, "1"),
                SpecPackage::new("fts-server", version, "1").requires(&format!("fts-libs = {version}-1")),
            ],
        );
        self.server.submit(&self.team, "fts", element_version, &rpms)
    }
}

#[test]
fn happy_path_promotes_after_the_last_deadline_and_dnf_sees_the_update() {
    let s = Scenario::new();
    let server = &s.server;
    let hook = Receiver::start();
    let (cern, cern_secret) = server.add_site("CERN-PROD", Some(&hook.url));
    let (_ral, _) = server.add_site("RAL", None);
    server.add_rollout("fts", "CERN-PROD", "2s");
    server.add_rollout("fts", "RAL", "4s");

    // Version 1 reaches production first (forced, so the test is short) and a host installs it.
    let v1 = s.release("1.0", "1.0.0");
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
    let host = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    host.dnf_ok(&["install", "fts-server"]);
    assert_eq!(host.installed("fts-server").as_deref(), Some("fts-server-1.0-1.noarch"));

    // Version 2: announced to both sites; CERN reports ok, RAL stays silent.
    let v2 = s.release("2.0", "2.0.0");
    let out = server.cli_ok(None, &["admin", "release", "announce", &v2.to_string()]);
    assert!(out.contains("CERN-PROD") && out.contains("RAL"), "{out}");
    let announced = Instant::now();
    let announce = hook.wait_event("announce", v2, &cern_secret);
    assert_eq!(announce["release"]["id"], v2);
    assert_eq!(announce["release"]["version"], "2.0.0");
    assert_eq!(announce["site"], "CERN-PROD");
    assert!(announce["beta_repo"].as_str().unwrap().ends_with("/repo/el9/beta.repo"));
    assert!(announce["deadline"].as_i64().is_some());
    assert_eq!(announce["packages"].as_array().unwrap().len(), 2);

    let out = server.cli_ok(Some(&cern), &["site", "report", &v2.to_string(), "--ok"]);
    assert!(out.contains("recorded"), "{out}");
    let gate = server.get_json(&format!("/api/v1/releases/{v2}"));
    assert_eq!(gate["gate"]["open"], false, "RAL's SLA is still running: {gate:#}");
    assert!(
        gate["gate"]["conditions"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("RAL"),
        "{gate:#}"
    );
    let show = server.cli_ok(None, &["admin", "release", "show", &v2.to_string()]);
    assert!(show.contains("rollout sites") && show.contains("RAL"), "{show}");

    // The daemon promotes on its own right after RAL's 4 s deadline.
    server.wait_for_state(v2, "promoted", Duration::from_secs(15));
    let took = announced.elapsed();
    assert!(took >= Duration::from_secs(3), "not before the deadline ({took:?})");
    assert!(took < Duration::from_secs(8), "right after the deadline ({took:?})");
    assert_eq!(
        server.get_json(&format!("/api/v1/releases/{v1}"))["state"],
        "superseded"
    );
    let promotion = hook.wait_event("promote", v2, &cern_secret);
    assert_eq!(promotion["release"]["id"], v2);

    // Real dnf: the host sees the update, a fresh host installs the new version.
    let (ok, text) = host.dnf(&["check-update"]);
    assert!(
        !ok && text.contains("fts-server") && text.contains("2.0-1"),
        "check-update lists the update:\n{text}"
    );
    let fresh = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    fresh.dnf_ok(&["install", "fts-server"]);
    assert_eq!(
        fresh.installed("fts-server").as_deref(),
        Some("fts-server-2.0-1.noarch")
    );
    assert_eq!(fresh.installed("fts-libs").as_deref(), Some("fts-libs-2.0-1.noarch"));

    // The feed has the announcement and the promotion.
    let (_, feed) = ureq_get(&format!("{}/feed.atom", server.url)).unwrap();
    let feed = String::from_utf8(feed).unwrap();
    assert!(
        feed.contains("fts 2.0.0 (el9) announced") && feed.contains("fts 2.0.0 (el9) promoted"),
        "{feed}"
    );

    // The audit log shows every step in order.
    let audit = server.get_json(&format!("/api/v1/audit?release={v2}"));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["release.submit", "release.rollout", "report.ok", "release.promoted"],
        "{audit:#}"
    );
    let full = server.cli_ok(None, &["admin", "audit"]);
    for step in [
        "team.add",
        "element.add",
        "site.add",
        "rollout.add",
        "release.submit",
        "release.rollout",
        "report.ok",
        "release.promoted",
        "release.superseded",
    ] {
        assert!(full.contains(step), "audit lacks {step}:\n{full}");
    }
}

#[test]
fn problems_block_until_triaged_and_critical_ones_until_rejected() {
    // About problems, not evidence: silence alone passes the rollout here.
    let s = Scenario::with_config("min_deployed_sites = 0\n");
    let server = &s.server;
    let (cern, _) = server.add_site("CERN-PROD", None);
    let (other, _) = server.add_site("NIKHEF", None);
    server.add_rollout("fts", "CERN-PROD", "1s");

    // An untriaged problem from a site that is not a rollout site blocks past every deadline.
    let r1 = s.release("1.0", "1.0.0");
    server.cli_ok(None, &["admin", "release", "announce", &r1.to_string()]);
    let out = server.cli_ok(Some(&other), &["site", "problem", &r1.to_string(), "transfers hang"]);
    assert!(out.contains("problem"), "{out}");
    std::thread::sleep(Duration::from_secs(3));
    let v = server.get_json(&format!("/api/v1/releases/{r1}"));
    assert_eq!(v["state"], "rollout", "{v:#}");
    assert!(
        gate_condition(&v, "problems")["detail"]
            .as_str()
            .unwrap()
            .contains("untriaged"),
        "{v:#}"
    );
    let pid = v["problems"][0]["id"].as_i64().unwrap();
    let listed = server.cli_ok(None, &["admin", "problem", "list", "--open"]);
    assert!(
        listed.contains("transfers hang") && listed.contains("untriaged"),
        "{listed}"
    );

    // Triaged minor: promoted at once.
    server.cli_ok(
        None,
        &[
            "admin",
            "problem",
            "triage",
            &pid.to_string(),
            "--criticality",
            "minor",
            "--priority",
            "4",
        ],
    );
    let took = server.wait_for_state(r1, "promoted", Duration::from_secs(5));
    assert!(
        took < Duration::from_secs(2),
        "promotion follows the triage at once ({took:?})"
    );

    // A rollout site's problem report is a problem too; critical keeps the release out.
    let r2 = s.release("2.0", "2.0.0");
    server.cli_ok(None, &["admin", "release", "announce", &r2.to_string()]);
    let out = server.cli_ok(
        Some(&cern),
        &["site", "report", &r2.to_string(), "--problem", "data loss", "--json"],
    );
    let pid2 = serde_json::from_str::<Value>(&out).unwrap()["problem"]
        .as_i64()
        .unwrap();
    server.cli_ok(
        None,
        &[
            "admin",
            "problem",
            "triage",
            &pid2.to_string(),
            "--criticality",
            "critical",
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    let v = server.get_json(&format!("/api/v1/releases/{r2}"));
    assert_eq!(v["state"], "rollout");
    assert!(
        gate_condition(&v, "problems")["detail"]
            .as_str()
            .unwrap()
            .contains("critical"),
        "{v:#}"
    );
    let (ok, _, err) = server.cli(None, &["admin", "release", "promote", &r2.to_string()]);
    assert!(!ok && err.contains("409") && err.contains("critical"), "{err}");

    // Rejected: its packages leave beta's repodata.
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "reject",
            &r2.to_string(),
            "--reason",
            "data loss at CERN",
        ],
    );
    assert_eq!(server.get_json(&format!("/api/v1/releases/{r2}"))["state"], "rejected");
    let beta = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    let out = beta.dnf_ok(&["repoquery", "--available", "fts-server"]);
    assert!(out.contains("fts-server-0:1.0-1") && !out.contains("2.0-1"), "{out}");
}

#[test]
fn a_deadline_that_passed_while_the_daemon_was_down_promotes_at_start() {
    let mut s = Scenario::new();
    let (site, _) = s.server.add_site("CERN-PROD", None);
    s.server.add_rollout("fts", "CERN-PROD", "3s");
    let r = s.release("1.0", "1.0.0");
    s.server.cli_ok(None, &["admin", "release", "announce", &r.to_string()]);
    // The site deployed it (its evidence) and stayed silent: approval once the SLA runs out.
    s.server
        .report_deployment(&site, "wn1", &["fts-libs-1.0-1.noarch", "fts-server-1.0-1.noarch"]);
    s.server.stop();
    std::thread::sleep(Duration::from_secs(4));
    s.server.restart();
    let took = s.server.wait_for_state(r, "promoted", Duration::from_secs(5));
    assert!(took < Duration::from_secs(2), "promoted right after start ({took:?})");
}

#[test]
fn refusals_change_nothing() {
    let s = Scenario::new();
    let server = &s.server;
    let (site, _) = server.add_site("CERN-PROD", None);
    let r1 = s.release("2.0", "2.0.0");
    // Announcing without rollout sites is refused with a message that says so.
    let (ok, _, err) = server.cli(None, &["admin", "release", "announce", &r1.to_string()]);
    assert!(!ok && err.contains("no rollout site"), "{err}");
    server.add_rollout("fts", "CERN-PROD", "1h");
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &r1.to_string(),
            "--force",
            "--reason",
            "hotfix",
        ],
    );
    let prod_repomd = || {
        ureq_get(&format!("{}/repo/el9/production/repodata/repomd.xml", server.url))
            .unwrap()
            .1
    };
    let before = prod_repomd();
    let audit_before = server.get_json("/api/v1/audit").as_array().unwrap().len();

    // A site may not promote; a team may not report.
    let (st, v) = post(
        server,
        &format!("/api/v1/admin/releases/{r1}/promote"),
        &site,
        json!({}),
    );
    assert_eq!(st, 403, "{v}");
    let (st, v) = post(
        server,
        &format!("/api/v1/releases/{r1}/reports"),
        &s.team,
        json!({"result": "ok"}),
    );
    assert_eq!(st, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("site"), "{v}");

    // Another team may not release (nor upload) this element's package names.
    let other = server.team_with_element("other-team", "other");
    let rpms = build_rpms(s.work.path(), &[SpecPackage::new("fts-server", "9.0", "1")]);
    let (st, b) = http(
        Method::PUT,
        &format!("{}/api/v1/upload/fts-server-9.0-1.noarch.rpm", server.url),
        Some(&other),
        Some(std::fs::read(&rpms[0]).unwrap()),
        &[],
    )
    .unwrap();
    assert_eq!(st, 403);
    assert!(
        json(&b)["detail"]
            .as_str()
            .unwrap()
            .contains("element fts of team fts-team"),
        "{}",
        String::from_utf8_lossy(&b)
    );
    let (st, v) = post(
        server,
        "/api/v1/releases",
        &other,
        json!({"dist": "el9", "element": "fts", "version": "9.0.0", "packages": ["fts-server-2.0-1.noarch.rpm"]}),
    );
    assert_eq!(st, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("fts-team"), "{v}");
    let (st, v) = post(
        server,
        "/api/v1/releases",
        &other,
        json!({"dist": "el9", "element": "other", "version": "1.0.0", "packages": ["fts-server-2.0-1.noarch.rpm"]}),
    );
    assert_eq!(st, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("belongs to element fts"), "{v}");

    // An older release cannot be forced past the consistency check (a downgrade).
    let r0 = s.release("1.0", "1.0.0");
    let (ok, _, err) = server.cli(
        None,
        &[
            "admin",
            "release",
            "promote",
            &r0.to_string(),
            "--force",
            "--reason",
            "try",
        ],
    );
    assert!(
        !ok && err.contains("409") && err.contains("not newer than") && err.contains("2.0-1"),
        "{err}"
    );
    assert!(err.contains("1.0.0 is not greater than 2.0.0"), "{err}");

    assert_eq!(prod_repomd(), before, "production unchanged");
    assert_eq!(server.get_json(&format!("/api/v1/releases/{r0}"))["state"], "beta");
    // Only the one successful action (the submission of r0) reached the audit log.
    let audit = server.get_json("/api/v1/audit");
    let new: Vec<&str> = audit.as_array().unwrap()[audit_before..]
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(new, ["team.add", "element.add", "release.submit"], "{audit:#}");
}
