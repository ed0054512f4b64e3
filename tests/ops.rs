//! Operations end to end: the RPM of stagerepo shipped through stagerepo and installed with
//! dnf, the systemd units, `config check`, HTTPS with certificate reload, limits against slow
//! clients, backup and restore, the access log, readiness notification.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_stagerepo");
const SOURCE: &str = env!("CARGO_MANIFEST_DIR");

/// Writes a configuration file with `body` into `dir`.
fn config_file(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("stagerepo.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Polls `f` until it returns true or `limit` passes.
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Copies the units of `dir` into a temporary directory with `/usr/bin/stagerepo` replaced by
/// `binary`, and runs `systemd-analyze verify` and the offline security review on them.
fn verify_units(dir: &Path, binary: &Path) {
    require_tool("systemd-analyze");
    let tmp = tempfile::tempdir().unwrap();
    let names = [
        "stagerepo.service",
        "stagerepo-inventory.service",
        "stagerepo-inventory.timer",
    ];
    for name in names {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        if name.ends_with(".service") {
            assert!(
                text.contains("ExecStart=/usr/bin/stagerepo "),
                "{name} runs the packaged binary"
            );
        }
        let text = text.replace("/usr/bin/stagerepo", &binary.display().to_string());
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    let (ok, out, err) = run(Command::new("systemd-analyze")
        .arg("verify")
        .args(names)
        .current_dir(tmp.path()));
    assert!(ok && err.trim().is_empty(), "systemd-analyze verify:\n{out}{err}");
    // The hardening is real: an exposure of at most 2.0 of 10 ("OK") for both services.
    for unit in ["stagerepo.service", "stagerepo-inventory.service"] {
        let (ok, out, err) = run(Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=20", unit])
            .current_dir(tmp.path()));
        assert!(ok, "systemd-analyze security {unit}:\n{out}{err}");
    }
}

#[test]
fn systemd_units_verify() {
    let units = Path::new(SOURCE).join("systemd");
    verify_units(&units, Path::new(BIN));
    let service = std::fs::read_to_string(units.join("stagerepo.service")).unwrap();
    for line in [
        "Type=notify",
        "ExecReload=",
        "User=stagerepo",
        "StateDirectory=stagerepo",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service",
    ] {
        assert!(service.contains(line), "stagerepo.service lacks {line}");
    }
    let timer = std::fs::read_to_string(units.join("stagerepo-inventory.timer")).unwrap();
    assert!(timer.contains("OnCalendar=daily"));
}

#[test]
fn rpm_of_stagerepo_ships_through_stagerepo_and_installs_with_dnf() {
    require_tool("rpmbuild");
    require_tool("dnf");
    let top = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(Command::new("rpmbuild")
        .arg("-bb")
        .arg("--quiet")
        .args(["--define", &format!("_topdir {}", top.path().display())])
        .args(["--define", &format!("_sourcedir {SOURCE}")])
        .args(["--define", &format!("stagerepo_binary {BIN}")])
        .args(["--define", "_binary_payload w2.gzdio"])
        // A bare installroot has no glibc or systemd to satisfy dependencies.
        .args(["--without", "deps"])
        .arg(Path::new(SOURCE).join("packaging/stagerepo.spec")));
    assert!(ok, "rpmbuild failed:\n{out}{err}");
    let version = env!("CARGO_PKG_VERSION");
    let rpm = std::fs::read_dir(top.path().join("RPMS"))
        .unwrap()
        .flat_map(|arch| std::fs::read_dir(arch.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .find(|p| p.to_string_lossy().contains(&format!("stagerepo-{version}-1.")))
        .expect("the built RPM");
    let rpm_name = rpm.file_name().unwrap().to_string_lossy().into_owned();
    let arch = rpm_name.rsplit('.').nth(1).unwrap().to_string();

    // The product ships through itself: upload, release, promote, install from production.
    let server = TestServer::start();
    let team = server.team_with_element("ops-team", "stagerepo");
    let id = server.submit(&team, "stagerepo", version, std::slice::from_ref(&rpm));
    server.promote_forced(id, "stagerepo ships through itself");
    let root = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    root.dnf_ok(&["install", "stagerepo"]);
    assert_eq!(
        root.installed("stagerepo"),
        Some(format!("stagerepo-{version}-1.{arch}"))
    );
    let root_dir = root.dir.path().join("root");
    let (ok, files, err) = run(Command::new("rpm")
        .arg("--root")
        .arg(&root_dir)
        .args(["-ql", "stagerepo"]));
    assert!(ok, "{err}");
    for f in [
        "/usr/bin/stagerepo",
        "/usr/lib/systemd/system/stagerepo.service",
        "/usr/lib/systemd/system/stagerepo-inventory.service",
        "/usr/lib/systemd/system/stagerepo-inventory.timer",
        "/usr/lib/sysusers.d/stagerepo.conf",
        "/etc/stagerepo/stagerepo.toml",
        "/var/lib/stagerepo",
    ] {
        assert!(files.lines().any(|l| l == f), "{f} not in the package:\n{files}");
    }
    let (_, configs, _) = run(Command::new("rpm")
        .arg("--root")
        .arg(&root_dir)
        .args(["-qc", "stagerepo"]));
    assert!(configs.contains("/etc/stagerepo/stagerepo.toml"), "{configs}");

    // The installed binary runs, its configuration is valid and keeps state in /var/lib.
    let installed = root_dir.join("usr/bin/stagerepo");
    let (ok, out, err) = run(Command::new(&installed).arg("--version"));
    assert!(ok && out.contains(version), "{out}{err}");
    let etc = root_dir.join("etc/stagerepo/stagerepo.toml");
    let (ok, out, err) = run(Command::new(&installed).args(["config", "check"]).arg(&etc));
    assert!(ok && out.trim_end().ends_with(": ok"), "{out}{err}");
    let text = std::fs::read_to_string(&etc).unwrap();
    assert!(text.contains("data_dir = \"/var/lib/stagerepo\""), "{text}");
    // The installed units verify against the installed binary.
    verify_units(&root_dir.join("usr/lib/systemd/system"), &installed);
}

#[test]
fn config_check_names_the_bad_key_or_value_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(SOURCE).join("packaging/stagerepo.toml");
    let (ok, out, _) = run(Command::new(BIN).args(["config", "check"]).arg(&example));
    assert!(ok, "{out}");
    assert_eq!(out.trim(), format!("{}: ok", example.display()));

    let typo = config_file(dir.path(), "listen = \"127.0.0.1:9000\"\n\nheader_timout = \"5s\"\n");
    let (ok, _, err) = run(Command::new(BIN).args(["config", "check"]).arg(&typo));
    assert!(!ok, "an unknown key is an error");
    assert!(err.contains("header_timout") && err.contains("line 3"), "{err}");

    let bad = config_file(dir.path(), "# comment\nheader_timeout = \"soonish\"\n");
    let (ok, _, err) = run(Command::new(BIN).args(["config", "check"]).arg(&bad));
    assert!(!ok);
    assert!(
        err.contains("header_timeout") && err.contains("line 2") && err.contains("soonish"),
        "{err}"
    );

    let bad = config_file(dir.path(), "max_concurrent_uploads = -1\n");
    let (ok, _, err) = run(Command::new(BIN).args(["config", "check"]).arg(&bad));
    assert!(
        !ok && err.contains("line 1") && err.contains("max_concurrent_uploads"),
        "{err}"
    );

    // Raising max_upload_size alone meets the default max_temp_bytes: both values are named.
    let bad = config_file(dir.path(), "max_upload_size = 5368709120\n");
    let (ok, _, err) = run(Command::new(BIN).args(["config", "check"]).arg(&bad));
    assert!(
        !ok && err.contains("max_temp_bytes")
            && err.contains("is 4294967296")
            && err.contains("raise max_temp_bytes with max_upload_size"),
        "{err}"
    );

    let bad = config_file(
        dir.path(),
        "tls_cert = \"/no/such/cert.pem\"\ntls_key = \"/no/such/key.pem\"\n",
    );
    let (ok, _, err) = run(Command::new(BIN).args(["config", "check"]).arg(&bad));
    assert!(
        !ok && err.contains("/no/such/cert.pem") && err.contains("line 1"),
        "{err}"
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it, made with openssl: (ca.pem, cert, key).
fn make_certificate(dir: &Path, name: &str) -> (Vec<u8>, PathBuf, PathBuf) {
    require_tool("openssl");
    let p = |f: &str| dir.join(format!("{name}-{f}"));
    let openssl = |args: &[&str]| {
        let (ok, out, err) = run(Command::new("openssl").args(args).current_dir(dir));
        assert!(ok, "openssl {args:?}:\n{out}{err}");
    };
    let s = |p: PathBuf| p.display().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={name} test CA"),
        "-keyout",
        &s(p("ca.key")),
        "-out",
        &s(p("ca.pem")),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &s(p("key.pem")),
        "-out",
        &s(p("csr.pem")),
    ]);
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &s(p("csr.pem")),
        "-CA",
        &s(p("ca.pem")),
        "-CAkey",
        &s(p("ca.key")),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &s(p("ext.cnf")),
        "-out",
        &s(p("cert.pem")),
    ]);
    (std::fs::read(p("ca.pem")).unwrap(), p("cert.pem"), p("key.pem"))
}

#[test]
fn https_serves_repositories_and_reloads_the_certificate_on_sighup() {
    let certs = tempfile::tempdir().unwrap();
    let (ca1, cert1, key1) = make_certificate(certs.path(), "one");
    let (ca2, cert2, key2) = make_certificate(certs.path(), "two");
    let live_cert = certs.path().join("live-cert.pem");
    let live_key = certs.path().join("live-key.pem");
    std::fs::copy(&cert1, &live_cert).unwrap();
    std::fs::copy(&key1, &live_key).unwrap();
    let config = config_file(
        certs.path(),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n[dist.el9]\n",
            live_cert.display(),
            live_key.display()
        ),
    );
    let server = TestServer::start_custom(
        tempfile::tempdir().unwrap(),
        &["--config", &config.display().to_string()],
        Some(ca1.clone()),
    );
    assert!(server.url.starts_with("https://"));
    let get = |path: &str, ca: &[u8]| https_get(&format!("{}{path}", server.url), ca);
    assert_eq!(get("/healthz", &ca1).unwrap().0, 200);
    let (status, repomd) = get("/repo/el9/beta/repodata/repomd.xml", &ca1).unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&repomd).contains("<repomd"));
    // The .repo file points at https.
    let (_, repo) = get("/repo/el9/production.repo", &ca1).unwrap();
    let repo = String::from_utf8(repo).unwrap();
    assert!(
        repo.contains(&format!("baseurl={}/repo/el9/production/", server.url)),
        "{repo}"
    );
    // Plain HTTP is not served on an HTTPS port; a client not trusting the CA is refused.
    let plain = server.url.replace("https://", "http://");
    assert!(ureq_get(&format!("{plain}/healthz"))
        .map(|r| r.0 != 200)
        .unwrap_or(true));
    assert!(get("/healthz", &ca2).is_err());

    // New certificate files, SIGHUP: new handshakes get the new certificate, same process.
    std::fs::copy(&cert2, &live_cert).unwrap();
    std::fs::copy(&key2, &live_key).unwrap();
    let pid = server.pid().unwrap();
    signal(pid, "HUP");
    assert!(
        wait_until(Duration::from_secs(10), || get("/healthz", &ca2).map(|r| r.0)
            == Ok(200)),
        "the new certificate is served after SIGHUP; log:\n{}",
        server.log()
    );
    assert!(get("/healthz", &ca1).is_err(), "the old certificate is gone");
    assert!(server.log().contains("TLS certificate and key reloaded"));

    // A broken file on reload: the error is logged and the working certificate stays.
    std::fs::write(&live_cert, "not a certificate").unwrap();
    signal(pid, "HUP");
    assert!(wait_until(Duration::from_secs(10), || server
        .log()
        .contains("cannot reload the TLS certificate")));
    assert_eq!(get("/healthz", &ca2).unwrap().0, 200);
    assert_eq!(server.pid(), Some(pid));
}

