//! Two `stagerepo serve` replicas on one PostgreSQL database and one bucket (a real
//! SeaweedFS), each with its own data directory: uploads, releases and admin calls through
//! either, dnf installs through both, and the SLA timer moving to the other replica when its
//! leader is killed with `kill -9`, promoting exactly once.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::postgres::{database, Cluster};
use support::seaweed::Seaweed;
use support::{build_rpms, repomd_files, DnfRoot, SpecPackage, TestServer};

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
    a.add_rollout("rep", "SITE-R", &format!("{sla}s"));
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

/// Reads repomd.xml of `base` and every file it names; an error says what was inconsistent.
fn read_consistently(get: &dyn Fn(&str) -> Result<Vec<u8>, String>) -> Result<usize, String> {
    use sha2::{Digest, Sha256};
    let repomd = String::from_utf8(get("repodata/repomd.xml")?).map_err(|e| e.to_string())?;
    let files = repomd_files(&repomd);
    for (href, sha) in &files {
        let bytes = get(href)?;
        let found = hex::encode(Sha256::digest(&bytes));
        if &found != sha {
            return Err(format!("{href}: repomd.xml says {sha}, the file is {found}"));
        }
    }
    Ok(files.len())
}

#[test]
fn readers_of_both_replicas_and_the_bucket_never_see_a_404_or_a_checksum_mismatch_during_publications() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (weed, _one) = Seaweed::start(&[BUCKET]);
    let (_name, url) = database();
    let config = format!(
        "database_url = \"{url}\"\nkeep_generations = 2\n{}",
        weed.config(BUCKET)
    );
    let a = TestServer::start_with_config(&config);
    let b = replica_of(&a, &config);
    let team = a.team_with_element("t", "rd");
    let work = tempfile::tempdir().unwrap();
    let versions: Vec<String> = (1..=6).map(|i| format!("1.{i}")).collect();
    let pkgs: Vec<SpecPackage> = versions.iter().map(|v| SpecPackage::new("rd-app", v, "1")).collect();
    let rpms = build_rpms(work.path(), &pkgs);

    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    // One reader per replica, and hosts behind a balancer without affinity: repomd.xml from
    // one replica, the files it names from the other (which catches up, or reads through to
    // the bucket, when it lacks them).
    let pairs = [
        (a.url.clone(), a.url.clone()),
        (b.url.clone(), b.url.clone()),
        (a.url.clone(), b.url.clone()),
        (b.url.clone(), a.url.clone()),
    ];
    for (meta, data) in pairs {
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || {
            let get = |rel: &str| -> Result<Vec<u8>, String> {
                let base = if rel.ends_with("repomd.xml") { &meta } else { &data };
                let (status, body) = support::ureq_get(&format!("{base}/repo/el9/beta/{rel}"))?;
                if status != 200 {
                    return Err(format!("{base} {rel}: {status}"));
                }
                Ok(body)
            };
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                read_consistently(&get).unwrap_or_else(|e| panic!("reader of {meta} then {data}: {e}"));
                reads += 1;
            }
            reads
        }));
    }
    {
        let stop = stop.clone();
        let store = weed.store(BUCKET);
        readers.push(std::thread::spawn(move || {
            use stagerepo::blob::BlobStore;
            let get = |rel: &str| store.get(&format!("repos/el9/beta/{rel}")).map_err(|e| e.to_string());
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                read_consistently(&get).unwrap_or_else(|e| panic!("reader of the bucket: {e}"));
                reads += 1;
            }
            reads
        }));
    }
    // Publications alternate between the replicas.
    for (i, (rpm, version)) in rpms.iter().zip(&versions).enumerate() {
        let server = if i % 2 == 0 { &a } else { &b };
        server.submit(&team, "rd", &format!("{version}.0"), std::slice::from_ref(rpm));
    }
    // The package just published through B, asked of A at once: A catches up on the request
    // (its worker would within 2 s).
    let (status, body) =
        support::ureq_get(&format!("{}/repo/el9/beta/Packages/rd-app-1.6-1.noarch.rpm", a.url)).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, std::fs::read(&rpms[5]).unwrap());
    // Both serve the last one (the other replica catches up within its worker's period).
    let deadline = Instant::now() + Duration::from_secs(15);
    for server in [&a, &b] {
        loop {
            let (_, body) = support::ureq_get(&format!("{}/repo/el9/beta/repodata/repomd.xml", server.url)).unwrap();
            let repomd = String::from_utf8(body).unwrap();
            let primary = repomd_files(&repomd)
                .into_iter()
                .find(|(h, _)| h.contains("primary.xml"))
                .unwrap();
            let (_, bytes) = support::ureq_get(&format!("{}/repo/el9/beta/{}", server.url, primary.0)).unwrap();
            let text = String::from_utf8_lossy(&flate2_or_raw(&bytes)).into_owned();
            if text.contains("ver=\"1.6\"") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never served 1.6:\n{text}\nA:\n{}\nB:\n{}",
                server.url,
                a.log(),
                b.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let reads: Vec<usize> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(reads.iter().all(|n| *n > 0), "{reads:?}");
    eprintln!("replicas: consistent reads during 6 publications (A, B, A then B, B then A, bucket): {reads:?}");

    // One server: both replicas and the bucket hold the same generation, byte for byte.
    use stagerepo::blob::BlobStore;
    let store = weed.store(BUCKET);
    let get = |base: &str, rel: &str| support::ureq_get(&format!("{base}/repo/el9/beta/{rel}")).unwrap();
    let (_, repomd_a) = get(&a.url, "repodata/repomd.xml");
    let (_, repomd_b) = get(&b.url, "repodata/repomd.xml");
    assert_eq!(repomd_a, repomd_b, "the replicas serve different repomd.xml");
    assert_eq!(store.get("repos/el9/beta/repodata/repomd.xml").unwrap(), repomd_a);
    for (href, _) in repomd_files(&String::from_utf8(repomd_a).unwrap()) {
        let (status_a, file_a) = get(&a.url, &href);
        let (status_b, file_b) = get(&b.url, &href);
        assert_eq!((status_a, status_b), (200, 200), "{href}");
        assert!(file_a == file_b, "{href} differs between the replicas");
    }
    for server in [&a, &b] {
        let log = server.log();
        assert!(log.contains("serving another replica's publication"), "{log}");
        assert!(!log.contains("the bucket lacked"), "{log}");
        // Woken by the other's announcements (PostgreSQL NOTIFY), not only by its 2 s look.
        assert!(log.contains("another replica announced a publication"), "{log}");
    }
    // The bucket keeps the newest keep_generations + 1 = 3 generations, no more.
    let kept: Vec<String> = store
        .list("repos/el9/beta/repodata/")
        .unwrap()
        .into_iter()
        .filter(|k| k.ends_with("-primary.xml.gz"))
        .collect();
    assert!(
        !kept.is_empty() && kept.len() <= 3,
        "primary files in the bucket after 6 publications: {kept:?}"
    );
}

/// `bytes` gunzipped when they are gzip, else as they are.
fn flate2_or_raw(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    } else {
        bytes.to_vec()
    }
}

