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