/// Is the server's side of `s` closed? (EOF or reset; WouldBlock means still open.)
fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false, // an error response before closing; the next read sees the close
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

#[test]
fn slow_loris_clients_do_not_hold_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "header_timeout = \"2s\"\nbody_timeout = \"2s\"\n[dist.el9]\n",
    );
    let server = TestServer::start_with(&["--config", &config.display().to_string()]);
    let addr = server.url.trim_start_matches("http://").to_string();

    const SLOW: usize = 50;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut slow: Vec<TcpStream> = (0..SLOW)
        .map(|_| {
            let s = TcpStream::connect(&addr).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    // One more that never sends a byte.
    let mut silent = TcpStream::connect(&addr).unwrap();
    silent.set_nonblocking(true).unwrap();

    let started = Instant::now();
    let mut closed_at: Vec<Option<Duration>> = vec![None; SLOW];
    let mut silent_closed_at = None;
    let mut healthz_ms = Vec::new();
    let mut sent = 0;
    // Bounded: one byte per connection every 250 ms, for at most 8 s.
    while started.elapsed() < Duration::from_secs(8) {
        for (i, s) in slow.iter_mut().enumerate() {
            if closed_at[i].is_some() {
                continue;
            }
            let byte = &request[sent.min(request.len() - 1)..][..1];
            if s.write_all(byte).is_err() || closed(s) {
                closed_at[i] = Some(started.elapsed());
            }
        }
        sent += 1;
        if silent_closed_at.is_none() && closed(&mut silent) {
            silent_closed_at = Some(started.elapsed());
        }
        if started.elapsed() < Duration::from_millis(1500) {
            // Meanwhile a normal client is served at once.
            let t = Instant::now();
            let (status, body) = ureq_get(&format!("{}/healthz", server.url)).unwrap();
            assert_eq!((status, body.as_slice()), (200, b"ok\n".as_slice()));
            healthz_ms.push(t.elapsed().as_millis());
        }
        if closed_at.iter().all(Option::is_some) && silent_closed_at.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(!healthz_ms.is_empty());
    assert!(
        healthz_ms.iter().all(|ms| *ms < 1000),
        "health checks while {SLOW} slow clients trickle: {healthz_ms:?} ms"
    );
    let times: Vec<f64> = closed_at
        .iter()
        .map(|t| t.expect("every slow client is cut off").as_secs_f64())
        .collect();
    let (first, last) = (
        times.iter().cloned().fold(f64::MAX, f64::min),
        times.iter().cloned().fold(0.0, f64::max),
    );
    assert!(first >= 1.5, "not cut off before the 2 s header timeout: {first:.2}s");
    assert!(last <= 5.0, "cut off soon after the 2 s header timeout: {last:.2}s");
    let silent_at = silent_closed_at.expect("a silent connection is cut off").as_secs_f64();
    assert!((1.5..=5.0).contains(&silent_at), "{silent_at:.2}s");
    eprintln!(
        "{SLOW} slow-loris clients cut off between {first:.2}s and {last:.2}s (header_timeout 2s); \
         health checks meanwhile took {healthz_ms:?} ms"
    );
    // The server is fine afterwards.
    assert_eq!(ureq_get(&format!("{}/healthz", server.url)).unwrap().0, 200);
}

#[test]
fn concurrent_uploads_are_capped_and_slow_bodies_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "max_concurrent_uploads = 1\nbody_timeout = \"3s\"\n[dist.el9]\n",
    );
    let server = TestServer::start_with(&["--config", &config.display().to_string()]);
    let team = server.add_team("uploaders");
    let addr = server.url.trim_start_matches("http://").to_string();

    // An upload whose body stalls after 10 of its 1000 bytes holds the only slot.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    write!(
        stalled,
        "PUT /api/v1/upload/slow-1-1.noarch.rpm HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {team}\r\n\
         Content-Length: 1000\r\n\r\n0123456789"
    )
    .unwrap();
    let started = Instant::now();
    // Time for the server to route it (under the load of the other tests, too).
    std::thread::sleep(Duration::from_millis(1000));

    let client = reqwest::blocking::Client::new();
    let resp = client
        .put(format!("{}/api/v1/upload/other-1-1.noarch.rpm", server.url))
        .bearer_auth(&team)
        .body(b"not an rpm".to_vec())
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let body: Value = resp.json().unwrap();
    assert_eq!(body["error"], "service unavailable");
    assert!(body["detail"].as_str().unwrap().contains("max_concurrent_uploads"));

    // The stalled body is cut off after body_timeout, with an error, and the slot is free.
    stalled.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stalled.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let waited = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(
        waited >= Duration::from_millis(2500) && waited <= Duration::from_secs(10),
        "cut off after {waited:?} (body_timeout 3s)"
    );
    let resp = client
        .put(format!("{}/api/v1/upload/other-1-1.noarch.rpm", server.url))
        .bearer_auth(&team)
        .body(b"not an rpm".to_vec())
        .send()
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        400,
        "the slot is free again: the RPM itself is refused"
    );
}

