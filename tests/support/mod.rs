//! Shared helpers for the integration tests: the real server binary on a loopback port, RPMs
//! built with the real rpmbuild, and real dnf against installroots.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod postgres;
pub mod repoclosure;
pub mod seaweed;

/// Fails (never skips) when a tool the tests need is missing: run the README's test command,
/// which installs them.
pub fn require_tool(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run ./scripts/test, which installs what the tests need"
    );
}

/// Path to the shared test data (`../shared/testdata` next to the project).
pub fn shared_testdata() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    assert!(p.is_dir(), "shared test data missing at {}", p.display());
    p
}

/// A running `stagerepo serve` with its own data directory; killed on drop.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub admin_token: String,
    child: Option<Child>,
    pub log: PathBuf,
    extra_args: Vec<String>,
    port: u16,
    /// The CA certificate (PEM) clients trust when the server speaks HTTPS.
    ca_pem: Option<Vec<u8>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestServer {
    /// Starts a server on a free loopback port.
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    /// Starts a server with extra `serve` arguments.
    pub fn start_with(extra: &[&str]) -> TestServer {
        Self::start_custom(tempfile::tempdir().unwrap(), extra, None)
    }

    /// Starts a server with a configuration file holding `toml`.
    pub fn start_with_config(toml: &str) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("stagerepo.toml");
        std::fs::write(&config, toml).unwrap();
        Self::start_custom(dir, &["--config", config.to_str().unwrap()], None)
    }

    /// Waits until release `id` is in `state` (at most `limit`); returns how long that took.
    pub fn wait_for_state(&self, id: i64, state: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let v = self.get_json(&format!("/api/v1/releases/{id}"));
            if v["state"] == state {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "release {id} still {} after {limit:?}: {v:#}",
                v["state"]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts a server in `dir`, whose `data` subdirectory may already hold a data directory,
    /// speaking HTTPS with a certificate signed by `ca_pem` when given.
    ///
    /// With `STAGEREPO_TEST_DATABASE=postgres` in the environment, the server keeps its
    /// database in a fresh PostgreSQL database of this binary's throw-away cluster instead
    /// (for running any test on that engine by hand).
    pub fn start_custom(dir: tempfile::TempDir, extra: &[&str], ca_pem: Option<Vec<u8>>) -> TestServer {
        let port = free_port();
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        if std::env::var("STAGEREPO_TEST_DATABASE").as_deref() == Ok("postgres") {
            extra.extend(["--database-url".to_string(), postgres::database().1]);
        }
        let scheme = if ca_pem.is_some() { "https" } else { "http" };
        let mut s = TestServer {
            url: format!("{scheme}://127.0.0.1:{port}"),
            log: dir.path().join("server.log"),
            dir,
            admin_token: String::new(),
            child: None,
            extra_args: extra,
            port,
            ca_pem,
        };
        s.spawn();
        s.admin_token = std::fs::read_to_string(s.data_dir().join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        s
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_stagerepo"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.extra_args)
            .env_remove("STAGEREPO_CONFIG")
            .env_remove("STAGEREPO_DATABASE_URL")
            .env("STAGEREPO_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting stagerepo");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = match &self.ca_pem {
                Some(ca) => https_get(&format!("{}/healthz", self.url), ca),
                None => ureq_get(&format!("{}/healthz", self.url)),
            };
            if let Ok(r) = ready {
                if r.0 == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server did not start; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Stops the server and starts it again with `more` serve arguments from now on.
    pub fn restart_with(&mut self, more: &[&str]) {
        self.stop();
        self.extra_args.extend(more.iter().map(|s| s.to_string()));
        self.spawn();
    }

    /// Runs the CLI against this server; returns (success, stdout, stderr).
    pub fn cli(&self, token: Option<&str>, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stagerepo"));
        cmd.args(args)
            .env("STAGEREPO_SERVER", &self.url)
            .env("STAGEREPO_DATA_DIR", self.data_dir());
        cmd.env_remove("STAGEREPO_TOKEN");
        if let Some(t) = token {
            cmd.env("STAGEREPO_TOKEN", t);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs the CLI and requires success.
    pub fn cli_ok(&self, token: Option<&str>, args: &[&str]) -> String {
        let (ok, out, err) = self.cli(token, args);
        assert!(ok, "stagerepo {args:?} failed:\nstdout: {out}\nstderr: {err}");
        out
    }

    /// Creates a team through the admin CLI; returns its token.
    pub fn add_team(&self, name: &str) -> String {
        let out = self.cli_ok(None, &["admin", "team", "add", name, "--json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    /// Creates an element owned by `team` through the admin CLI.
    pub fn add_element(&self, name: &str, team: &str) {
        self.cli_ok(None, &["admin", "element", "add", name, "--team", team]);
    }

    /// Creates a team and an element it owns; returns the team's token.
    pub fn team_with_element(&self, team: &str, element: &str) -> String {
        let token = self.add_team(team);
        self.add_element(element, team);
        token
    }

    /// Creates a site; returns (token, webhook secret).
    pub fn add_site(&self, name: &str, webhook: Option<&str>) -> (String, String) {
        let mut args = vec!["admin", "site", "add", name, "--json"];
        if let Some(w) = webhook {
            args.extend(["--webhook", w]);
        }
        let v: Value = serde_json::from_str(&self.cli_ok(None, &args)).unwrap();
        (
            v["token"].as_str().unwrap().to_string(),
            v["webhook_secret"].as_str().unwrap().to_string(),
        )
    }

    /// Uploads and submits files as a release; returns the release id.
    pub fn submit(&self, token: &str, element: &str, version: &str, files: &[PathBuf]) -> i64 {
        let mut args = vec![
            "release".to_string(),
            "submit".into(),
            "--dist".into(),
            "el9".into(),
            "--element".into(),
            element.into(),
            "--version".into(),
            version.into(),
            "--json".into(),
        ];
        args.extend(files.iter().map(|f| f.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v: Value = serde_json::from_str(&self.cli_ok(Some(token), &args)).unwrap();
        v["id"].as_i64().expect("release id")
    }

    /// Makes `site` a rollout site of `element` with SLA `sla` (`admin rollout add`); returns
    /// what the command printed.
    pub fn add_rollout(&self, element: &str, site: &str, sla: &str) -> String {
        self.cli_ok(
            None,
            &[
                "admin",
                "rollout",
                "add",
                "--element",
                element,
                "--site",
                site,
                "--sla",
                sla,
            ],
        )
    }

    /// Promotes release `id` past its gate (`admin release promote --force`).
    pub fn promote_forced(&self, id: i64, reason: &str) {
        self.cli_ok(
            None,
            &[
                "admin",
                "release",
                "promote",
                &id.to_string(),
                "--force",
                "--reason",
                reason,
            ],
        );
    }

    /// GET a JSON API path.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = http(
            reqwest::Method::GET,
            &format!("{}{path}", self.url),
            Some(&self.admin_token),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
        json(&body)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal HTTP GET (status, body) without extra dependencies.
pub fn ureq_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    http(reqwest::Method::GET, url, None, None, &[])
}

/// GET over HTTPS trusting only `ca_pem`: (status, body).
pub fn https_get(url: &str, ca_pem: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let client = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).map_err(|e| e.to_string())?)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client.get(url).send().map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.bytes().map_err(|e| e.to_string())?.to_vec()))
}

/// One HTTP request: returns status and body.
pub fn http(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Result<(u16, Vec<u8>), String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    Ok((status, resp.bytes().map_err(|e| e.to_string())?.to_vec()))
}

/// A package to build with rpmbuild.
#[derive(Clone, Debug)]
pub struct SpecPackage {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub requires: Vec<String>,
    pub provides: Vec<String>,
    /// Extra files installed under /usr/share/<name>/.
    pub payload_bytes: usize,
    /// `Requires(pre):` entries.
    pub requires_pre: Vec<String>,
    /// `Conflicts:` entries.
    pub conflicts: Vec<String>,
    /// `Obsoletes:` entries.
    pub obsoletes: Vec<String>,
    /// More files (absolute paths) the package owns; a path ending in `/` is a directory.
    pub files: Vec<String>,
}

impl SpecPackage {
    /// A noarch package without automatic dependencies.
    pub fn new(name: &str, version: &str, release: &str) -> SpecPackage {
        SpecPackage {
            name: name.into(),
            version: version.into(),
            release: release.into(),
            epoch: None,
            requires: vec![],
            provides: vec![],
            payload_bytes: 0,
            requires_pre: vec![],
            conflicts: vec![],
            obsoletes: vec![],
            files: vec![],
        }
    }

    /// Sets the epoch.
    pub fn epoch(mut self, e: u32) -> Self {
        self.epoch = Some(e);
        self
    }

    /// Adds a `Provides:`.
    pub fn provides(mut self, p: &str) -> Self {
        self.provides.push(p.into());
        self
    }

    /// Adds a `Requires(pre):`.
    pub fn requires_pre(mut self, r: &str) -> Self {
        self.requires_pre.push(r.into());
        self
    }

    /// Adds a `Conflicts:`.
    pub fn conflicts(mut self, c: &str) -> Self {
        self.conflicts.push(c.into());
        self
    }

    /// Adds an `Obsoletes:`.
    pub fn obsoletes(mut self, o: &str) -> Self {
        self.obsoletes.push(o.into());
        self
    }

    /// Adds a file (absolute path; ending in `/` for a directory) to the package.
    pub fn file(mut self, path: &str) -> Self {
        self.files.push(path.into());
        self
    }

    /// Adds a `Requires:`.
    pub fn requires(mut self, r: &str) -> Self {
        self.requires.push(r.into());
        self
    }

    /// The file name rpmbuild will produce.
    pub fn filename(&self) -> String {
        format!("{}-{}-{}.noarch.rpm", self.name, self.version, self.release)
    }
}

/// Builds RPMs with the real rpmbuild into `out`; returns their paths.
pub fn build_rpms(out: &Path, pkgs: &[SpecPackage]) -> Vec<PathBuf> {
    require_tool("rpmbuild");
    let top = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for p in pkgs {
        let mut spec = String::new();
        spec.push_str(&format!(
            "Name: {}\nVersion: {}\nRelease: {}\n",
            p.name, p.version, p.release
        ));
        if let Some(e) = p.epoch {
            spec.push_str(&format!("Epoch: {e}\n"));
        }
        spec.push_str("Summary: stagerepo test package\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n");
        for r in &p.requires {
            spec.push_str(&format!("Requires: {r}\n"));
        }
        for r in &p.provides {
            spec.push_str(&format!("Provides: {r}\n"));
        }
        for r in &p.requires_pre {
            spec.push_str(&format!("Requires(pre): {r}\n"));
        }
        for c in &p.conflicts {
            spec.push_str(&format!("Conflicts: {c}\n"));
        }
        for o in &p.obsoletes {
            spec.push_str(&format!("Obsoletes: {o}\n"));
        }
        spec.push_str(&format!(
            "\n%description\nTest package {name} for stagerepo.\n\n%install\nmkdir -p %{{buildroot}}/usr/share/{name}\n\
             echo '{name} {version}-{release}' > %{{buildroot}}/usr/share/{name}/VERSION\n",
            name = p.name,
            version = p.version,
            release = p.release
        ));
        if p.payload_bytes > 0 {
            spec.push_str(&format!(
                "head -c {} /dev/urandom > %{{buildroot}}/usr/share/{}/blob\n",
                p.payload_bytes, p.name
            ));
        }
        for f in &p.files {
            match f.strip_suffix('/') {
                Some(dir) => spec.push_str(&format!("mkdir -p %{{buildroot}}{dir}\n")),
                None => spec.push_str(&format!(
                    "mkdir -p \"$(dirname %{{buildroot}}{f})\"\necho '{name}' > %{{buildroot}}{f}\n",
                    name = p.name
                )),
            }
        }
        spec.push_str(&format!("\n%files\n/usr/share/{}\n", p.name));
        for f in &p.files {
            match f.strip_suffix('/') {
                Some(dir) => spec.push_str(&format!("%dir {dir}\n")),
                None => spec.push_str(&format!("{f}\n")),
            }
        }
        spec.push_str(&format!(
            "\n%changelog\n* Mon Nov 23 2026 Test <test@example.org> - {}-{}\n- Test build\n",
            p.version, p.release
        ));
        let spec_path = top.path().join(format!("{}.spec", p.name));
        std::fs::write(&spec_path, spec).unwrap();
        let status = Command::new("rpmbuild")
            .arg("-bb")
            .arg("--quiet")
            .arg("--define")
            .arg(format!("_topdir {}", top.path().display()))
            .arg("--define")
            .arg("_binary_payload w2.gzdio")
            .arg(&spec_path)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "rpmbuild failed for {}", p.name);
        let built = top.path().join("RPMS/noarch").join(p.filename());
        let dest = out.join(p.filename());
        std::fs::copy(&built, &dest).unwrap();
        paths.push(dest);
    }
    paths
}

/// An empty installroot plus a reposdir holding the given `.repo` files, for real dnf.
pub struct DnfRoot {
    pub dir: tempfile::TempDir,
}

impl DnfRoot {
    /// A fresh root whose yum.repos.d holds the `.repo` files downloaded from `repo_urls`.
    pub fn new(repo_urls: &[String]) -> DnfRoot {
        require_tool("dnf");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("repos")).unwrap();
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        let root = DnfRoot { dir };
        root.set_repos(repo_urls);
        root
    }

    /// Replaces the repository definitions.
    pub fn set_repos(&self, repo_urls: &[String]) {
        let repos = self.dir.path().join("repos");
        for e in std::fs::read_dir(&repos).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
        for (i, url) in repo_urls.iter().enumerate() {
            let (status, body) = ureq_get(url).unwrap();
            assert_eq!(status, 200, "GET {url}");
            std::fs::write(repos.join(format!("r{i}.repo")), body).unwrap();
        }
    }

    /// Runs dnf with the given arguments; returns (success, stdout+stderr).
    pub fn dnf(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("dnf")
            .arg("-y")
            .arg(format!("--installroot={}", self.dir.path().join("root").display()))
            .arg("--disableplugin=local")
            .arg("--releasever=9")
            .arg(format!("--setopt=reposdir={}", self.dir.path().join("repos").display()))
            .arg("--setopt=install_weak_deps=False")
            .arg("--refresh")
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// dnf that must succeed.
    pub fn dnf_ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.dnf(args);
        assert!(ok, "dnf {args:?} failed:\n{text}");
        text
    }

    /// `rpm -q` in the root: the installed NEVRA of `name`, or None.
    pub fn installed(&self, name: &str) -> Option<String> {
        let out = Command::new("rpm")
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("-q")
            .arg("--qf")
            .arg("%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}")
            .arg(name)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// Parses a JSON body.
pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// Reads every file under `dir` into a sorted map (path -> bytes), for before/after comparison.
pub fn snapshot_tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Runs the real createrepo_c on `dir` (gzip metadata, as our repodata writes).
pub fn createrepo(dir: &Path) {
    require_tool("createrepo_c");
    let out = Command::new("createrepo_c")
        .arg("--quiet")
        .arg("--no-database")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "createrepo_c {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- Rollout on evidence (deployment reports, gate conditions) ----

impl TestServer {
    /// Sends one host's deployment report for a site (`packages` as name-version-release.arch).
    pub fn report_deployment(&self, site_token: &str, host: &str, packages: &[&str]) -> Value {
        let body = serde_json::json!({ "host": host, "packages": packages });
        let (status, out) = http(
            reqwest::Method::POST,
            &format!("{}/api/v1/deployments", self.url),
            Some(site_token),
            Some(serde_json::to_vec(&body).unwrap()),
            &[("Content-Type", "application/json")],
        )
        .unwrap();
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&out));
        json(&out)
    }
}

/// The gate condition named `name` of a release's JSON.
pub fn gate_condition<'a>(release: &'a Value, name: &str) -> &'a Value {
    release["gate"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no gate condition {name}: {release:#}"))
}

/// (href, sha256) of every file a repomd.xml names.
pub fn repomd_files(repomd: &str) -> Vec<(String, String)> {
    repomd
        .split("<data ")
        .skip(1)
        .map(|block| {
            let between = |a: &str, b: &str| {
                let start = block.find(a).unwrap_or_else(|| panic!("no {a} in {block}")) + a.len();
                block[start..start + block[start..].find(b).unwrap()].to_string()
            };
            (
                between("<location href=\"", "\""),
                between("<checksum type=\"sha256\">", "<"),
            )
        })
        .collect()
}
