//! Issue 14 items 3-5, against the real server binary: garbage refused before it is written,
//! the temporary space of concurrent uploads bounded, trickled uploads cut, a full disk
//! answered 507 with nothing corrupted.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::*;

/// A response read off a raw connection: status, headers (lower-case names), body.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl RawResponse {
    fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

/// A `PUT /api/v1/upload/...` on a raw TCP connection, so the test controls when each body
/// byte is sent and sees the response the moment it arrives (a reader thread waits for it).
struct RawUpload {
    stream: TcpStream,
    response: mpsc::Receiver<(Instant, Result<RawResponse, String>)>,
}

impl RawUpload {
    fn start(server: &TestServer, filename: &str, token: &str, content_length: u64) -> RawUpload {
        let addr = server.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        write!(
            stream,
            "PUT /api/v1/upload/{filename} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/x-rpm\r\nContent-Length: {content_length}\r\n\r\n"
        )
        .unwrap();
        let mut reader = stream.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let got = read_response(&mut reader);
            let _ = tx.send((Instant::now(), got));
        });
        RawUpload { stream, response: rx }
    }

    /// Sends body bytes; false once the server no longer takes them.
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// The response, if it arrived.
    fn try_response(&self) -> Option<(Instant, RawResponse)> {
        self.response.try_recv().ok().map(|(t, r)| (t, r.unwrap()))
    }

    /// Waits for the response (at most `limit`).
    fn response(&self, limit: Duration) -> (Instant, RawResponse) {
        let (t, r) = self
            .response
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("no response within {limit:?}"));
        (t, r.unwrap())
    }
}

/// Reads one HTTP/1.1 response (Content-Length or chunked body).
fn read_response(stream: &mut TcpStream) -> Result<RawResponse, String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => return Err(format!("closed after {} bytes", buf.len())),
            Ok(_) => buf.push(byte[0]),
            Err(e) => return Err(format!("{e} after {} bytes", buf.len())),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line: {head}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = vec![0u8; length.ok_or_else(|| format!("no Content-Length: {head}"))?];
    stream.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok(RawResponse {
        status,
        headers,
        body: json(&body),
    })
}

/// Total bytes of the files under `dir`, and how many there are.
fn dir_usage(dir: &Path) -> (u64, usize) {
    let mut total = (0, 0);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(m) = e.metadata() {
            total.0 += m.len();
            total.1 += 1;
        }
    }
    total
}

/// Watches `dir` every few milliseconds until dropped; remembers the largest usage.
struct DirWatch {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
}

impl DirWatch {
    fn new(dir: PathBuf) -> DirWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(dir_usage(&dir).0, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        DirWatch { stop, max }
    }

    fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }
}

