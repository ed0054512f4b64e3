//! E-mail: announcements, promotions and rejections reach a real SMTP server (aiosmtpd).

mod support;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// A real SMTP server (aiosmtpd) storing every message in a Maildir.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
    port: u16,
}

impl SmtpServer {
    fn start(dir: &Path, port: u16) -> SmtpServer {
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/test installs it with pip)");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        SmtpServer { child, maildir, port }
    }

    /// Every received message as {rcpt, to, from, subject, body}, parsed by Python's email package.
    fn messages(&self) -> Vec<Value> {
        let script = r#"
import email, email.policy, json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], factory=None, create=False):
    msg = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
    out.append({"rcpt": msg.get("X-RcptTo", ""), "to": msg.get("To", ""), "from": msg.get("From", ""),
                "subject": msg.get("Subject", ""), "body": msg.get_content()})
print(json.dumps(out))
"#;
        if !self.maildir.join("new").exists() {
            return Vec::new();
        }
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&self.maildir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }

    /// Waits for a message to `rcpt` whose subject contains `needle`.
    fn wait_for(&self, rcpt: &str, needle: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let all = self.messages();
            if let Some(m) = all
                .iter()
                .find(|m| m["rcpt"].as_str().unwrap().contains(rcpt) && m["subject"].as_str().unwrap().contains(needle))
            {
                return m.clone();
            }
            assert!(
                start.elapsed() < limit,
                "no mail to {rcpt} about {needle:?} after {limit:?}; got {all:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(port: u16) -> String {
    format!(
        "smtp_server = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_from = \"stagerepo <stagerepo@example.org>\"\n\
         notify_emails = [\"release-manager@example.org\"]\nauto_promote = false\n"
    )
}

fn release(server: &TestServer, team: &str, work: &Path, version: &str) -> i64 {
    let rpms = build_rpms(work, &[SpecPackage::new("fts-server", version, "1")]);
    server.submit(team, "fts", version, &rpms)
}

#[test]
fn announcements_promotions_and_rejections_are_mailed_to_sites_and_the_release_manager() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(work.path(), port);
    let server = TestServer::start_with_config(&config(smtp.port));
    let team = server.team_with_element("fts-team", "fts");
    server.cli_ok(
        None,
        &[
            "admin",
            "site",
            "add",
            "CERN-PROD",
            "--email",
            "grid-admins@cern.example",
        ],
    );
    server.add_site("RAL-LCG2", None);
    // An address set on an existing site.
    let out = server.cli_ok(
        None,
        &["admin", "site", "set", "RAL-LCG2", "--email", "ops@ral.example"],
    );
    assert!(out.contains("ops@ral.example"), "{out}");
    for site in ["CERN-PROD", "RAL-LCG2"] {
        server.add_rollout("fts", site, "2d");
    }
    let (ok, _, err) = server.cli(None, &["admin", "site", "set", "RAL-LCG2", "--email", "not an address"]);
    assert!(!ok && err.contains("invalid"), "{err}");

    let r1 = release(&server, &team, work.path(), "3.1.0");
    server.cli_ok(None, &["admin", "release", "announce", &r1.to_string()]);
    let limit = Duration::from_secs(20);
    let cern = smtp.wait_for("grid-admins@cern.example", "announced", limit);
    assert_eq!(
        cern["rcpt"], "grid-admins@cern.example",
        "one message per site, to that site only"
    );
    assert!(cern["from"].as_str().unwrap().contains("stagerepo@example.org"));
    let subject = cern["subject"].as_str().unwrap();
    assert!(subject.contains("fts 3.1.0 (el9) announced"), "{subject}");
    let body = cern["body"].as_str().unwrap();
    assert!(body.contains(&format!("Release:  {r1} (fts 3.1.0, el9)")), "{body}");
    assert!(
        body.contains("Deadline: ") && body.contains("(site CERN-PROD)"),
        "{body}"
    );
    assert!(
        !body.contains("(site RAL-LCG2)"),
        "a site sees its own deadline only: {body}"
    );
    let advisory = format!("STAGE-{}-0001", chrono_year());
    assert!(subject.starts_with(&format!("[stagerepo] {advisory}: ")), "{subject}");
    assert!(body.contains(&format!("Advisory: {advisory}")), "{body}");
    assert!(body.contains("fts-server-3.1.0-1.noarch.rpm"), "{body}");
    assert!(
        body.contains(&format!(
            "dnf --refresh --enablerepo=stagerepo-el9-beta upgrade --advisory={advisory}"
        )),
        "{body}"
    );
    assert!(body.contains(&format!("stagerepo site report {r1} --ok")), "{body}");
    let ral = smtp.wait_for("ops@ral.example", "announced", limit);
    assert!(ral["body"].as_str().unwrap().contains("(site RAL-LCG2)"));
    let rm = smtp.wait_for("release-manager@example.org", "announced", limit);
    let rm_body = rm["body"].as_str().unwrap();
    assert!(
        rm_body.contains("(site CERN-PROD)") && rm_body.contains("(site RAL-LCG2)"),
        "{rm_body}"
    );

    // Promotion (forced: the SLA is two days): the subject and body carry the advisory id.
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &r1.to_string(),
            "--force",
            "--reason",
            "urgent fix",
        ],
    );
    let promoted = smtp.wait_for("grid-admins@cern.example", "promoted", limit);
    assert!(
        promoted["subject"]
            .as_str()
            .unwrap()
            .starts_with(&format!("[stagerepo] {advisory}: ")),
        "{promoted:#}"
    );
    let body = promoted["body"].as_str().unwrap();
    assert!(body.contains(&format!("Advisory: {advisory}")), "{body}");
    assert!(
        body.contains(&format!("dnf --refresh upgrade --advisory={advisory}")),
        "{body}"
    );
    smtp.wait_for("release-manager@example.org", "promoted", limit);
    // The webhook payloads and the API carry the same id.
    let deliveries: Value = server.get_json("/api/v1/admin/webhooks");
    assert!(deliveries.is_array());

    // Rejection of a second release reaches its rollout sites too.
    let r2 = release(&server, &team, work.path(), "3.2.0");
    server.cli_ok(None, &["admin", "release", "announce", &r2.to_string()]);
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "reject",
            &r2.to_string(),
            "--reason",
            "breaks transfers",
        ],
    );
    let rejected = smtp.wait_for("ops@ral.example", "3.2.0 (el9) rejected", limit);
    assert!(
        rejected["body"].as_str().unwrap().contains("breaks transfers"),
        "{rejected:#}"
    );
}