#[test]
fn backup_while_running_and_restore_serve_the_same_repositories() {
    require_tool("dnf");
    let server = TestServer::start();
    let team = server.team_with_element("bk-team", "bk");
    let work = tempfile::tempdir().unwrap();
    let v1 = build_rpms(
        work.path(),
        &[
            SpecPackage::new("sr-bk-lib", "1.0", "1"),
            SpecPackage::new("sr-bk-app", "1.0", "1").requires("sr-bk-lib"),
        ],
    );
    let id = server.submit(&team, "bk", "1.0.0", &v1);
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &id.to_string(),
            "--force",
            "--reason",
            "backup test",
        ],
    );
    let v2 = build_rpms(
        work.path(),
        &[SpecPackage::new("sr-bk-app", "2.0", "1").requires("sr-bk-lib")],
    );
    server.submit(&team, "bk", "2.0.0", &v2);

    // A backup of the running server, while another release is being submitted.
    let backups = tempfile::tempdir().unwrap();
    let during = backups.path().join("during");
    let v3 = build_rpms(
        work.path(),
        &[SpecPackage::new("sr-bk-app", "3.0", "1").requires("sr-bk-lib")],
    );
    std::thread::scope(|s| {
        let submit = s.spawn(|| server.submit(&team, "bk", "3.0.0", &v3));
        server.cli_ok(None, &["admin", "backup", &during.display().to_string()]);
        submit.join().unwrap();
    });
    let manifest: Value = serde_json::from_slice(&std::fs::read(during.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["files"].as_array().unwrap().len() > 10);

    // A backup of the quiet server, compared byte for byte after restoring it.
    let quiet = backups.path().join("quiet");
    let out = server.cli_ok(None, &["admin", "backup", &quiet.display().to_string(), "--json"]);
    let outcome: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome["packages"], 4);
    assert_eq!(outcome["linked"], 4, "same file system: package files are hard links");
    // A backup never overwrites one.
    let (ok, _, err) = server.cli(None, &["admin", "backup", &quiet.display().to_string()]);
    assert!(!ok && err.contains("409") && err.contains("not empty"), "{err}");

    // Onto another file system (tmpfs): the package files are copied instead.
    let shm = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
    let copied = shm.path().join("copied");
    let out = server.cli_ok(None, &["admin", "backup", &copied.display().to_string(), "--json"]);
    let outcome: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (outcome["linked"].as_u64(), outcome["copied"].as_u64()),
        (Some(0), Some(4))
    );

    for (backup, name) in [(&during, "during"), (&quiet, "quiet"), (&copied, "copied")] {
        let target = tempfile::tempdir().unwrap();
        let data = target.path().join("data");
        let (ok, out, err) = run(Command::new(BIN)
            .arg("restore")
            .arg(backup)
            .arg("--data-dir")
            .arg(&data));
        assert!(ok, "restore {name}: {out}{err}");
        assert!(out.contains("restored"), "{out}");
        let restored = TestServer::start_custom(target, &[], None);
        assert!(
            !restored.log().contains("differ from the database"),
            "backup {name} is consistent: no repository needed rewriting:\n{}",
            restored.log()
        );
        assert_eq!(restored.admin_token, server.admin_token);
        if name != "during" {
            assert_eq!(
                snapshot_tree(&server.data_dir().join("repos")),
                snapshot_tree(&restored.data_dir().join("repos")),
                "the restored repositories are the same, byte for byte"
            );
            for repo in ["beta", "production"] {
                let path = format!("/repo/el9/{repo}/repodata/repomd.xml");
                let a = ureq_get(&format!("{}{path}", server.url)).unwrap();
                let b = ureq_get(&format!("{}{path}", restored.url)).unwrap();
                assert_eq!(a, b, "{path}");
                let repomd = String::from_utf8(a.1).unwrap();
                for href in repomd.split("href=\"").skip(1).map(|h| h.split('"').next().unwrap()) {
                    let file = format!("/repo/el9/{repo}/{href}");
                    let a = ureq_get(&format!("{}{file}", server.url)).unwrap();
                    assert_eq!(a.0, 200, "{file}");
                    assert_eq!(a, ureq_get(&format!("{}{file}", restored.url)).unwrap(), "{file}");
                }
            }
        }
        if name == "quiet" {
            let root = DnfRoot::new(&[format!("{}/repo/el9/production.repo", restored.url)]);
            root.dnf_ok(&["install", "sr-bk-app"]);
            assert_eq!(root.installed("sr-bk-app").as_deref(), Some("sr-bk-app-1.0-1.noarch"));
        }
    }
}

