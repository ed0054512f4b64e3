//! Serving the repositories' files: caching headers (immutable content vs `no-cache`
//! repomd.xml), ETag and If-None-Match, Range, HEAD, from memory and from disk; temporary
//! files of an interrupted publication and symbolic links are never served; repomd.xml and
//! repomd.xml.asc always come from the same generation. The real server binary, real rpmbuild
//! packages, real gpg keys.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use stagerepo::signing::{parse_public_key, verify_detached, RepoSigner};
use support::{build_rpms, require_tool, SpecPackage, TestServer};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One request: (status, headers, body).
fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
    let client = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut req = client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().unwrap().to_vec())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// A server holding one released package in beta; returns it and the package's file name.
fn server_with_package(config: &str) -> (TestServer, String, Vec<u8>) {
    let server = TestServer::start_with_config(config);
    let team = server.team_with_element("t", "served");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-served", "1.0", "1")]);
    server.submit(&team, "served", "1.0.0", &rpms);
    let name = rpms[0].file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&rpms[0]).unwrap();
    (server, name, bytes)
}

/// The href of a data type in a repomd.xml.
fn href(repomd: &str, kind: &str) -> String {
    let at = repomd.find(&format!("type=\"{kind}\"")).unwrap();
    let start = at + repomd[at..].find("href=\"").unwrap() + "href=\"".len();
    repomd[start..start + repomd[start..].find('"').unwrap()].to_string()
}

fn revision(repomd: &str) -> String {
    let start = repomd.find("<revision>").unwrap() + "<revision>".len();
    repomd[start..start + repomd[start..].find('<').unwrap()].to_string()
}

/// Headers, 304, HEAD and Range on the three kinds of files, served as `config` says.
fn check_file_semantics(config: &str) {
    let (server, name, rpm) = server_with_package(config);
    let base = format!("{}/repo/el9/beta", server.url);

    let (status, h, repomd) = request("GET", &format!("{base}/repodata/repomd.xml"), &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "cache-control"), "no-cache", "repomd.xml is revalidated");
    let repomd = String::from_utf8(repomd).unwrap();
    let primary = href(&repomd, "primary");
    let repomd_etag = header(&h, "etag").to_string();
    assert!(repomd_etag.starts_with('"'), "repomd.xml has an ETag: {h:?}");
    let (status, h, body) = request(
        "GET",
        &format!("{base}/repodata/repomd.xml"),
        &[("If-None-Match", &repomd_etag)],
    );
    assert_eq!((status, body.len()), (304, 0), "{h:?}");
    assert_eq!(header(&h, "etag"), repomd_etag);

    for (path, kind, len) in [
        (format!("{base}/{primary}"), "application/gzip", None),
        (format!("{base}/Packages/{name}"), "application/x-rpm", Some(rpm.len())),
    ] {
        let (status, h, body) = request("GET", &path, &[]);
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&h, "cache-control"), IMMUTABLE, "{path}");
        assert_eq!(header(&h, "content-type"), kind, "{path}");
        assert_eq!(header(&h, "accept-ranges"), "bytes");
        assert!(!header(&h, "last-modified").is_empty());
        if let Some(len) = len {
            assert_eq!(body, rpm, "the package as uploaded");
            assert_eq!(body.len(), len);
        }
        let etag = header(&h, "etag").to_string();
        assert!(etag.starts_with('"') && etag.len() > 2, "{path}: {h:?}");

        // Conditional GET: the same ETag (also in a list, also weak) is a 304 without a body.
        for inm in [etag.clone(), format!("\"other\", {etag}"), format!("W/{etag}")] {
            let (status, h, b) = request("GET", &path, &[("If-None-Match", &inm)]);
            assert_eq!((status, b.len()), (304, 0), "{path} If-None-Match {inm}");
            assert_eq!(header(&h, "cache-control"), IMMUTABLE);
        }
        let (status, _, b) = request("GET", &path, &[("If-None-Match", "\"stale\"")]);
        assert_eq!((status, b.len()), (200, body.len()));
        let lm = header(&h, "last-modified").to_string();
        assert_eq!(request("GET", &path, &[("If-Modified-Since", &lm)]).0, 304);

        // HEAD: the headers of a GET, no body.
        let (status, hh, b) = request("HEAD", &path, &[]);
        assert_eq!((status, b.len()), (200, 0));
        assert_eq!(header(&hh, "content-length"), body.len().to_string());
        assert_eq!(header(&hh, "etag"), etag);

        // Range: a prefix, a middle, a suffix, an open end; unsatisfiable; a stale If-Range.
        let n = body.len();
        for (range, from, to) in [
            ("bytes=0-9", 0, 10),
            ("bytes=5-20", 5, 21),
            ("bytes=-7", n - 7, n),
            (&format!("bytes={}-", n - 3) as &str, n - 3, n),
            (&format!("bytes=10-{}", n + 100), 10, n),
        ] {
            let (status, h, b) = request("GET", &path, &[("Range", range)]);
            assert_eq!(status, 206, "{path} {range}");
            assert_eq!(b, &body[from..to], "{path} {range}");
            assert_eq!(header(&h, "content-range"), format!("bytes {from}-{}/{n}", to - 1));
            assert_eq!(header(&h, "content-length"), (to - from).to_string());
        }
        let (status, h, _) = request("GET", &path, &[("Range", &format!("bytes={n}-"))]);
        assert_eq!(status, 416);
        assert_eq!(header(&h, "content-range"), format!("bytes */{n}"));
        let (status, _, b) = request("GET", &path, &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")]);
        assert_eq!((status, b.len()), (200, n), "a stale If-Range gets the whole file");
        let (status, _, b) = request("GET", &path, &[("Range", "bytes=0-9"), ("If-Range", &etag)]);
        assert_eq!((status, b.len()), (206, 10));
        let (status, _, b) = request("HEAD", &path, &[("Range", "bytes=0-9")]);
        assert_eq!((status, b.len()), (206, 0));
    }

    // Missing files and directories are JSON 404s; the log and the metrics still see them all.
    let (status, _, body) = request("GET", &format!("{base}/Packages/nope-1-1.noarch.rpm"), &[]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("no file"));
    assert_eq!(request("GET", &format!("{base}/Packages"), &[]).0, 404);
    let (_, _, text) = request("GET", &format!("{}/metrics", server.url), &[]);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("stagerepo_http_requests_total")
            && l.contains("route=\"/repo/*path\"")
            && l.contains("status=\"206\"")),
        "{text}"
    );
    // The fast path writes the same line as the router: the route, the status, the bytes. The
    // log is written by another thread: wait for the line of the range request.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let range_line = |log: &str| {
        log.lines()
            .find(|l| l.contains(&format!("path=\"/repo/el9/beta/Packages/{name}\"")) && l.contains("status=206"))
            .map(str::to_string)
    };
    let line = loop {
        let log = server.log();
        if let Some(line) = range_line(&log) {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no access line for the range request:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        line.contains("stagerepo::access: request client=127.0.0.1 method=GET")
            && line.contains("route=\"/repo/{*path}\"")
            && line.contains("bytes=10 ")
            && line.ends_with("actor=-"),
        "{line}"
    );
}

