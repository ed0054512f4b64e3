//! A throw-away PostgreSQL cluster (Debian's `postgresql` package): one per test binary, on a
//! loopback port with trust authentication, run as the `postgres` user (initdb refuses root);
//! each test gets a fresh database from [`database`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running cluster.
pub struct Cluster {
    /// The loopback port it listens on.
    pub port: u16,
    dir: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The newest installed server's binaries (`/usr/lib/postgresql/<major>/bin`); fails, never
/// skips, when PostgreSQL is not installed.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run ./scripts/test, which installs it",
    )
}

/// `program args` as the postgres user; `pdeathsig` ends it with the test process.
fn as_postgres(program: &Path, pdeathsig: bool) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
    if pdeathsig {
        // Fast shutdown when the thread that started it (alive as long as the process) ends.
        cmd.arg("--pdeathsig=SIGINT");
    }
    cmd.arg(program);
    cmd
}

fn chown_postgres(path: &Path) {
    let ok = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown postgres {}", path.display());
}

/// Removes the clusters of earlier test runs whose process is gone.
fn remove_stale(root: &Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let alive = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Cluster {
    /// The cluster of this test binary, started on first use.
    pub fn get() -> &'static Cluster {
        CLUSTER.get_or_init(Cluster::start)
    }

    fn start() -> Cluster {
        let bin = bin_dir();
        super::require_tool("setpriv");
        let root = std::env::temp_dir().join("stagerepo-pg-tests");
        std::fs::create_dir_all(&root).unwrap();
        remove_stale(&root);
        let dir = root.join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sock")).unwrap();
        // The postgres user must reach its directories.
        for d in [&root, &dir] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        chown_postgres(&dir);
        let data = dir.join("data");
        let out = as_postgres(&bin.join("initdb"), false)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("postgres.log")).unwrap();
        let (started, ready) = std::sync::mpsc::channel();
        let (postgres, data_arg, sock) = (bin.join("postgres"), data.clone(), dir.join("sock"));
        // The server is this thread's child: the thread never ends, so the server lives until
        // the test process exits (then --pdeathsig stops it).
        std::thread::spawn(move || {
            let child = as_postgres(&postgres, true)
                .arg("-D")
                .arg(&data_arg)
                .arg("-p")
                .arg(port.to_string())
                .arg("-k")
                .arg(&sock)
                .args([
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn();
            let _ = started.send(child.map(|_| ()).map_err(|e| e.to_string()));
            loop {
                std::thread::park();
            }
        });
        ready.recv().unwrap().expect("postgres did not start");
        let cluster = Cluster { port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match ::postgres::Client::connect(&cluster.url("postgres"), ::postgres::NoTls) {
                Ok(_) => break,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("postgres did not accept connections: {e}\n{}", cluster.log()),
            }
        }
        cluster
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// A client of database `name`.
    pub fn client(&self, name: &str) -> ::postgres::Client {
        ::postgres::Client::connect(&self.url(name), ::postgres::NoTls).unwrap()
    }
}

/// A new empty database in this binary's cluster: (name, URL).
pub fn database() -> (String, String) {
    let cluster = Cluster::get();
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    cluster
        .client("postgres")
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = cluster.url(&name);
    (name, url)
}

/// One description of a schema (for comparing the engines' migrations), engine-neutral: columns (type, NOT NULL, default), unique
/// keys, foreign keys and the explicit indexes.
#[derive(Debug, Default)]
pub struct Schema {
    pub columns: std::collections::BTreeSet<(String, String, String, bool, Option<String>)>,
    pub unique: std::collections::BTreeSet<(String, Vec<String>)>,
    pub foreign: std::collections::BTreeSet<(String, String, String, String)>,
    pub indexes: std::collections::BTreeSet<(String, String)>,
}

pub fn sqlite_schema(path: &std::path::Path) -> Schema {
    let db = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut s = Schema::default();
    for t in &tables {
        let cols: Vec<(String, String, bool, Option<String>, i64)> = db
            .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)")
            .unwrap()
            .query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (name, ty, notnull, default, pk) in &cols {
            let ty = if ty == "INTEGER" { "bigint" } else { "text" };
            // A primary key column is NOT NULL (SQLite's INTEGER PRIMARY KEY is the rowid).
            s.columns
                .insert((t.clone(), name.clone(), ty.into(), *notnull || *pk > 0, default.clone()));
        }
        let pk: Vec<(i64, String)> = cols.iter().filter(|c| c.4 > 0).map(|c| (c.4, c.0.clone())).collect();
        if pk.len() == 1 {
            s.unique.insert((t.clone(), vec![pk[0].1.clone()]));
        }
        let indexes: Vec<(String, bool, String)> = db
            .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")
            .unwrap()
            .query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (index, unique, origin) in indexes {
            let columns: Vec<String> = db
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .unwrap()
                .query_map([&index], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            if unique {
                s.unique.insert((t.clone(), columns));
            }
            if origin == "c" {
                s.indexes.insert((t.clone(), index));
            }
        }
        let fks: Vec<(String, String, String)> = db
            .prepare("SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?1)")
            .unwrap()
            .query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (from, table, to) in fks {
            s.foreign.insert((t.clone(), from, table, to));
        }
    }
    s
}

pub fn postgres_schema(db: &mut ::postgres::Client) -> Schema {
    let mut s = Schema::default();
    for row in db
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'NO', column_default::text
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_version'",
            &[],
        )
        .unwrap()
    {
        // '[]'::text and 0 alike: the literal without PostgreSQL's cast.
        let default: Option<String> = row.get::<_, Option<String>>(4).map(|d| d.replace("::text", ""));
        s.columns
            .insert((row.get(0), row.get(1), row.get(2), row.get(3), default));
    }
    for row in db
        .query(
            "SELECT t.relname::text, array_agg(a.attname::text ORDER BY k.ord)
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             WHERE i.indisunique AND t.relname <> 'schema_version' GROUP BY t.relname, i.indexrelid",
            &[],
        )
        .unwrap()
    {
        s.unique.insert((row.get(0), row.get(1)));
    }
    for row in db
        .query(
            "SELECT cl.relname::text, a.attname::text, clf.relname::text, af.attname::text
             FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class clf ON clf.oid = c.confrelid
             CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(a1, a2)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.a1
             JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.a2
             WHERE c.contype = 'f'",
            &[],
        )
        .unwrap()
    {
        s.foreign.insert((row.get(0), row.get(1), row.get(2), row.get(3)));
    }
    for row in db
        .query(
            "SELECT i.tablename::text, i.indexname::text FROM pg_indexes i
             WHERE i.schemaname = 'public' AND NOT EXISTS
                (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            &[],
        )
        .unwrap()
    {
        s.indexes.insert((row.get(0), row.get(1)));
    }
    s
}