#[test]
fn an_unreachable_smtp_server_never_blocks_the_change_and_mail_is_retried() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    // Nothing listens on the port yet.
    let server = TestServer::start_with_config(&config(port));
    let team = server.team_with_element("fts-team", "fts");
    server.cli_ok(
        None,
        &[
            "admin",
            "site",
            "add",
            "CERN-PROD",
            "--email",
            "grid-admins@cern.example",
        ],
    );
    server.add_rollout("fts", "CERN-PROD", "2d");
    let r1 = release(&server, &team, work.path(), "3.1.0");
    let started = Instant::now();
    server.cli_ok(None, &["admin", "release", "announce", &r1.to_string()]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the announcement waited for SMTP"
    );
    assert_eq!(server.get_json(&format!("/api/v1/releases/{r1}"))["state"], "rollout");
    // The first attempt fails; the SMTP server comes up; a retry delivers the queued message.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains("e-mail not sent") {
        assert!(Instant::now() < deadline, "no failed attempt logged: {}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let smtp = SmtpServer::start(work.path(), port);
    let m = smtp.wait_for("grid-admins@cern.example", "announced", Duration::from_secs(30));
    assert!(m["body"].as_str().unwrap().contains("fts 3.1.0"));
    smtp.wait_for("release-manager@example.org", "announced", Duration::from_secs(30));
    let to_cern = smtp
        .messages()
        .into_iter()
        .filter(|m| m["rcpt"] == "grid-admins@cern.example")
        .count();
    assert_eq!(to_cern, 1, "sent once, not once per attempt");
}

/// The current UTC year (advisory ids carry it).
fn chrono_year() -> String {
    let out = Command::new("date").args(["-u", "+%Y"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
