//! Issue 14 (hardening), against the real server binary: bounded durations and ids, limits on
//! texts and bodies, clean conflicts, the Host header, security headers and file modes.

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use support::*;

fn send(server: &TestServer, method: Method, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> (u16, Value) {
    let (s, b) = http(
        method,
        &format!("{}{path}", server.url),
        token,
        body,
        &[("content-type", "application/json")],
    )
    .unwrap();
    let v = serde_json::from_slice(&b).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into_owned()));
    (s, v)
}

fn post(server: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    send(
        server,
        Method::POST,
        path,
        Some(token),
        Some(body.to_string().into_bytes()),
    )
}

/// Asserts a JSON 4xx error whose detail contains `needle`.
fn refused(got: (u16, Value), status: u16, needle: &str) {
    let (s, v) = got;
    let shown: String = v.to_string().chars().take(400).collect();
    assert_eq!(s, status, "{shown}");
    assert!(v["error"].is_string(), "not a JSON error: {v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(needle), "{needle:?} not in {detail:?}");
}

/// A team with element `hard`, a release of it (built with rpmbuild) and a site.
struct Setup {
    server: TestServer,
    team: String,
    site_token: String,
    release: i64,
    _work: tempfile::TempDir,
}

fn setup(server: TestServer) -> Setup {
    let work = tempfile::tempdir().unwrap();
    let team = server.team_with_element("hard-team", "hard");
    let rpms = build_rpms(work.path(), &[SpecPackage::new("hard-tool", "1.0", "1")]);
    let release = server.submit(&team, "hard", "1.0.0", &rpms);
    let (site_token, _) = server.add_site("SITE-A", None);
    Setup {
        server,
        team,
        site_token,
        release,
        _work: work,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn sla_overflow_is_refused_and_an_overflowing_stored_sla_never_opens_the_gate() {
    let s = setup(TestServer::start());
    let admin = s.server.admin_token.clone();
    let rollout = |sla: &str| {
        post(
            &s.server,
            "/api/v1/admin/rollouts",
            &admin,
            json!({"element": "hard", "site": "SITE-A", "sla": sla}),
        )
    };
    // The red team's value: accepted before, and the deadline wrapped into the past.
    refused(rollout("9223372036854775807s"), 400, "at most 31536000s");
    refused(rollout("366d"), 400, "at most 31536000s");
    refused(rollout("0s"), 400, "at least 1s");
    let (st, v) = rollout("365d");
    assert_eq!(st, 201, "{v}");

    // A period stored before the limit existed: the announcement refuses it instead of wrapping.
    let db = rusqlite::Connection::open(s.server.data_dir().join("stagerepo.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute("UPDATE rollouts SET sla_seconds = ?1", [i64::MAX]).unwrap();
    drop(db);
    let announce = format!("/api/v1/admin/releases/{}/announce", s.release);
    refused(post(&s.server, &announce, &admin, json!({})), 409, "out of range");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        s.server.get_json(&format!("/api/v1/releases/{}", s.release))["state"],
        "beta"
    );

    // With the longest period allowed the release waits, its deadline a year ahead.
    let (st, _) = rollout("365d");
    assert_eq!(st, 201);
    let (st, v) = post(&s.server, &announce, &admin, json!({}));
    assert_eq!(st, 200, "{v}");
    let site = &v["gate"]["sites"][0];
    assert_eq!(site["satisfied"], false, "{v}");
    assert_eq!(site["sla_seconds"], 31_536_000);
    assert!(site["deadline"].as_i64().unwrap() > chrono_now() + 364 * 86_400);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        s.server.get_json(&format!("/api/v1/releases/{}", s.release))["state"],
        "rollout"
    );

    // fast_track_sla is bounded the same way.
    let (ok, _, err) = s.server.cli(
        None,
        &[
            "config",
            "check",
            &write_config(&s.server, "fast_track_sla = \"400d\"\n"),
        ],
    );
    assert!(!ok && err.contains("fast_track_sla"), "{err}");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn write_config(server: &TestServer, toml: &str) -> String {
    let p = server.dir.path().join("check.toml");
    std::fs::write(&p, toml).unwrap();
    p.display().to_string()
}

#[test]
fn ids_out_of_range_are_400_with_a_json_error() {
    let s = setup(TestServer::start());
    let admin = s.server.admin_token.clone();
    for path in [
        "/api/v1/releases/-1",
        "/api/v1/releases/0",
        "/api/v1/releases/9223372036854775808",
        "/api/v1/releases/99999999999999999999999",
    ] {
        refused(
            send(&s.server, Method::GET, path, None, None),
            400,
            "1 to 9223372036854775807",
        );
    }
    refused(
        post(
            &s.server,
            "/api/v1/problems",
            &s.site_token,
            json!({"release": -4, "text": "x"}),
        ),
        400,
        "out of range",
    );
    refused(
        post(
            &s.server,
            "/api/v1/admin/problems/-1/close",
            &admin,
            json!({"reason": "x"}),
        ),
        400,
        "1 to",
    );
    refused(
        send(
            &s.server,
            Method::GET,
            "/api/v1/audit?release=99999999999999999999",
            Some(&admin),
            None,
        ),
        400,
        "query",
    );
    refused(
        send(
            &s.server,
            Method::GET,
            "/api/v1/repos/el9/beta/diff?from=-1&to=1",
            None,
            None,
        ),
        400,
        "out of range",
    );
    refused(
        send(
            &s.server,
            Method::GET,
            "/api/v1/repos/el9/beta/revisions?limit=-1",
            None,
            None,
        ),
        400,
        "limit",
    );
    refused(
        send(
            &s.server,
            Method::GET,
            "/api/v1/admin/problems?open=maybe",
            Some(&admin),
            None,
        ),
        400,
        "query",
    );
}

#[test]
fn texts_lists_and_bodies_have_limits_and_the_dashboard_shortens() {
    let s = setup(TestServer::start());
    let admin = s.server.admin_token.clone();

    // Field limits: 400 naming the field and the limit.
    let long = "p".repeat(10_001);
    refused(
        post(
            &s.server,
            "/api/v1/problems",
            &s.site_token,
            json!({"release": s.release, "text": long}),
        ),
        400,
        "text is 10001 characters long; the limit is 10000",
    );
    let submit = json!({"dist": "el9", "element": "hard", "version": "1.".repeat(5000), "packages": ["x.rpm"]});
    refused(
        post(&s.server, "/api/v1/releases", &s.team, submit),
        400,
        "version is 10000 characters long; the limit is 64",
    );
    refused(
        post(
            &s.server,
            "/api/v1/admin/elements",
            &admin,
            json!({"name": "e2", "team": "hard-team", "description": "d".repeat(1001)}),
        ),
        400,
        "description is 1001 characters long; the limit is 1000",
    );
    refused(
        post(
            &s.server,
            &format!("/api/v1/admin/releases/{}/reject", s.release),
            &admin,
            json!({"reason": "r".repeat(1001)}),
        ),
        400,
        "reason is 1001 characters long; the limit is 1000",
    );

    // A deployment report: 20,000 packages per host pass, 20,001 do not.
    let pkgs = |n: usize| -> Vec<String> { (0..n).map(|i| format!("pkg{i}-0:1.0-1.el9.x86_64")).collect() };
    let (st, v) = post(
        &s.server,
        "/api/v1/deployments",
        &s.site_token,
        json!({"host": "h1", "packages": pkgs(20_000)}),
    );
    assert_eq!(st, 201, "{v}");
    refused(
        post(
            &s.server,
            "/api/v1/deployments",
            &s.site_token,
            json!({"host": "h1", "packages": pkgs(20_001)}),
        ),
        400,
        "the limit is 20000",
    );

    // Bodies over the limit: 413 with a JSON error naming it, with and without Content-Length.
    // Raw requests that stop sending once the limit is passed: the answer must not wait for
    // (or need) the rest of the body.
    let problems = format!(
        "POST /api/v1/problems HTTP/1.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n",
        s.site_token
    );
    let (st, text) = raw_request(
        &s.server,
        &format!("{problems}Content-Length: 2097152\r\n\r\n"),
        &[b'{'; 4096],
    );
    assert_eq!(st, 413, "{text}");
    assert!(
        text.contains("payload too large") && text.contains("1048576 bytes"),
        "{text}"
    );
    let mut chunked = Vec::new();
    for _ in 0..17 {
        chunked.extend_from_slice(format!("{:x}\r\n", 65_536).as_bytes());
        chunked.extend_from_slice(&[b' '; 65_536]);
        chunked.extend_from_slice(b"\r\n");
    }
    let (st, text) = raw_request(
        &s.server,
        &format!("{problems}Transfer-Encoding: chunked\r\n\r\n"),
        &chunked,
    );
    assert_eq!(st, 413, "chunked: {text}");
    assert!(text.contains("1048576 bytes"), "{text}");
    let deployments = format!(
        "POST /api/v1/deployments HTTP/1.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.site_token,
        17 * 1024 * 1024
    );
    let (st, text) = raw_request(&s.server, &deployments, b"{");
    assert_eq!(st, 413, "{text}");
    assert!(text.contains("16777216 bytes"), "{text}");

    // A long problem text at the limit: in full in the API, shortened on the dashboard.
    let text: String = (0..10_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let (st, v) = post(
        &s.server,
        "/api/v1/problems",
        &s.site_token,
        json!({"release": s.release, "text": text}),
    );
    assert_eq!(st, 201, "{v}");
    let detail = s.server.get_json(&format!("/api/v1/releases/{}", s.release));
    assert_eq!(detail["problems"][0]["text"].as_str().unwrap(), text);
    let (st, page) = ureq_get(&format!("{}/", s.server.url)).unwrap();
    assert_eq!(st, 200);
    let page = String::from_utf8(page).unwrap();
    assert!(!page.contains(&text), "the dashboard shows the whole text");
    assert!(page.contains(&format!("{}…", &text[..300])), "shortened text missing");
    assert!(page.len() < 64 * 1024, "dashboard is {} bytes", page.len());
}

#[test]
fn concurrent_submissions_of_one_version_get_the_clean_conflict() {
    let server = TestServer::start();
    let team = server.team_with_element("race-team", "race");
    let work = tempfile::tempdir().unwrap();
    for round in 0..4 {
        let version = format!("1.{round}");
        let rpms = build_rpms(work.path(), &[SpecPackage::new("race-tool", &version, "1")]);
        let file = rpms[0].file_name().unwrap().to_string_lossy().into_owned();
        let (st, _) = http(
            Method::PUT,
            &format!("{}/api/v1/upload/{file}", server.url),
            Some(&team),
            Some(std::fs::read(&rpms[0]).unwrap()),
            &[],
        )
        .unwrap();
        assert_eq!(st, 201);
        let body = json!({"dist": "el9", "element": "race", "version": format!("{version}.0"), "packages": [file]});
        let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| post(&server, "/api/v1/releases", &team, body.clone())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, v)| v).collect();
        assert_eq!(winners.len(), 1, "{answers:?}");
        let id = winners[0]["id"].as_i64().unwrap();
        let clean = format!("race {version}.0 already exists in el9 as release {id}");
        for (st, v) in answers.iter().filter(|(s, _)| *s != 201) {
            assert_eq!(*st, 409, "{v}");
            assert_eq!(v["detail"], clean.as_str(), "{v}");
        }
    }

    // The same for names: teams, elements and sites created twice at once.
    let admin = server.admin_token.clone();
    for (path, body, clean) in [
        (
            "/api/v1/admin/teams",
            json!({"name": "dup-team"}),
            "team dup-team already exists",
        ),
        (
            "/api/v1/admin/elements",
            json!({"name": "dup-el", "team": "race-team"}),
            "element dup-el already exists",
        ),
        (
            "/api/v1/admin/sites",
            json!({"name": "DUP-SITE"}),
            "site DUP-SITE already exists",
        ),
    ] {
        let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| post(&server, path, &admin, body.clone())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 1, "{answers:?}");
        for (st, v) in answers.iter().filter(|(s, _)| *s != 201) {
            assert_eq!(*st, 409, "{v}");
            assert_eq!(v["detail"], clean, "{v}");
        }
    }
    assert!(!server.log().contains("panicked"));
}

/// Sends `head` (the request line and headers, without Host unless given) and `body` as
/// they are, then reads the answer until the server closes; returns (status, whole answer).
fn raw_request(server: &TestServer, head: &str, body: &[u8]) -> (u16, String) {
    let addr = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = if head.contains("\r\nHost:") {
        head.to_string()
    } else {
        head.replacen("\r\n", &format!("\r\nHost: {addr}\r\n"), 1)
    };
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65_536];
    // Read the whole answer: its head, then Content-Length bytes of body.
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&out);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// A GET with exactly this Host header.
fn raw_get(server: &TestServer, path: &str, host: &str) -> (u16, String) {
    raw_request(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

#[test]
fn host_header_is_validated_and_public_url_wins() {
    let server = TestServer::start();
    for bad in ["a\"b<c>", "evil.example/x", "user@evil.example", "a b", "host:99999"] {
        let (status, text) = raw_get(&server, "/repo/el9/beta.repo", bad);
        assert_eq!(status, 400, "Host {bad:?}: {text}");
        assert!(text.contains("\"error\"") && text.contains("host[:port]"), "{text}");
        assert!(!text.contains("baseurl"), "{text}");
    }
    let (status, text) = raw_get(&server, "/repo/el9/beta.repo", "repo.example.org:8443");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("baseurl=http://repo.example.org:8443/repo/el9/beta/"),
        "{text}"
    );

    // With public_url, neither the .repo file nor the feeds name the Host a client sent.
    let server = TestServer::start_with(&["--public-url", "https://repo.example.org"]);
    server.add_site("SITE-B", None);
    for path in ["/repo/el9/production.repo", "/feed.atom", "/sites/SITE-B/feed.atom"] {
        let (status, text) = raw_get(&server, path, "evil.example");
        assert_eq!(status, 200, "{path}: {text}");
        assert!(!text.contains("evil.example"), "{path}: {text}");
        assert!(text.contains("https://repo.example.org/"), "{path}: {text}");
    }
}

#[test]
fn listening_beyond_loopback_without_public_url_warns() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stagerepo"))
        .args(["serve", "--listen", &format!("0.0.0.0:{port}"), "--data-dir"])
        .arg(dir.path().join("data"))
        .env_remove("STAGEREPO_CONFIG")
        .env("STAGEREPO_LOG", "info")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("listening on") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    text = std::fs::read_to_string(&log).unwrap_or(text);
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("public_url is not set"), "{text}");
}