impl Drop for DirWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An upload with reqwest: status, `Retry-After`, JSON body. `chunked` sends the body without
/// a Content-Length.
fn put(server: &TestServer, token: &str, file: &Path, chunked: bool) -> (u16, Option<String>, Value) {
    let name = file.file_name().unwrap().to_str().unwrap();
    let bytes = std::fs::read(file).unwrap();
    let body = if chunked {
        reqwest::blocking::Body::new(std::io::Cursor::new(bytes))
    } else {
        reqwest::blocking::Body::from(bytes)
    };
    let resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .put(format!("{}/api/v1/upload/{name}", server.url))
        .bearer_auth(token)
        .body(body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.bytes().unwrap();
    (status, retry, json(&text))
}

fn tmp_dir(server: &TestServer) -> PathBuf {
    server.data_dir().join("tmp")
}

/// Streams `prefix` and then zeros, 200 MB in all (declared in Content-Length), and requires
/// a 400 whose detail starts with `needle` before a tenth of it was sent, with nothing written to tmp/.
fn refused_early(server: &TestServer, team: &str, prefix: &[u8], needle: &str) {
    const BODY: u64 = 200 * 1024 * 1024;
    let watch = DirWatch::new(tmp_dir(server));
    let mut upload = RawUpload::start(server, "zero-1.0-1.noarch.rpm", team, BODY);
    assert!(upload.send(prefix));
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = prefix.len() as u64;
    let started = Instant::now();
    let mut at_response = None;
    while sent < BODY {
        if let Some((_, r)) = upload.try_response() {
            at_response = Some((sent, r));
            break;
        }
        let n = chunk.len().min((BODY - sent) as usize);
        if !upload.send(&chunk[..n]) {
            break;
        }
        sent += n as u64;
    }
    let (sent_before_answer, response) = match at_response {
        Some(got) => got,
        // The server stopped reading: the answer must be there already, or arrive at once.
        None => (sent, upload.response(Duration::from_secs(10)).1),
    };
    let elapsed = started.elapsed();
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(response.body["error"], "invalid package");
    assert!(response.detail().starts_with(needle), "{needle:?}: {response:?}");
    // What the client had sent when the answer came is what the sockets buffer, not the body.
    assert!(
        sent_before_answer < BODY / 10,
        "answered only after {sent_before_answer} of {BODY} bytes were sent"
    );
    assert!(watch.max() <= 4096, "tmp/ grew to {} bytes", watch.max());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(dir_usage(&tmp_dir(server)).1, 0, "a temporary file was left");
    eprintln!(
        "garbage upload ({needle}): 400 after {sent_before_answer} of {BODY} bytes sent, {elapsed:?}; tmp/ at most {} bytes",
        watch.max()
    );
}

#[test]
fn garbage_upload_is_refused_after_its_first_bytes_and_never_written() {
    let server = TestServer::start();
    let team = server.team_with_element("zero-team", "zero");
    let work = tempfile::tempdir().unwrap();
    let rpm = std::fs::read(&build_rpms(work.path(), &[SpecPackage::new("zero", "1.0", "1")])[0]).unwrap();
    let be32 = |at: usize| u32::from_be_bytes(rpm[at..at + 4].try_into().unwrap()) as usize;
    let huge = 0x00ff_ffffu32.to_be_bytes();

    // All zeros: refused on the lead, after 96 bytes.
    refused_early(
        &server,
        &team,
        &[],
        "not an RPM: the file does not start with the RPM lead magic",
    );
    // A real lead, then a signature header intro whose sizes exceed rpm's limits.
    let mut lying = rpm[..112].to_vec();
    lying[104..108].copy_from_slice(&huge);
    refused_early(
        &server,
        &team,
        &lying,
        "signature header: 16777215 index entries, more than rpm's limit",
    );
    // A real lead and signature header, then a main header intro that lies the same way.
    let sig_len = 16 + be32(104) * 16 + be32(108);
    let header = 96 + sig_len + (8 - sig_len % 8) % 8;
    let mut lying = rpm[..header + 16].to_vec();
    lying[header + 8..header + 12].copy_from_slice(&huge);
    refused_early(
        &server,
        &team,
        &lying,
        "header: 16777215 index entries, more than rpm's limit",
    );
}

#[test]
fn temporary_space_is_bounded_across_concurrent_uploads() {
    let server = TestServer::start_with_config("max_upload_size = 400000\nmax_temp_bytes = 500000\n[dist.el9]\n");
    let team = server.team_with_element("tmp-team", "tmpspace");
    let work = tempfile::tempdir().unwrap();
    let mut big_a = SpecPackage::new("tmpspace-a", "1.0", "1");
    big_a.payload_bytes = 300_000;
    let mut big_b = SpecPackage::new("tmpspace-b", "1.0", "1");
    big_b.payload_bytes = 300_000;
    let rpms = build_rpms(work.path(), &[big_a, big_b, SpecPackage::new("tmpspace-c", "1.0", "1")]);
    let (a, b, c) = (&rpms[0], &rpms[1], &rpms[2]);
    let a_bytes = std::fs::read(a).unwrap();
    let b_len = std::fs::metadata(b).unwrap().len();
    assert!(a_bytes.len() as u64 + b_len > 500_000 && a_bytes.len() < 400_000);

    // A declares its length and sends half: it holds its whole Content-Length.
    let mut upload_a = RawUpload::start(
        &server,
        a.file_name().unwrap().to_str().unwrap(),
        &team,
        a_bytes.len() as u64,
    );
    let half = a_bytes.len() / 2;
    assert!(upload_a.send(&a_bytes[..half]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir_usage(&tmp_dir(&server)).0 < half as u64 / 2 {
        assert!(Instant::now() < deadline, "A's upload did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

    // B does not fit beside it: 503 at once, with Retry-After, whether it declares its length
    // or streams chunked; its temporary file is gone.
    for chunked in [false, true] {
        let (status, retry, body) = put(&server, &team, b, chunked);
        assert_eq!(status, 503, "chunked {chunked}: {body}");
        assert_eq!(retry.as_deref(), Some("5"), "chunked {chunked}");
        assert_eq!(body["error"], "service unavailable");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("temporary space") && detail.contains("max_temp_bytes"),
            "{detail}"
        );
        assert_eq!(dir_usage(&tmp_dir(&server)).1, 1, "only A's file is in tmp/");
    }
    // A small one fits in what is left.
    let (status, _, body) = put(&server, &team, c, false);
    assert_eq!(status, 201, "{body}");

    // A finishes; its reservation is given back, and B then fits.
    assert!(upload_a.send(&a_bytes[half..]));
    let (_, done) = upload_a.response(Duration::from_secs(30));
    assert_eq!(done.status, 201, "{done:?}");
    let (status, _, body) = put(&server, &team, b, true);
    assert_eq!(status, 201, "{body}");
    assert_eq!(dir_usage(&tmp_dir(&server)).1, 0, "tmp/ is empty");
}

#[test]
fn trickled_upload_is_cut_and_frees_its_slot() {
    let server = TestServer::start_with_config(
        "max_concurrent_uploads = 1\nmin_upload_rate = 100\nupload_rate_grace = \"2s\"\n[dist.el9]\n",
    );
    let team = server.team_with_element("slow-team", "slow");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(
        work.path(),
        &[
            SpecPackage::new("slow-a", "1.0", "1"),
            SpecPackage::new("slow-b", "1.0", "1"),
        ],
    );
    let bytes = std::fs::read(&rpms[0]).unwrap();
    let started = Instant::now();
    let mut trickle = RawUpload::start(&server, "slow-a-1.0-1.noarch.rpm", &team, bytes.len() as u64);
    // One byte every 500 ms (2 bytes/s, against a floor of 100 bytes/s).
    let mut sent = 0;
    let mut checked_slot = false;
    let (answered, response) = loop {
        if let Some(got) = trickle.try_response() {
            break got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the trickled upload still runs after {sent} bytes and {:?}",
            started.elapsed()
        );
        if !trickle.send(&bytes[sent..sent + 1]) {
            break trickle.response(Duration::from_secs(5));
        }
        sent += 1;
        if sent == 3 && !checked_slot {
            // Meanwhile the only slot is taken.
            let (status, retry, body) = put(&server, &team, &rpms[1], false);
            assert_eq!(status, 503, "{body}");
            assert!(retry.is_some());
            assert!(
                body["detail"].as_str().unwrap().contains("max_concurrent_uploads"),
                "{body}"
            );
            checked_slot = true;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let took = answered - started;
    assert_eq!(response.status, 408, "{response:?}");
    assert_eq!(response.body["error"], "request timeout");
    let detail = response.detail();
    assert!(
        detail.contains("100 bytes/s") && detail.contains("min_upload_rate"),
        "{detail}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "cut after {took:?}"
    );
    assert!(response.headers.iter().any(|(k, v)| k == "connection" && v == "close"));
    // The slot and the temporary file are free at once.
    let (status, _, body) = put(&server, &team, &rpms[1], false);
    assert_eq!(status, 201, "{body}");
    assert_eq!(dir_usage(&tmp_dir(&server)).1, 0, "tmp/ is empty");
    eprintln!("trickled upload: 408 after {took:?} and {sent} bytes");
}

/// A small tmpfs mounted on a directory; unmounted (and the directory removed) on drop, also
/// when the test fails. Declared before the server, so it is dropped after it.
struct Tmpfs {
    base: PathBuf,
    mount: PathBuf,
}

impl Tmpfs {
    fn mount(base: &Path, size: &str) -> Tmpfs {
        let mount = base.join("data");
        std::fs::create_dir_all(&mount).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0750"), "tmpfs"])
            .arg(&mount)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs (the test runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            base: base.to_path_buf(),
            mount,
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut cmd = std::process::Command::new("umount");
            if lazy {
                cmd.arg("-l");
            }
            cmd.arg(&self.mount).status().map(|s| s.success()).unwrap_or(false)
        };
        if !umount(false) {
            std::thread::sleep(Duration::from_millis(500));
            if !umount(false) {
                umount(true);
            }
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Fills the file system holding `dir` with files under `dir/filler`; returns the bytes written.
fn fill_disk(dir: &Path) -> u64 {
    let filler = dir.join("filler");
    std::fs::create_dir_all(&filler).unwrap();
    let mut written = 0;
    // Large writes first, then ever smaller ones in new files: tmpfs counts its pages in
    // per-CPU batches, so "full" only holds once small allocations fail too.
    for (i, size) in [1 << 20, 1 << 12, 1].into_iter().enumerate() {
        let mut failures = 0;
        let mut n = 0;
        while failures < 3 {
            n += 1;
            let path = filler.join(format!("{i}-{n}"));
            let Ok(mut f) = std::fs::File::create(&path) else {
                failures += 1;
                continue;
            };
            let chunk = vec![0xa5u8; size];
            loop {
                match f.write_all(&chunk).and_then(|_| f.sync_data()) {
                    Ok(()) => written += size as u64,
                    Err(e) => {
                        assert!(e.raw_os_error() == Some(28), "filling: {e}");
                        failures += 1;
                        break;
                    }
                }
            }
        }
    }
    written
}

/// Checks what dnf checks of a repository's metadata: every file repomd.xml names is served
/// with the size and sha256 it gives. Returns the repomd.xml bytes.
fn repomd_consistent(server: &TestServer, repo: &str) -> Vec<u8> {
    let base = format!("{}/repo/el9/{repo}", server.url);
    let (status, repomd) = ureq_get(&format!("{base}/repodata/repomd.xml")).unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(repomd.clone()).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mut files = 0;
    for data in doc.descendants().filter(|n| n.has_tag_name("data")) {
        let child = |name: &str| data.children().find(|c| c.has_tag_name(name)).unwrap();
        let href = child("location").attribute("href").unwrap();
        let sha = child("checksum").text().unwrap();
        let size: usize = child("size").text().unwrap().parse().unwrap();
        let (status, body) = ureq_get(&format!("{base}/{href}")).unwrap();
        assert_eq!(status, 200, "{href}");
        assert_eq!(body.len(), size, "{href}");
        assert_eq!(hex::encode(Sha256::digest(&body)), sha, "{href}");
        files += 1;
    }
    assert!(files >= 3, "{text}");
    repomd
}

fn submit_release(server: &TestServer, token: &str, version: &str, packages: &[&str]) -> (u16, Value) {
    let body = serde_json::json!({"dist": "el9", "element": "full", "version": version, "packages": packages});
    let (status, out) = http(
        reqwest::Method::POST,
        &format!("{}/api/v1/releases", server.url),
        Some(token),
        Some(body.to_string().into_bytes()),
        &[("content-type", "application/json")],
    )
    .unwrap();
    (status, json(&out))
}

fn name_of(p: &Path) -> &str {
    p.file_name().unwrap().to_str().unwrap()
}

#[test]
fn full_disk_answers_507_and_corrupts_nothing() {
    full_disk(
        &[],
        Some("the disk is full error=writing repodata: No space left on device"),
    );
}

/// The same with every generation written behind (`write_behind_mb = 0`): the refused
/// release's generation, prepared in memory before the database refused it, is never served.
#[test]
fn full_disk_with_writes_behind_serves_the_previous_generation() {
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("stagerepo.toml");
    std::fs::write(&path, "write_behind_mb = 0\n").unwrap();
    full_disk(&["--config", path.to_str().unwrap()], None);
}

/// A full disk refuses an upload and a release with 507 and changes nothing; `log` is the
/// line the operator is shown (the database or the repodata may be what hits it first).
fn full_disk(extra: &[&str], log: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    // The whole data directory (database, store, tmp/, repositories) on a 20 MiB tmpfs.
    let tmpfs = Tmpfs::mount(dir.path(), "20m");
    let mut server = TestServer::start_custom(dir, extra, None);
    assert_eq!(server.data_dir(), tmpfs.mount);
    let team = server.team_with_element("full-team", "full");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(
        work.path(),
        &[
            SpecPackage::new("full-a", "1.0", "1"),
            SpecPackage::new("full-b", "1.0", "1"),
            SpecPackage::new("full-c", "1.0", "1"),
        ],
    );
    let (a, b, c) = (name_of(&rpms[0]), name_of(&rpms[1]), name_of(&rpms[2]));
    let (status, _, body) = put(&server, &team, &rpms[0], false);
    assert_eq!(status, 201, "{body}");
    let (status, body) = submit_release(&server, &team, "1.0.0", &[a]);
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = put(&server, &team, &rpms[1], false);
    assert_eq!(status, 201, "{body}");
    let before = repomd_consistent(&server, "beta");

    let filled = fill_disk(&server.data_dir());
    // An upload: 507, saying the disk is full; nothing stored.
    let (status, _, body) = put(&server, &team, &rpms[2], false);
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"], "insufficient storage");
    assert!(
        body["detail"].as_str().unwrap().contains("the server's disk is full"),
        "{body}"
    );
    let (status, _) = http(
        reqwest::Method::GET,
        &format!("{}/api/v1/packages/{c}", server.url),
        None,
        None,
        &[],
    )
    .unwrap();
    assert_eq!(status, 404, "the refused upload is not stored");
    // A publication: 507; no release recorded, beta still serves its complete metadata.
    let (status, body) = submit_release(&server, &team, "1.1.0", &[a, b]);
    assert_eq!(status, 507, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("the server's disk is full"),
        "{body}"
    );
    assert_eq!(repomd_consistent(&server, "beta"), before, "repomd.xml is unchanged");
    let releases = server.get_json("/api/v1/releases");
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases:#}");
    assert_eq!(dir_usage(&tmp_dir(&server)).1, 0, "tmp/ is empty");
    let repodata = server.data_dir().join("repos/el9/beta/repodata");
    let leftovers: Vec<String> = std::fs::read_dir(&repodata)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial files of the failed publication: {leftovers:?}"
    );
    let (status, _) = ureq_get(&format!("{}/repo/el9/beta/Packages/{b}", server.url)).unwrap();
    assert_eq!(status, 404, "a package of the refused release is not served");
    // The operator is told, in the log, what failed.
    assert!(
        server.log().contains(log.unwrap_or("the disk is full")),
        "{}",
        server.log()
    );

    // Space freed: both work again, and dnf installs from the result.
    std::fs::remove_dir_all(server.data_dir().join("filler")).unwrap();
    let (status, _, body) = put(&server, &team, &rpms[2], false);
    assert_eq!(status, 201, "{body}");
    let (status, body) = submit_release(&server, &team, "1.1.0", &[a, b, c]);
    assert_eq!(status, 201, "{body}");
    repomd_consistent(&server, "beta");
    let host = DnfRoot::new(&[format!("{}/repo/el9/beta.repo", server.url)]);
    host.dnf_ok(&["install", "--enablerepo=stagerepo-el9-beta", "full-b", "full-c"]);
    assert_eq!(host.installed("full-c").as_deref(), Some("full-c-1.0-1.noarch"));

    // The database is intact (SQLite's own check, the server stopped).
    server.stop();
    let db = rusqlite::Connection::open(server.data_dir().join("stagerepo.db")).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let revisions: i64 = db.query_row("SELECT count(*) FROM releases", [], |r| r.get(0)).unwrap();
    assert_eq!(revisions, 2);
    drop(db);
    eprintln!("disk full: filled {filled} bytes; 507 for an upload and a publication");
}