/// Access-log lines (JSON) of a server log.
fn access_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "stagerepo::access")
        .collect()
}

#[test]
fn access_log_in_json_names_actor_and_client_behind_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "log_format = \"json\"\ntrusted_proxies = [\"127.0.0.1\"]\n[dist.el9]\n",
    );
    let server = TestServer::start_with(&["--config", &config.display().to_string()]);
    let team = server.add_team("loggers");
    let (status, _) = http(
        reqwest::Method::PUT,
        &format!("{}/api/v1/upload/x-1-1.noarch.rpm", server.url),
        Some(&team),
        Some(b"junk".to_vec()),
        &[],
    )
    .unwrap();
    assert_eq!(status, 400);
    let forwarded = [
        ("X-Forwarded-For", "198.51.100.23, 127.0.0.1"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "repo.example.org"),
    ];
    let (status, body) = http(
        reqwest::Method::GET,
        &format!("{}/repo/el9/production.repo", server.url),
        None,
        None,
        &forwarded,
    )
    .unwrap();
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.contains("baseurl=https://repo.example.org/repo/el9/production/"),
        "{body}"
    );

    assert!(wait_until(Duration::from_secs(5), || access_lines(&server.log()).len() >= 4));
    let log = server.log();
    let lines = access_lines(&log);
    let find = |path: &str| {
        lines
            .iter()
            .find(|l| l["path"] == path)
            .unwrap_or_else(|| panic!("no access line for {path}:\n{log}"))
            .clone()
    };
    let admin = find("/api/v1/admin/teams");
    assert_eq!(admin["actor"], "admin");
    assert_eq!(admin["method"], "POST");
    assert_eq!(admin["status"], 201);
    assert_eq!(admin["client"], "127.0.0.1");
    assert!(admin["ms"].as_f64().is_some() && admin["bytes"].as_u64().unwrap() > 0);
    let upload = find("/api/v1/upload/x-1-1.noarch.rpm");
    assert_eq!(upload["actor"], "team:loggers");
    assert_eq!(upload["status"], 400);
    let repo = find("/repo/el9/production.repo");
    assert_eq!(repo["actor"], "-");
    assert_eq!(repo["client"], "198.51.100.23", "the client behind the trusted proxy");
    assert!(
        !log.contains(&server.admin_token) && !log.contains(&team),
        "tokens never reach the log"
    );

    // Without trusted proxies (the default) the same headers are ignored; text log lines.
    let plain = TestServer::start();
    let (_, body) = http(
        reqwest::Method::GET,
        &format!("{}/repo/el9/production.repo", plain.url),
        None,
        None,
        &forwarded,
    )
    .unwrap();
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.contains(&format!("baseurl={}/repo/el9/production/", plain.url)),
        "{body}"
    );
    plain.add_team("t");
    assert!(wait_until(Duration::from_secs(5), || plain
        .log()
        .lines()
        .any(|l| l.contains("stagerepo::access") && l.contains("actor=admin"))));
    let log = plain.log();
    let line = log.lines().find(|l| l.contains("/repo/el9/production.repo")).unwrap();
    assert!(
        line.contains("client=127.0.0.1") && line.contains("status=200"),
        "{line}"
    );
}

#[test]
fn readiness_reload_and_stopping_are_notified_to_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path().join("data"))
        .env("NOTIFY_SOCKET", &socket_path)
        .env_remove("STAGEREPO_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let recv = || {
        let mut buf = [0u8; 1024];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = recv();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    // Ready means listening.
    assert_eq!(ureq_get(&format!("http://127.0.0.1:{port}/healthz")).unwrap().0, 200);
    signal(child.id(), "HUP");
    let reloading = recv();
    assert!(reloading.lines().any(|l| l == "RELOADING=1"), "{reloading}");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    assert!(recv().lines().any(|l| l == "READY=1"));
    signal(child.id(), "TERM");
    assert!(recv().lines().any(|l| l == "STOPPING=1"));
    let status = child.wait().unwrap();
    assert!(status.success());
}
