//! The dashboard in a real headless Chromium, on a phone-sized window, with a release in rollout.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use support::*;

/// Runs headless Chromium on `url` with `args`; returns its stdout. Fails (never skips) when
/// Chromium is missing.
fn chromium(url: &str, args: &[String]) -> String {
    require_tool("chromium");
    let profile = tempfile::tempdir().unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(out.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium {args:?} failed: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(out.path()).unwrap()
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is a PNG", path.display());
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Text of an HTML document without its tags, with whitespace collapsed; block tags separate
/// words, inline ones do not.
fn visible_text(html: &str) -> String {
    let body = html.split_once("<body").map_or(html, |(_, b)| b);
    let mut out = String::new();
    let mut tag: Option<String> = None;
    for c in body.chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some(String::new()),
            (Some(t), '>') => {
                let name: String = t
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_alphanumeric())
                    .collect();
                if !matches!(name.as_str(), "span" | "strong" | "small" | "a" | "em") {
                    out.push(' ');
                }
                tag = None;
            }
            (Some(t), c) => t.push(c),
            (None, c) => out.push(c),
        }
    }
    out.replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn dashboard_shows_the_rollout_on_a_phone_and_no_secret() {
    let server = TestServer::start();
    let team = server.team_with_element("fts-team", "fts");
    let (cern, cern_secret) = server.add_site("CERN-PROD", Some("http://127.0.0.1:9/hook"));
    let (ral, ral_secret) = server.add_site("RAL", None);
    for (site, sla) in [("CERN-PROD", "2d"), ("RAL", "5d")] {
        server.add_rollout("fts", site, sla);
    }
    let work = tempfile::tempdir().unwrap();
    let build = |v: &str| {
        build_rpms(
            work.path(),
            &[
                SpecPackage::new("fts-libs", v, "1"),
                SpecPackage::new("fts-server", v, "1").requires(&format!("fts-libs = {v}-1")),
            ],
        )
    };
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
            "first",
        ],
    );
    let v2 = server.submit(&team, "fts", "2.0.0", &build("2.0"));
    server.cli_ok(None, &["admin", "release", "announce", &v2.to_string()]);
    server.cli_ok(Some(&cern), &["site", "report", &v2.to_string(), "--ok"]);
    let deploy = |token: &str, host: &str, v: &str| {
        let body =
            json!({"host": host, "packages": [format!("fts-server-{v}-1.noarch"), format!("fts-libs-{v}-1.noarch")]});
        let (st, b) = http(
            Method::POST,
            &format!("{}/api/v1/deployments", server.url),
            Some(token),
            Some(body.to_string().into_bytes()),
            &[("content-type", "application/json")],
        )
        .unwrap();
        assert_eq!(st, 201, "{}", String::from_utf8_lossy(&b));
    };
    deploy(&cern, "wn01.cern.ch", "2.0");
    deploy(&ral, "lcg01.ral.ac.uk", "1.0");
    deploy(&ral, "lcg02.ral.ac.uk", "1.0");
    let (st, b) = http(
        Method::POST,
        &format!("{}/api/v1/problems", server.url),
        Some(&ral),
        Some(
            json!({"release": v2, "text": "checksum mismatch on big files"})
                .to_string()
                .into_bytes(),
        ),
        &[("content-type", "application/json")],
    )
    .unwrap();
    assert_eq!(st, 201, "{}", String::from_utf8_lossy(&b));

    let url = format!("{}/", server.url);
    let dom = chromium(&url, &["--window-size=390,844".into(), "--dump-dom".into()]);
    assert!(dom.contains("name=\"viewport\""), "{dom}");
    let text = visible_text(&dom);
    for expected in [
        "Releases in rollout",
        "fts 2.0.0 (el9) · release 2",
        "CERN-PROD reported ok",
        "RAL assigned",
        "Recently promoted",
        "fts 1.0.0 (el9) · release 1",
        "untriaged: 1",
        "checksum mismatch on big files",
        "Rollout sites' SLA (last 90 days)",
        "el9: revision 2 · 2 packages",
        "Who runs what",
        "3 hosts report their packages.",
        "CERN-PROD: 2.0.0 on 1 host",
        "RAL: 1.0.0 on 2 hosts",
    ] {
        assert!(text.contains(expected), "{expected:?} not on the page:\n{text}");
    }
    // RAL's 5-day SLA started a moment ago.
    assert!(
        text.contains("RAL assigned 4d 23h left") || text.contains("RAL assigned 5d 0h left"),
        "{text}"
    );
    for secret in [
        server.admin_token.as_str(),
        team.as_str(),
        cern.as_str(),
        ral.as_str(),
        cern_secret.as_str(),
        ral_secret.as_str(),
        "127.0.0.1:9/hook",
    ] {
        assert!(!dom.contains(secret), "the dashboard shows a secret or webhook address");
    }

    // Screenshots: the first screen of a phone, and the whole page at phone width.
    let dir = artifacts_dir();
    let shot = dir.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &url,
        &[
            "--window-size=390,844".into(),
            format!("--screenshot={}", shot.display()),
        ],
    );
    assert_eq!(png_size(&shot), (390, 844));
    let full = dir.join("dashboard-full.png");
    let _ = std::fs::remove_file(&full);
    chromium(
        &url,
        &[
            "--window-size=390,2400".into(),
            format!("--screenshot={}", full.display()),
        ],
    );
    assert_eq!(png_size(&full), (390, 2400));
    let desktop = dir.join("dashboard-desktop.png");
    let _ = std::fs::remove_file(&desktop);
    chromium(
        &url,
        &[
            "--window-size=1280,1400".into(),
            format!("--screenshot={}", desktop.display()),
        ],
    );
    assert_eq!(png_size(&desktop), (1280, 1400));
}