#[test]
fn security_headers_on_dashboard_and_api_and_nosniff_on_repositories() {
    let server = TestServer::start();
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| client.get(format!("{}{path}", server.url)).send().unwrap();
    for path in [
        "/",
        "/api/v1/version",
        "/api/v1/releases",
        "/feed.atom",
        "/api/v1/no-such-thing",
    ] {
        let r = get(path);
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        if path == "/api/v1/no-such-thing" {
            continue;
        }
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    let page = get("/").text().unwrap();
    assert!(
        !page.contains("<script"),
        "the CSP forbids scripts; the dashboard must not need one"
    );
    for path in ["/repo/el9/beta/repodata/repomd.xml", "/repo/el9/beta.repo"] {
        let r = get(path);
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert!(r.headers().get("content-security-policy").is_none(), "{path}");
    }
}

fn backup_dir(server: &TestServer, dir: &Path) {
    let (st, v) = post(server, "/api/v1/admin/backup", &server.admin_token, json!({"dir": dir}));
    assert_eq!(st, 200, "{v}");
}

#[test]
fn data_files_are_private_whatever_the_umask_and_secrets_are_sealed() {
    // Process-wide, and the usual interactive default: what a start by hand sees.
    // SAFETY: umask has no memory-safety preconditions.
    unsafe {
        libc::umask(0o022);
    }
    let mut server = TestServer::start();
    let hook_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    let (_, secret) = server.add_site("SITE-S", Some(&hook));
    let data = server.data_dir();
    let private = |dir: &Path| {
        assert_eq!(mode(dir), 0o750, "{}", dir.display());
        for f in ["stagerepo.db", "admin.token", "secret.key"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f} in {}", dir.display());
        }
    };
    private(&data);
    for f in ["stagerepo.db-wal", "stagerepo.db-shm"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }

    // A leaked copy of the database alone does not give the webhook secret away.
    let backups = tempfile::tempdir().unwrap();
    let b1 = backups.path().join("b1");
    backup_dir(&server, &b1);
    private(&b1);
    for db in [data.join("stagerepo.db"), b1.join("stagerepo.db")] {
        let stored: String = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT webhook_secret FROM sites WHERE name = 'SITE-S'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(stored.starts_with("enc1:") && !stored.contains(&secret), "{stored}");
        let bytes = std::fs::read(&db).unwrap();
        let wal = std::fs::read(PathBuf::from(format!("{}-wal", db.display()))).unwrap_or_default();
        for haystack in [&bytes, &wal] {
            assert!(
                !haystack.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{}",
                db.display()
            );
        }
    }

    // Looser modes left by an older version, and a secret stored in clear: fixed at start.
    server.stop();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("stagerepo.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    rusqlite::Connection::open(data.join("stagerepo.db"))
        .unwrap()
        .execute("UPDATE sites SET webhook_secret = ?1 WHERE name = 'SITE-S'", [&secret])
        .unwrap();
    server.restart();
    private(&data);
    let stored: String = rusqlite::Connection::open(data.join("stagerepo.db"))
        .unwrap()
        .query_row("SELECT webhook_secret FROM sites WHERE name = 'SITE-S'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(stored.starts_with("enc1:"), "{stored}");

    // The restored directory is as private as the live one.
    let b2 = backups.path().join("b2");
    backup_dir(&server, &b2);
    let restored = backups.path().join("restored");
    server.cli_ok(
        None,
        &[
            "restore",
            &b2.display().to_string(),
            "--data-dir",
            &restored.display().to_string(),
        ],
    );
    private(&restored);
}

/// Loads `url` in headless chromium; returns its console log (stderr), where CSP violations go.
fn chromium_console(url: &str) -> String {
    require_tool("chromium");
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("timeout")
        .arg("90")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("starting chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_dashboard_breaks_no_rule_of_its_csp_in_chromium() {
    // The detector works: a page whose inline style its own policy forbids is reported.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("violates.html");
    std::fs::write(
        &page,
        "<html><head><meta http-equiv=\"Content-Security-Policy\" content=\"style-src 'none'\">\
         <style>body{color:red}</style></head><body>x</body></html>",
    )
    .unwrap();
    let console = chromium_console(&format!("file://{}", page.display()));
    assert!(console.contains("Content Security Policy"), "{console}");

    let s = setup(TestServer::start());
    let (st, _) = post(
        &s.server,
        "/api/v1/problems",
        &s.site_token,
        json!({"release": s.release, "text": "hangs"}),
    );
    assert_eq!(st, 201);
    let console = chromium_console(&format!("{}/", s.server.url));
    assert!(!console.contains("Content Security Policy"), "{console}");
}

/// Closing a problem needs a reason, like rejecting, withdrawing or a forced promotion; the
/// refused close changes nothing.
#[test]
fn closing_a_problem_needs_a_reason() {
    let s = setup(TestServer::start());
    let admin = s.server.admin_token.clone();
    let (st, v) = post(
        &s.server,
        "/api/v1/problems",
        &s.site_token,
        json!({"release": s.release, "text": "breaks"}),
    );
    assert_eq!(st, 201, "{v}");
    let close = format!("/api/v1/admin/problems/{}/close", v["id"]);
    for reason in ["", "   "] {
        refused(
            post(&s.server, &close, &admin, json!({ "reason": reason })),
            400,
            "needs --reason",
        );
    }
    let (st, v) = post(&s.server, &close, &admin, json!({"reason": "fixed"}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["open"], false, "{v}");
}
