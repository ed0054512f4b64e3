//! Two `stagerepo serve` replicas on one PostgreSQL database and one bucket (a real
//! SeaweedFS), each with its own data directory: uploads, releases and admin calls through
//! either, dnf installs through both, and the SLA timer moving to the other replica when its
//! leader is killed with `kill -9`, promoting exactly once.

mod support;

use std::time::{Duration, Instant};

use support::postgres::{database, Cluster};
use support::seaweed::Seaweed;
use support::{build_rpms, DnfRoot, SpecPackage, TestServer};

const BUCKET: &str = "replicas";

/// Whether `server`'s metrics say it holds the leader lock.
fn is_leader(server: &TestServer) -> bool {
    let (status, body) = support::http(
        reqwest::Method::GET,
        &format!("{}/metrics", server.url),
        Some(&server.admin_token),
        None,
        &[],
    )
    .unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("stagerepo_leader "))
        .unwrap_or_else(|| panic!("no stagerepo_leader in\n{text}"));
    line.ends_with(" 1")
}

/// Waits until exactly one of `servers` leads; returns its index.
fn the_leader(servers: &[&TestServer]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let leading: Vec<usize> = (0..servers.len()).filter(|i| is_leader(servers[*i])).collect();
        if leading.len() == 1 {
            return leading[0];
        }
        assert!(Instant::now() < deadline, "leaders: {leading:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A second replica of `first`: the same configuration, its own data directory holding the
/// first's admin token and secret key (shared secrets, as the README tells operators).
fn replica_of(first: &TestServer, config: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for file in ["admin.token", "secret.key"] {
        std::fs::copy(first.data_dir().join(file), data.join(file)).unwrap();
    }
    let path = dir.path().join("stagerepo.toml");
    std::fs::write(&path, config).unwrap();
    TestServer::start_custom(dir, &["--config", path.to_str().unwrap()], None)
}

fn kill_9(server: &TestServer) {
    let pid = server.pid().expect("running").to_string();
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
}

#[test]
fn two_replicas_behave_as_one_server_and_the_timer_survives_kill_9_of_its_leader() {
    let started = Instant::now();
    let (weed, _one) = Seaweed::start(&[BUCKET]);
    let (name, url) = database();
    // The gate opens when the SLA period runs out (no deployment evidence asked for).
    let config = format!(
        "database_url = \"{url}\"\nmin_deployed_sites = 0\n{}",
        weed.config(BUCKET)
    );
    let a = TestServer::start_with_config(&config);
    let b = replica_of(&a, &config);
    let leader = the_leader(&[&a, &b]);

    // Admin calls through A, the upload through A, the submission through B.
    let team = a.team_with_element("t", "rep");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("rep-app", "1.0", "1")]);
    let rpm = std::fs::read(&rpms[0]).unwrap();
    let (status, body) = support::http(
        reqwest::Method::PUT,
        &format!("{}/api/v1/upload/rep-app-1.0-1.noarch.rpm", a.url),
        Some(&team),
        Some(rpm),
        &[],
    )
    .unwrap();
    assert!(status == 200 || status == 201, "{}", String::from_utf8_lossy(&body));
    let submit = serde_json::json!({"dist": "el9", "element": "rep", "version": "1.0.0",
        "packages": ["rep-app-1.0-1.noarch.rpm"]});
    let (status, body) = support::http(
        reqwest::Method::POST,
        &format!("{}/api/v1/releases", b.url),
        Some(&team),
        Some(serde_json::to_vec(&submit).unwrap()),
        &[("Content-Type", "application/json")],
    )
    .unwrap();
    assert!(status == 200 || status == 201, "{}", String::from_utf8_lossy(&body));
    let id = support::json(&body)["id"].as_i64().unwrap();
    assert_eq!(a.get_json(&format!("/api/v1/releases/{id}"))["state"], "beta");

    // dnf installs from beta through either replica (A catches up with B's publication).
    for server in [&a, &b] {
        let root = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (ok, out) = root.dnf(&["install", "rep-app"]);
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "dnf through {}: {out}", server.url);
            std::thread::sleep(Duration::from_millis(500));
            root.dnf(&["clean", "all"]);
        }
        assert_eq!(root.installed("rep-app").as_deref(), Some("rep-app-1.0-1.noarch"));
    }

    // Announced to a site with a short SLA; the leader dies during it.
    let sla = 6;
    a.add_site("SITE-R", None);
    a.cli_ok(
        None,
        &["admin", "rollout", "add", "--element", "rep", "--site", "SITE-R", "--sla", &format!("{sla}s")],
    );
    b.cli_ok(None, &["admin", "release", "announce", &id.to_string()]);
    let announced = Instant::now();
    let (mut dead, survivor) = if leader == 0 { (a, b) } else { (b, a) };
    kill_9(&dead);
    dead.stop();
    assert_eq!(
        survivor.get_json(&format!("/api/v1/releases/{id}"))["state"],
        "rollout",
        "nothing promoted before the deadline"
    );
    assert_eq!(the_leader(&[&survivor]), 0);
    let waited = survivor.wait_for_state(id, "promoted", Duration::from_secs(40));
    let after = announced.elapsed();
    // The server's clock: the promotion is not before the site's deadline.
    let release = survivor.get_json(&format!("/api/v1/releases/{id}"));
    let deadline = release["announced_at"].as_i64().unwrap() + sla as i64;
    let promoted: Vec<&serde_json::Value> = release["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == "promoted")
        .collect();
    assert_eq!(promoted.len(), 1, "{release:#}");
    assert!(promoted[0]["at"].as_i64().unwrap() >= deadline, "{release:#}");
    assert_eq!(promoted[0]["actor"], "stagerepo", "the SLA timer promoted: {release:#}");

    // Exactly one promotion: one audit entry, one production revision for it.
    let mut db = Cluster::get().client(&name);
    let promotions: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM audit WHERE action = 'release.promoted' AND release_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(promotions, 1);
    let revisions: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM revisions WHERE dist = 'el9' AND repo = 'production' AND reason LIKE $1",
            &[&format!("promotion of release {id} %")],
        )
        .unwrap()
        .get(0);
    assert_eq!(revisions, 1);

    // Hosts install from production through the survivor.
    let root = DnfRoot::new(&[format!("{}/repo/el9/production.repo", survivor.url)]);
    root.dnf_ok(&["install", "rep-app"]);
    assert_eq!(root.installed("rep-app").as_deref(), Some("rep-app-1.0-1.noarch"));
    assert!(survivor.log().contains("took the leader lock"), "{}", survivor.log());
    eprintln!(
        "replicas: promoted {after:?} after the announcement ({waited:?} of waiting after the kill), whole test {:?}",
        started.elapsed()
    );
}
