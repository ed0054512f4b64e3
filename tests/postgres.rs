//! `database_url = "postgres://..."`: the real server binary with its control plane in a real
//! PostgreSQL (a throw-away cluster, a fresh database per test) through the main flow:
//! upload, submit, announce, report, promotion by the SLA timer, dnf from production, the
//! append-only audit log enforced by the database, conflicts answered as on SQLite, restarts,
//! and (with `storage = "s3"`) the bucket backend on top.

mod support;

use std::time::{Duration, Instant};

use support::postgres::{database, postgres_schema, sqlite_schema, Cluster};
use support::seaweed::Seaweed;
use support::{build_rpms, http, DnfRoot, SpecPackage, TestServer};

/// Counts rows of `table` in the test's database.
fn count(db: &mut postgres::Client, table: &str) -> i64 {
    db.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

/// The flow every engine must pass; `config` selects it. Returns the release id.
fn staged_rollout_with_dnf(server: &mut TestServer, element: &str) -> i64 {
    support::require_tool("dnf");
    let team = server.team_with_element("pg-team", element);
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(
        work.path(),
        &[
            SpecPackage::new(&format!("{element}-lib"), "1.0", "1"),
            SpecPackage::new(&format!("{element}-app"), "1.0", "1").requires(&format!("{element}-lib >= 1.0")),
        ],
    );
    let id = server.submit(&team, element, "1.0.0", &rpms);
    let beta = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    beta.dnf_ok(&["install", &format!("{element}-app")]);
    assert_eq!(
        beta.installed(&format!("{element}-lib")).as_deref(),
        Some(format!("{element}-lib-1.0-1.noarch").as_str())
    );

    // The same release again: the same 409 as on SQLite, one clear line from the CLI.
    let files: Vec<String> = rpms.iter().map(|p| p.display().to_string()).collect();
    let mut args = vec![
        "release",
        "submit",
        "--dist",
        "el9",
        "--element",
        element,
        "--version",
        "1.0.0",
    ];
    args.extend(files.iter().map(String::as_str));
    let (ok, _, err) = server.cli(Some(&team), &args);
    assert!(!ok && err.contains("409") && err.contains("already exists"), "{err}");
    // A duplicate team: the unique constraint of the database, answered as a conflict.
    let (ok, _, err) = server.cli(None, &["admin", "team", "add", "pg-team"]);
    assert!(!ok && err.starts_with("error: 409"), "{err}");

    // Staged rollout: a site with a 2 s SLA reports ok, the SLA timer promotes.
    let (site, _) = server.add_site("SITE-PG", None);
    server.add_rollout(element, "SITE-PG", "2s");
    server.cli_ok(None, &["admin", "release", "announce", &id.to_string()]);
    server.cli_ok(Some(&site), &["site", "report", &id.to_string(), "--ok"]);
    server.wait_for_state(id, "promoted", Duration::from_secs(30));
    let prod = DnfRoot::new(&[format!("{}/repo/el9/production.repo", server.url)]);
    prod.dnf_ok(&["install", &format!("{element}-app")]);
    assert_eq!(
        prod.installed(&format!("{element}-app")).as_deref(),
        Some(format!("{element}-app-1.0-1.noarch").as_str())
    );
    id
}

#[test]
fn the_whole_flow_runs_on_postgresql_and_the_audit_log_is_append_only_in_the_database() {
    let started = Instant::now();
    let (name, url) = database();
    let mut server = TestServer::start_with_config(&format!("database_url = \"{url}\"\n"));
    assert!(server.log().contains("database=\"postgres\"") || server.log().contains("database=postgres"));
    let id = staged_rollout_with_dnf(&mut server, "pgdemo");
    // Nothing went to SQLite: the state is in PostgreSQL.
    assert!(!server.data_dir().join("stagerepo.db").exists());
    let mut db = Cluster::get().client(&name);
    let state: String = db
        .query_one("SELECT state FROM releases WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(state, "promoted");
    let version: i64 = db
        .query_one("SELECT MAX(version) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 1);

    // The audit log refuses UPDATE, DELETE and TRUNCATE from any client, not just the daemon.
    let audited = count(&mut db, "audit");
    assert!(audited >= 5, "{audited} audit rows");
    for sql in [
        "UPDATE audit SET actor = 'someone else'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let err = db.batch_execute(sql).unwrap_err();
        assert_eq!(
            err.code(),
            Some(&postgres::error::SqlState::RESTRICT_VIOLATION),
            "{sql}: {err}"
        );
        assert!(err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"));
    }
    assert_eq!(count(&mut db, "audit"), audited);
    let actors: i64 = db
        .query_one("SELECT COUNT(*) FROM audit WHERE actor = 'someone else'", &[])
        .unwrap()
        .get(0);
    assert_eq!(actors, 0);

    // The API's audit list is the table's.
    let audit = server.get_json("/api/v1/audit");
    let listed = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .expect("audit entries");
    assert_eq!(listed.len() as i64, audited);

    // A restart keeps everything: the release, its events, the served repository.
    let (_, repomd) = support::ureq_get(&format!("{}/repo/el9/production/repodata/repomd.xml", server.url)).unwrap();
    server.restart();
    assert_eq!(server.get_json(&format!("/api/v1/releases/{id}"))["state"], "promoted");
    let (_, again) = support::ureq_get(&format!("{}/repo/el9/production/repodata/repomd.xml", server.url)).unwrap();
    assert_eq!(repomd, again, "repomd.xml is byte-identical after a restart");
    assert_eq!(count(&mut db, "audit"), audited);
    let version: i64 = db
        .query_one("SELECT MAX(version) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 1, "a restart applies no migration twice");

    // admin backup copies SQLite only: refused with a 4xx that says what to use, nothing written.
    let backups = tempfile::tempdir().unwrap();
    let target = backups.path().join("backup");
    let (status, body) = http(
        reqwest::Method::POST,
        &format!("{}/api/v1/admin/backup", server.url),
        Some(&server.admin_token),
        Some(serde_json::to_vec(&serde_json::json!({ "dir": target })).unwrap()),
        &[("content-type", "application/json")],
    )
    .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("pg_dump"), "{body}");
    assert!(!target.exists(), "a refused backup created {}", target.display());
    eprintln!("postgres end-to-end: {:?}", started.elapsed());
}

/// The same flow on SQLite, the default: the same answers (the 409s included), and its
/// duration beside PostgreSQL's.
#[test]
fn the_same_flow_on_sqlite_gives_the_same_answers() {
    let started = Instant::now();
    let mut server = TestServer::start_with_config("");
    let id = staged_rollout_with_dnf(&mut server, "sqdemo");
    assert!(server.data_dir().join("stagerepo.db").exists());
    server.restart();
    assert_eq!(server.get_json(&format!("/api/v1/releases/{id}"))["state"], "promoted");
    eprintln!("sqlite end-to-end: {:?}", started.elapsed());
}

#[test]
fn a_bad_database_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "database_url = \"sqlite:///x.db\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stagerepo"))
        .args(["serve", "--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("database_url"), "{err}");
}

#[test]
fn s3_storage_with_a_postgresql_database_passes_the_same_flow() {
    let started = Instant::now();
    let (weed, _one) = Seaweed::start(&["pgbucket"]);
    let (name, url) = database();
    let mut server = TestServer::start_with_config(&format!("database_url = \"{url}\"\n{}", weed.config("pgbucket")));
    let id = staged_rollout_with_dnf(&mut server, "pgs3");
    let store = weed.store("pgbucket");
    let keys: Vec<String> = stagerepo::blob::BlobStore::list(&store, "").unwrap();
    assert!(
        keys.iter()
            .any(|k| k == "repos/el9/production/Packages/pgs3-app-1.0-1.noarch.rpm"),
        "{keys:#?}"
    );
    let mut db = Cluster::get().client(&name);
    let state: String = db
        .query_one("SELECT state FROM releases WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(state, "promoted");
    server.restart();
    assert_eq!(server.get_json(&format!("/api/v1/releases/{id}"))["state"], "promoted");
    eprintln!("postgres + s3 end-to-end: {:?}", started.elapsed());
}

/// The storage layer answers alike on both engines: the same calls give the same rows, and a
/// unique violation, the append-only trigger and a failed transaction give the same errors.
#[test]
fn storage_calls_answer_alike_on_sqlite_and_postgresql() {
    use stagerepo::db::{Db, DbError};
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::open(&dir.path().join("parity.db")).unwrap();
    let postgres = Db::open_postgres(&database().1).unwrap();
    let mut answers = Vec::new();
    for db in [&sqlite, &postgres] {
        let team = db.insert_team("parity", "hash-1", 100).unwrap();
        // Same name: the unique constraint, whichever engine holds it.
        assert!(
            matches!(db.insert_team("parity", "hash-2", 101), Err(DbError::Conflict(_))),
            "{}",
            db.engine()
        );
        db.write(|tx| Db::audit(tx, 200, "admin", "team.add", "team:parity", "", None))
            .unwrap();
        db.write(|tx| Db::audit(tx, 300, "admin", "release.submit", "release:7", "because", Some(7)))
            .unwrap();
        // The append-only trigger refuses changes inside the daemon's own transactions too.
        let refused = db.write(|tx| tx.execute("UPDATE audit SET actor = 'x'", ()));
        assert!(
            matches!(refused, Err(DbError::Conflict(_))),
            "{}: {refused:?}",
            db.engine()
        );
        let refused = db.write(|tx| tx.execute("DELETE FROM audit", ()));
        assert!(
            matches!(refused, Err(DbError::Conflict(_))),
            "{}: {refused:?}",
            db.engine()
        );
        // A failed transaction leaves nothing behind.
        let failed: Result<(), DbError> = db.write(|tx| {
            Db::audit(tx, 400, "admin", "lost", "x", "", None)?;
            Err(DbError::Corrupt("stop".into()))
        });
        assert!(failed.is_err());
        db.set_setting("k", "v1").unwrap();
        db.set_setting("k", "v2").unwrap();
        let entries: Vec<_> = db
            .audit_entries(None, None)
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.at, e.actor, e.action, e.object, e.reason, e.release))
            .collect();
        let since: Vec<_> = db
            .audit_entries(Some(7), Some(250))
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        // The outboxes: a failed attempt retried, then delivered; a message given up.
        let site = db
            .insert_site(
                "SITE-P",
                None,
                Some("http://127.0.0.1:9/hook"),
                None,
                "site-hash",
                "sealed",
                500,
            )
            .unwrap();
        db.write(|tx| Db::queue_delivery(tx, site.id, "announce", "http://127.0.0.1:9/hook", "{}", 500))
            .unwrap();
        db.write(|tx| Db::queue_mail(tx, "announce", None, &["a@example.org".into()], "s", "b", 500))
            .unwrap();
        let delivery = db.pending_deliveries().unwrap()[0].id;
        db.record_attempt(delivery, 501, Some(503), Some("answered 503"), false, Some(506))
            .unwrap();
        let retried = db.pending_deliveries().unwrap();
        assert_eq!(
            (retried[0].attempts, retried[0].next_attempt_at),
            (1, 506),
            "{}",
            db.engine()
        );
        db.record_attempt(delivery, 506, Some(200), None, true, None).unwrap();
        assert!(db.pending_deliveries().unwrap().is_empty(), "{}", db.engine());
        let mail = db.pending_mail().unwrap()[0].id;
        db.record_mail_attempt(mail, 501, Some("relay down"), Some(506))
            .unwrap();
        assert_eq!(db.pending_mail().unwrap()[0].attempts, 1, "{}", db.engine());
        db.record_mail_attempt(mail, 506, Some("relay down"), None).unwrap();
        assert!(db.pending_mail().unwrap().is_empty(), "{}", db.engine());
        let attempts: Vec<_> = db
            .delivery_attempts(10)
            .unwrap()
            .into_iter()
            .map(|a| (a.delivery, a.site, a.event, a.at, a.status, a.error))
            .collect();
        answers.push((
            team.id,
            db.teams().unwrap().len(),
            db.team_by_token_hash("hash-1").unwrap().map(|t| t.name),
            db.setting("k").unwrap(),
            db.setting("missing").unwrap(),
            entries,
            since,
            attempts,
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(sqlite.engine(), "sqlite");
    assert_eq!(postgres.engine(), "postgres");
    // A SQLite-file backup is refused on PostgreSQL with the tool to use instead.
    let err = postgres.backup_to(&dir.path().join("copy.db")).unwrap_err();
    assert!(
        matches!(&err, DbError::Unsupported(m) if m.contains("pg_dump")),
        "{err}"
    );
    sqlite.backup_to(&dir.path().join("copy.db")).unwrap();
}

/// The daemon's session ended by the database (an administrator, a failover, a restart): the
/// next requests reconnect instead of failing from then on.
#[test]
fn a_closed_database_connection_is_replaced() {
    let (name, url) = database();
    let server = TestServer::start_with_config(&format!("database_url = \"{url}\"\n"));
    server.add_team("before");
    let mut admin = Cluster::get().client("postgres");
    for round in 0..2 {
        let ended: i64 = admin
            .query_one(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                &[&name],
            )
            .unwrap()
            .get(0);
        assert!(ended >= 1, "round {round}: no session of the daemon to end");
        // A write (its BEGIN finds the connection closed) and a read, both answered.
        server.add_team(&format!("after-{round}"));
        let teams = server.get_json("/api/v1/admin/teams");
        let names: Vec<&str> = teams
            .as_array()
            .expect("teams")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert!(
            names.contains(&"before") && names.contains(&format!("after-{round}").as_str()),
            "{names:?}"
        );
    }
    assert!(server.log().contains("connecting again"), "{}", server.log());
}

/// Fills the file system holding `dir` (large writes, then ever smaller ones: tmpfs counts
/// its pages in per-CPU batches, so "full" only holds once small allocations fail too).
fn fill(dir: &std::path::Path) {
    use std::io::Write;
    std::fs::create_dir_all(dir).unwrap();
    for (i, size) in [1usize << 20, 1 << 12, 1].into_iter().enumerate() {
        let mut failures = 0;
        let mut n = 0;
        while failures < 3 {
            n += 1;
            let Ok(mut f) = std::fs::File::create(dir.join(format!("{i}-{n}"))) else {
                failures += 1;
                continue;
            };
            while f.write_all(&vec![0u8; size]).and_then(|_| f.sync_data()).is_ok() {}
            failures += 1;
        }
    }
}

/// PostgreSQL out of space (its tablespace on a small full tmpfs) is SQLSTATE 53100: the
/// upload answers 507 like SQLite's SQLITE_FULL and records nothing; once space is back,
/// the same upload succeeds.
#[test]
fn a_full_database_disk_answers_507() {
    let base = tempfile::tempdir().unwrap();
    let mount = base.path().join("space");
    std::fs::create_dir_all(&mount).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs"])
        .arg(&mount)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mounting a tmpfs (the test runs as root)");
    /// Unmounts on drop, also when the test fails.
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            if !std::process::Command::new("umount")
                .arg(&self.0)
                .status()
                .is_ok_and(|s| s.success())
            {
                let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
            }
        }
    }
    let _unmount = Unmount(mount.clone());
    let space = mount.join("tablespace");
    std::fs::create_dir_all(&space).unwrap();
    let ok = std::process::Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&space)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    // The database base dir must be reachable by the postgres user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = Cluster::get();
    let name = format!("full{}", std::process::id());
    let mut admin = cluster.client("postgres");
    // One statement per call: neither runs inside a transaction block.
    admin
        .batch_execute(&format!("CREATE TABLESPACE {name} LOCATION '{}'", space.display()))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TABLESPACE {name}"))
        .unwrap();
    let mut server = TestServer::start_with_config(&format!("database_url = \"{}\"\n", cluster.url(&name)));
    let team = server.team_with_element("full-team", "pgfull");
    let work = tempfile::tempdir().unwrap();
    // A package whose recorded metadata (file lists) needs new pages in the packages table.
    let mut spec = SpecPackage::new("pgfull", "1.0", "1");
    for i in 0..200 {
        spec = spec.file(&format!(
            "/usr/share/pgfull/a-rather-long-file-name-to-take-space-{i:04}"
        ));
    }
    let rpms = build_rpms(work.path(), &[spec]);
    let upload = || {
        http(
            reqwest::Method::PUT,
            &format!("{}/api/v1/upload/pgfull-1.0-1.noarch.rpm", server.url),
            Some(&team),
            Some(std::fs::read(&rpms[0]).unwrap()),
            &[],
        )
        .unwrap()
    };
    fill(&mount.join("filler"));
    let (status, body) = upload();
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, 507, "{body}\n{}", server.log());
    assert!(body.contains("disk is full"), "{body}");
    assert!(server.log().contains("53100"), "{}", server.log());
    let (status, _) = http(
        reqwest::Method::GET,
        &format!("{}/api/v1/packages/pgfull-1.0-1.noarch.rpm", server.url),
        None,
        None,
        &[],
    )
    .unwrap();
    assert_eq!(status, 404, "the refused upload is not recorded");
    // Space again: the same upload goes through.
    std::fs::remove_dir_all(mount.join("filler")).unwrap();
    let (status, body) = upload();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    server.stop();
    admin.batch_execute(&format!("DROP DATABASE {name}")).unwrap();
    admin.batch_execute(&format!("DROP TABLESPACE {name}")).unwrap();
}

/// The PostgreSQL migrations give the schema SQLite's give: same tables and columns (BIGINT for
/// INTEGER), nullability, defaults, unique keys, foreign keys and indexes. A new SQLite
/// migration without its PostgreSQL counterpart fails here.
#[test]
fn both_engines_migrate_to_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.db");
    drop(stagerepo::db::Db::open(&path).unwrap());
    let (name, url) = database();
    drop(stagerepo::db::Db::open_postgres(&url).unwrap());
    let sqlite = sqlite_schema(&path);
    let postgres = postgres_schema(&mut Cluster::get().client(&name));
    assert!(sqlite.columns.len() > 100, "{sqlite:#?}");
    fn same<T: Ord + std::fmt::Debug>(
        what: &str,
        a: &std::collections::BTreeSet<T>,
        b: &std::collections::BTreeSet<T>,
    ) {
        let only_sqlite: Vec<_> = a.difference(b).collect();
        let only_postgres: Vec<_> = b.difference(a).collect();
        assert!(
            only_sqlite.is_empty() && only_postgres.is_empty(),
            "{what}: only in SQLite {only_sqlite:#?}, only in PostgreSQL {only_postgres:#?}"
        );
    }
    same("columns", &sqlite.columns, &postgres.columns);
    same("unique keys", &sqlite.unique, &postgres.unique);
    same("foreign keys", &sqlite.foreign, &postgres.foreign);
    same("indexes", &sqlite.indexes, &postgres.indexes);
}