#[test]
fn files_from_memory_have_caching_headers_etags_ranges_and_head() {
    check_file_semantics("");
}

#[test]
fn files_from_disk_have_caching_headers_etags_ranges_and_head() {
    check_file_semantics("file_cache_mb = 0\n");
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn temporary_files_of_an_interrupted_publication_are_never_served_and_removed_at_start() {
    let (mut server, name, _) = server_with_package("");
    let repo = server.data_dir().join("repos/el9/beta");
    let hash = "ab".repeat(32);
    let tmp_name = format!(".stagerepo-tmp-{hash}-primary.xml.gz.{}.64", dead_pid());
    let tmp = repo.join("repodata").join(&tmp_name);
    std::fs::write(&tmp, b"half a file").unwrap();
    // A half-made package link, as `kill -9` between link and rename leaves it.
    let link = repo.join("Packages").join(format!(".{name}.tmp"));
    std::fs::hard_link(repo.join("Packages").join(&name), &link).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&link)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let base = server.url.clone();
    let url = |rel: &str| format!("{base}/repo/el9/beta/{rel}");
    for rel in [format!("repodata/{tmp_name}"), format!("Packages/.{name}.tmp")] {
        let (status, _, body) = request("GET", &url(&rel), &[]);
        assert_eq!(status, 404, "{rel} is not served: {}", String::from_utf8_lossy(&body));
        assert_eq!(request("HEAD", &url(&rel), &[]).0, 404);
    }
    // Percent-encoded dots are still dots.
    assert_eq!(
        request("GET", &url(&format!("repodata/%2E{}", &tmp_name[1..])), &[]).0,
        404
    );

    server.restart();
    assert!(!tmp.exists(), "the temporary repodata is removed at start");
    assert!(!link.exists(), "the half-made link is removed at start");
    assert!(
        server.log().contains("removed leftovers of an interrupted publication"),
        "{}",
        server.log()
    );
    assert_eq!(request("GET", &url(&format!("Packages/{name}")), &[]).0, 200);
}