/// GETs a page; returns (status, visible text, raw HTML).
fn page(server: &TestServer, path: &str) -> (u16, String, String) {
    let (status, body) = ureq_get(&format!("{}{path}", server.url)).unwrap();
    let html = String::from_utf8(body).unwrap();
    (status, visible_text(&html), html)
}

#[test]
fn every_release_problem_site_and_element_has_a_page() {
    let server = TestServer::start();
    let team = server.team_with_element("fts-team", "fts");
    let (cern, _) = server.add_site("CERN-PROD", None);
    server.add_rollout("fts", "CERN-PROD", "2d");
    let work = tempfile::tempdir().unwrap();
    let build = |v: &str| {
        let dir = work.path().join(v);
        std::fs::create_dir_all(&dir).unwrap();
        build_rpms(&dir, &[SpecPackage::new("fts-server", v, "1")])
    };
    // Release 1 is announced, deployed at CERN, gets a problem and is rejected; release 2
    // waits in beta, unannounced.
    let v1 = server.submit(&team, "fts", "1.0.0", &build("1.0"));
    server.cli_ok(None, &["admin", "release", "announce", &v1.to_string()]);
    server.report_deployment(&cern, "wn01.cern.ch", &["fts-server-1.0-1.noarch"]);
    let out = server.cli_ok(
        Some(&cern),
        &[
            "site",
            "report",
            &v1.to_string(),
            "--problem",
            "transfers hang",
            "--json",
        ],
    );
    let pid = serde_json::from_str::<serde_json::Value>(&out).unwrap()["problem"]
        .as_i64()
        .unwrap();
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "reject",
            &v1.to_string(),
            "--reason",
            "hangs at CERN",
        ],
    );
    let v2 = server.submit(&team, "fts", "2.0.0", &build("2.0"));

    let (status, text, html) = page(&server, "/");
    assert_eq!(status, 200);
    for link in [
        format!("href=\"/releases/{v1}\""),
        format!("href=\"/releases/{v2}\""),
        format!("href=\"/problems/{pid}\""),
        "href=\"/sites/CERN-PROD\"".to_string(),
        "href=\"/elements/fts\"".to_string(),
    ] {
        assert!(html.contains(&link), "{link} not on the dashboard:\n{html}");
    }
    for expected in [
        "In beta, not announced",
        "fts 2.0.0 (el9) · release 2",
        "Recently withdrawn or rejected",
        "rejected fts 1.0.0 (el9) · release 1",
        "hangs at CERN",
    ] {
        assert!(text.contains(expected), "{expected:?} not on the dashboard:\n{text}");
    }

    let (status, text, _) = page(&server, &format!("/releases/{v1}"));
    assert_eq!(status, 200);
    for expected in [
        "fts 1.0.0 (el9) · release 1 rejected",
        "CERN-PROD reported a problem",
        "fts-server-1.0-1.noarch",
        "rollout → rejected by admin: hangs at CERN",
        "transfers hang",
    ] {
        assert!(text.contains(expected), "{expected:?} not on the release page:\n{text}");
    }
    let (status, text, _) = page(&server, &format!("/problems/{pid}"));
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("Problem #{pid} open")) && text.contains("transfers hang"),
        "{text}"
    );
    let (status, text, _) = page(&server, "/sites/CERN-PROD");
    assert_eq!(status, 200);
    for expected in [
        "Site CERN-PROD",
        "fts · SLA 2d 0h",
        "fts 1.0.0 (el9) · 1 rejected reported a problem",
        "transfers hang",
    ] {
        assert!(text.contains(expected), "{expected:?} not on the site page:\n{text}");
    }
    let (status, text, _) = page(&server, "/elements/fts");
    assert_eq!(status, 200);
    for expected in [
        "Element fts",
        "Team fts-team",
        "CERN-PROD · SLA 2d 0h",
        "2.0.0 (el9) · release 2 beta",
        "1.0.0 (el9) · release 1 rejected",
    ] {
        assert!(text.contains(expected), "{expected:?} not on the element page:\n{text}");
    }
    for missing in ["/releases/999", "/problems/999", "/sites/NOWHERE", "/elements/nothing"] {
        assert_eq!(page(&server, missing).0, 404, "{missing}");
    }
}