/// An installation on SQLite moves to PostgreSQL: `copy-database` with the server stopped, then
/// the same data directory with `database_url`. Everything reads back the same (audit log ids
/// included), production is served byte for byte, and new records continue after the copied
/// ids. A second copy into the filled database is refused.
#[test]
fn an_sqlite_installation_moves_to_postgresql() {
    let mut server = TestServer::start_with_config("");
    let id = staged_rollout_with_dnf(&mut server, "mvdemo");
    let audit = server.get_json("/api/v1/audit");
    // A release as shown, less what the clock computes (seconds left of each site's period).
    let release = |server: &TestServer| {
        let mut v = server.get_json(&format!("/api/v1/releases/{id}"));
        for site in v["sites"].as_array_mut().unwrap() {
            site.as_object_mut().unwrap().remove("seconds_left");
        }
        v
    };
    let before = release(&server);
    let (_, repomd) = support::ureq_get(&format!("{}/repo/el9/production/repodata/repomd.xml", server.url)).unwrap();
    server.stop();

    let (name, url) = database();
    let data_dir = server.data_dir();
    let copy = |url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_stagerepo"))
            .args(["copy-database", "--json", "--to", url, "--data-dir"])
            .arg(&data_dir)
            .env_remove("STAGEREPO_DATABASE_URL")
            .output()
            .unwrap()
    };
    let out = copy(&url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(outcome["rows"].as_u64().unwrap() > 20, "{outcome}");

    server.restart_with(&["--database-url", &url]);
    assert!(server.log().contains("database=\"postgres\"") || server.log().contains("database=postgres"));
    assert_eq!(server.get_json("/api/v1/audit"), audit);
    assert_eq!(release(&server), before);
    let (_, again) = support::ureq_get(&format!("{}/repo/el9/production/repodata/repomd.xml", server.url)).unwrap();
    assert_eq!(repomd, again, "production is served unchanged");
    // New rows get ids after the copied ones.
    let team = server.add_team("after-the-move");
    server.add_element("mvnext", "after-the-move");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("mvnext", "1.0", "1")]);
    let next = server.submit(&team, "mvnext", "1.0.0", &rpms);
    assert_eq!(next, id + 1);
    let entries = server.get_json("/api/v1/audit");
    let ids: Vec<i64> = entries
        .as_array()
        .or_else(|| entries["entries"].as_array())
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let mut db = Cluster::get().client(&name);
    assert_eq!(count(&mut db, "releases"), 2);

    // Into a database that holds data: refused, nothing changed.
    let out = copy(&url);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds data"));
    assert_eq!(count(&mut db, "releases"), 2);
}