/// The two guarantees under the timer, on one PostgreSQL database seen by two handles (two
/// replicas): one leader at a time, the lock freed with its holder; and one state change
/// applied once when two transactions decide it at the same moment.
#[test]
fn one_leader_at_a_time_and_a_promotion_decided_twice_at_once_applies_once() {
    use stagerepo::db::{Db, DbError, NewRelease};
    use stagerepo::domain::release::{ReleaseEvent, ReleaseState};
    let (_name, url) = database();
    let first = Db::open_postgres(&url).unwrap();
    let second = Db::open_postgres(&url).unwrap();
    assert!(first.try_lead());
    assert!(first.try_lead(), "the leader stays the leader");
    assert!(!second.try_lead(), "one leader at a time");
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !second.try_lead() {
        assert!(
            Instant::now() < deadline,
            "the lock of a closed connection was not freed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let first = Arc::new(Db::open_postgres(&url).unwrap());
    let second = Arc::new(second);
    let team = first.insert_team("t", "hash", 1).unwrap();
    let id = first
        .write(|tx| {
            Db::insert_release(
                tx,
                &NewRelease {
                    dist: "el9",
                    element: "e",
                    version: "1.0.0",
                    team_id: team.id,
                    notes: "",
                    state: ReleaseState::Rollout,
                    now: 1,
                    packages: &[],
                    fixes: &[],
                    advisory_type: "enhancement",
                    severity: None,
                    references: &[],
                },
            )
        })
        .unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let results: Vec<Result<(), DbError>> = [first.clone(), second.clone()]
        .into_iter()
        .map(|db| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                db.write(|tx| {
                    barrier.wait();
                    let event = ReleaseEvent {
                        at: 2,
                        actor: "stagerepo".into(),
                        from: Some(ReleaseState::Rollout),
                        to: ReleaseState::Promoted,
                        reason: "the gate is open".into(),
                    };
                    Db::transition_release(tx, id, &event)?;
                    Db::audit(
                        tx,
                        2,
                        "stagerepo",
                        "release.promoted",
                        &format!("release:{id}"),
                        "",
                        Some(id),
                    )
                })
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let applied = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(applied, 1, "{results:?}");
    assert!(
        results.iter().any(|r| matches!(r, Err(DbError::Conflict(_)))),
        "{results:?}"
    );
    let promotions = first
        .audit_entries(Some(id), None)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "release.promoted")
        .count();
    assert_eq!(promotions, 1);
}

/// A webhook receiver on loopback that answers `status` (settable) and records the delivery
/// id and event of every POST with the status it answered.
struct FlakyReceiver {
    url: String,
    status: Arc<std::sync::atomic::AtomicU16>,
    received: Arc<std::sync::Mutex<Vec<(String, String, u16)>>>,
}

impl FlakyReceiver {
    fn start(status: u16) -> FlakyReceiver {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let status = Arc::new(std::sync::atomic::AtomicU16::new(status));
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (answer, log) = (status.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut line, mut headers) = (String::new(), Vec::new());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    line.clear();
                    if reader.read_line(&mut line).is_err() || line.trim_end().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                let get = |k: &str| {
                    headers
                        .iter()
                        .find(|(h, _)| h == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let mut body = vec![0; get("content-length").parse().unwrap_or(0)];
                let _ = reader.read_exact(&mut body);
                let code = answer.load(std::sync::atomic::Ordering::SeqCst);
                log.lock()
                    .unwrap()
                    .push((get("x-stagerepo-delivery"), get("x-stagerepo-event"), code));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        FlakyReceiver { url, status, received }
    }

    fn received(&self) -> Vec<(String, String, u16)> {
        self.received.lock().unwrap().clone()
    }
}

#[test]
fn webhook_delivery_moves_to_the_new_leader_when_the_leader_dies() {
    let (weed, _one) = Seaweed::start(&[BUCKET]);
    let (name, url) = database();
    let config = format!("database_url = \"{url}\"\n{}", weed.config(BUCKET));
    let a = TestServer::start_with_config(&config);
    let b = replica_of(&a, &config);
    let leader = the_leader(&[&a, &b]);
    let hook = FlakyReceiver::start(503);
    let team = a.team_with_element("t", "wh");
    a.add_site("SITE-W", Some(&hook.url));
    a.add_rollout("wh", "SITE-W", "1h");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("wh-app", "1.0", "1")]);
    let id = b.submit(&team, "wh", "1.0.0", &rpms);
    // Announced through the replica that does not lead: the leader delivers, and fails.
    let (servers, follower) = ([&a, &b], 1 - leader);
    servers[follower].cli_ok(None, &["admin", "release", "announce", &id.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !hook.received().iter().any(|(_, event, _)| event == "announce") {
        assert!(Instant::now() < deadline, "the leader never tried the webhook");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (delivery, _, _) = hook.received()[0].clone();
    let delivery_id: i64 = delivery.parse().unwrap();
    let mut db = Cluster::get().client(&name);
    let mut state = move || {
        let row = db
            .query_one(
                "SELECT attempts, delivered_at IS NOT NULL FROM webhook_deliveries WHERE id = $1",
                &[&delivery_id],
            )
            .unwrap();
        let state: (i64, bool) = (row.get(0), row.get(1));
        state
    };
    // The failed attempt is recorded (the next one is due 5 s later).
    while state().0 == 0 {
        assert!(
            Instant::now() < deadline,
            "the failed attempt was never recorded: {:?}\n{}",
            hook.received(),
            servers[leader].log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The leader dies with the delivery pending; the receiver comes back.
    let (mut dead, survivor) = if leader == 0 { (a, b) } else { (b, a) };
    kill_9(&dead);
    dead.stop();
    hook.status.store(200, std::sync::atomic::Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !hook.received().iter().any(|(_, _, code)| *code == 200) {
        assert!(
            Instant::now() < deadline,
            "the survivor never delivered: {:?}\n{}",
            hook.received(),
            survivor.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let received = hook.received();
    let delivered: Vec<_> = received.iter().filter(|(_, _, code)| *code == 200).collect();
    assert_eq!(delivered.len(), 1, "{received:?}");
    assert_eq!(delivered[0].0, delivery, "the same delivery, retried: {received:?}");
    assert!(survivor.log().contains("took the leader lock"), "{}", survivor.log());
    // Recorded as delivered, after the failed attempt.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !state().1 {
        assert!(
            Instant::now() < deadline,
            "the delivery was never recorded as delivered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(state(), (2, true));
    // Nothing more is sent for it.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hook.received().iter().filter(|(_, _, c)| *c == 200).count(), 1);
}

/// The bucket lost the newest generation (its publisher died between recording it and copying
/// it): the next replica to start writes that revision's repository itself, copies it to the
/// bucket and records it, and the other replica then serves that one too.
#[test]
fn a_replica_finding_the_bucket_without_the_newest_generation_records_its_own_and_the_other_adopts_it() {
    use stagerepo::blob::BlobStore;
    let (weed, _one) = Seaweed::start(&[BUCKET]);
    let (_name, url) = database();
    let config = format!("database_url = \"{url}\"\n{}", weed.config(BUCKET));
    let a = TestServer::start_with_config(&config);
    let team = a.team_with_element("t", "lost");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("lost-app", "1.0", "1")]);
    a.submit(&team, "lost", "1.0.0", &rpms);
    let store = weed.store(BUCKET);
    for name in ["repomd.xml", "repomd.xml.asc"] {
        store.delete(&format!("repos/el9/beta/repodata/{name}")).unwrap();
    }
    // A later second: B's generation differs from A's lost one (its `<revision>` is the time).
    std::thread::sleep(Duration::from_millis(1100));

    let b = replica_of(&a, &config);
    assert!(b.log().contains("the bucket lacked the generation"), "{}", b.log());
    let repomd = |s: &TestServer| {
        support::ureq_get(&format!("{}/repo/el9/beta/repodata/repomd.xml", s.url))
            .unwrap()
            .1
    };
    let recorded = repomd(&b);
    assert_eq!(store.get("repos/el9/beta/repodata/repomd.xml").unwrap(), recorded);
    let deadline = Instant::now() + Duration::from_secs(15);
    while repomd(&a) != recorded {
        assert!(
            Instant::now() < deadline,
            "A never adopted B's generation:\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(a.log().contains("serving another replica's publication"), "{}", a.log());
    // Both serve it whole; dnf installs through the one that adopted it.
    let text = String::from_utf8(recorded).unwrap();
    for (href, sha) in repomd_files(&text) {
        for server in [&a, &b] {
            let (status, body) = support::ureq_get(&format!("{}/repo/el9/beta/{href}", server.url)).unwrap();
            assert_eq!(status, 200, "{href}");
            assert_eq!(
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)),
                sha,
                "{href}"
            );
        }
    }
    let root = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", a.url)]);
    root.dnf_ok(&["install", "lost-app"]);
    assert_eq!(root.installed("lost-app").as_deref(), Some("lost-app-1.0-1.noarch"));

    // A publishes next from the adopted files (its own layout no longer describes them); B
    // adopts that generation, and hosts of B upgrade.
    let rpms = build_rpms(work.path(), &[SpecPackage::new("lost-app", "1.1", "1")]);
    a.submit(&team, "lost", "1.1.0", &rpms);
    let newest = repomd(&a);
    let deadline = Instant::now() + Duration::from_secs(15);
    while repomd(&b) != newest {
        assert!(
            Instant::now() < deadline,
            "B never adopted A's generation:\n{}",
            b.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let root = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", b.url)]);
    root.dnf_ok(&["install", "lost-app"]);
    assert_eq!(root.installed("lost-app").as_deref(), Some("lost-app-1.1-1.noarch"));
    let text = String::from_utf8(newest).unwrap();
    let primary = repomd_files(&text)
        .into_iter()
        .find(|(h, _)| h.contains("primary"))
        .unwrap()
        .0;
    let (_, bytes) = support::ureq_get(&format!("{}/repo/el9/beta/{primary}", b.url)).unwrap();
    let xml = String::from_utf8(flate2_or_raw(&bytes)).unwrap();
    assert_eq!(xml.matches("<package ").count(), 2, "{xml}");
}