#[test]
fn symbolic_links_are_never_followed() {
    let (server, name, _) = server_with_package("");
    let data = server.data_dir();
    let repo = data.join("repos/el9/beta");
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    std::os::unix::fs::symlink(data.join("admin.token"), repo.join("Packages/token.rpm")).unwrap();
    std::os::unix::fs::symlink(&data, repo.join("Packages/up")).unwrap();
    std::os::unix::fs::symlink(&data, repo.join("data")).unwrap();
    // A link to a file inside the tree is refused too: nothing in it is ever a link.
    std::os::unix::fs::symlink(repo.join("Packages").join(&name), repo.join("Packages/alias.rpm")).unwrap();
    for rel in [
        "Packages/token.rpm",
        "Packages/up/admin.token",
        "data/admin.token",
        "Packages/alias.rpm",
        "Packages/up/repos/el9/beta/repodata/repomd.xml",
    ] {
        for method in ["GET", "HEAD"] {
            let (status, _, body) = request(method, &format!("{}/repo/el9/beta/{rel}", server.url), &[]);
            assert_eq!(status, 404, "{method} {rel}");
            assert!(
                !String::from_utf8_lossy(&body).contains(token.trim()),
                "{rel} leaks the token"
            );
        }
    }
    assert_eq!(
        request("GET", &format!("{}/repo/el9/beta/Packages/{name}", server.url), &[]).0,
        200
    );
}

/// A fresh unprotected RSA signing key in its own gpg home; returns the secret key file.
fn gen_key(dir: &Path, name: &str) -> PathBuf {
    require_tool("gpg");
    let home = dir.join(format!("gnupg-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .arg("--batch")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        &format!("{name} <{name}@example.org>"),
        "rsa2048",
        "sign",
        "never",
    ]);
    let key = dir.join(format!("{name}.asc"));
    std::fs::write(&key, gpg(&["--armor", "--export-secret-keys"])).unwrap();
    key
}

#[test]
fn repomd_and_its_signature_are_served_from_one_generation() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = gen_key(keys.path(), "pair");
    let (server, _, _) = server_with_package(&format!("signing_key = \"{}\"\n", key_file.display()));
    let (_, _, key) = request("GET", &format!("{}/repo/el9/RPM-GPG-KEY-stagerepo", server.url), &[]);
    let key = parse_public_key(&String::from_utf8(key).unwrap()).unwrap();
    let base = format!("{}/repo/el9/beta/repodata", server.url);
    let pair = || {
        let (s1, h1, repomd) = request("GET", &format!("{base}/repomd.xml"), &[]);
        let (s2, h2, sig) = request("GET", &format!("{base}/repomd.xml.asc"), &[]);
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(header(&h1, "cache-control"), "no-cache");
        assert_eq!(header(&h2, "cache-control"), "no-cache");
        (String::from_utf8(repomd).unwrap(), String::from_utf8(sig).unwrap())
    };

    // The moment inside a publication between its two renames: the new repomd.xml and its
    // per-generation signature are in place, repomd.xml.asc is still the old one.
    let repodata = server.data_dir().join("repos/el9/beta/repodata");
    let old = std::fs::read_to_string(repodata.join("repomd.xml")).unwrap();
    let old_rev = revision(&old);
    let new_rev = (old_rev.parse::<u64>().unwrap() + 7).to_string();
    let new = old.replace(
        &format!("<revision>{old_rev}</revision>"),
        &format!("<revision>{new_rev}</revision>"),
    );
    let signer = RepoSigner::load(&key_file).unwrap();
    std::fs::write(
        repodata.join(format!("repomd-{new_rev}.xml.asc")),
        signer.sign(new.as_bytes()).unwrap(),
    )
    .unwrap();
    std::fs::write(repodata.join("repomd.xml"), &new).unwrap();
    let (repomd, sig) = pair();
    assert_eq!(revision(&repomd), new_rev);
    assert!(
        verify_detached(&key, repomd.as_bytes(), &sig),
        "repomd.xml.asc is the signature of the repomd.xml served"
    );

    // A real publication: the next pair is the new generation's, again matching.
    let team = server.team_with_element("t2", "second");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-second", "1.0", "1")]);
    server.submit(&team, "second", "1.0.0", &rpms);
    let (repomd2, sig2) = pair();
    assert_ne!(revision(&repomd2), new_rev, "the publication is served at once");
    assert!(verify_detached(&key, repomd2.as_bytes(), &sig2));
    assert!(!verify_detached(&key, repomd.as_bytes(), &sig2));
}
