//! Importing base repositories written by the real createrepo_c: every compression it can
//! write, local paths, file:// and http:// URLs, save/load, and clear errors.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use stagerepo::base::{BaseError, BaseRepo};
use support::{build_rpms, SpecPackage};

/// A small repository: three packages, one with a file only filelists lists.
fn build_repo(dir: &Path, compression: &str) {
    std::fs::create_dir_all(dir).unwrap();
    build_rpms(
        dir,
        &[
            SpecPackage::new("alpha", "1.0", "1")
                .provides("libalpha = 1.0")
                .file("/usr/bin/alpha"),
            SpecPackage::new("beta", "2.0", "3")
                .epoch(4)
                .requires("alpha >= 1.0")
                .requires("(alpha or gamma)")
                .conflicts("old-beta")
                .obsoletes("beta-compat < 2"),
            SpecPackage::new("gamma", "0.1", "1")
                .file("/usr/share/gamma-data/deep/file")
                .file("/usr/lib/gamma/dir/"),
        ],
    );
    support::require_tool("createrepo_c");
    // Debian's createrepo_c 0.17 cannot write zstd: recompress its gzip output then.
    let written = if compression == "zstd" { "gz" } else { compression };
    let out = Command::new("createrepo_c")
        .args(["--quiet", "--no-database"])
        .arg(format!("--general-compress-type={written}"))
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "createrepo_c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if compression == "zstd" {
        recompress_zstd(dir);
    }
}

/// Rewrites primary and filelists as zstd, with repomd.xml updated (hrefs and checksums).
fn recompress_zstd(dir: &Path) {
    let repomd_path = dir.join("repodata/repomd.xml");
    let mut repomd = std::fs::read_to_string(&repomd_path).unwrap();
    for kind in ["primary", "filelists"] {
        let old_href = href(dir, kind);
        let gz = std::fs::read(dir.join(&old_href)).unwrap();
        let mut xml = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut xml).unwrap();
        let zst = zstd::encode_all(&xml[..], 3).unwrap();
        let old_sum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&gz));
        let new_sum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&zst));
        let new_href = format!("repodata/{new_sum}-{kind}.xml.zst");
        std::fs::write(dir.join(&new_href), &zst).unwrap();
        std::fs::remove_file(dir.join(&old_href)).unwrap();
        assert!(repomd.contains(&old_sum));
        repomd = repomd.replace(&old_href, &new_href).replace(&old_sum, &new_sum);
        std::fs::write(&repomd_path, &repomd).unwrap();
    }
}

fn check_packages(repo: &BaseRepo) {
    let mut names: Vec<&str> = repo.packages.iter().map(|p| p.nevra.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["alpha-1.0-1.noarch", "beta-4:2.0-3.noarch", "gamma-0.1-1.noarch"]
    );
    let beta = repo.packages.iter().find(|p| p.name == "beta").unwrap();
    let reqs: Vec<String> = beta
        .requires
        .iter()
        .map(stagerepo::domain::closure::format_dep)
        .collect();
    assert_eq!(reqs, ["(alpha or gamma)", "alpha >= 1.0"]);
    assert_eq!(beta.conflicts[0].name, "old-beta");
    assert_eq!(beta.obsoletes[0].name, "beta-compat");
    assert!(beta
        .provides
        .iter()
        .any(|d| d.name == "beta" && d.epoch.as_deref() == Some("4")));
    let gamma = repo.packages.iter().find(|p| p.name == "gamma").unwrap();
    // All files (filelists), not only primary's: directories included.
    for f in [
        "/usr/share/gamma/VERSION",
        "/usr/share/gamma-data/deep/file",
        "/usr/lib/gamma/dir",
    ] {
        assert!(gamma.files.iter().any(|g| g == f), "{f} missing from {:?}", gamma.files);
    }
}

#[test]
fn imports_every_compression_createrepo_c_writes() {
    let dir = tempfile::tempdir().unwrap();
    for compression in ["gz", "zstd", "xz", "bz2"] {
        let root = dir.path().join(compression);
        build_repo(&root, compression);
        let repo =
            BaseRepo::import("el9-os", root.to_str().unwrap(), 42).unwrap_or_else(|e| panic!("{compression}: {e}"));
        assert_eq!(repo.imported_at, 42);
        assert_eq!(repo.source, root.to_str().unwrap());
        check_packages(&repo);
    }
}

#[test]
fn saves_and_loads_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    build_repo(&root, "gz");
    let repo = BaseRepo::import("epel9", &format!("file://{}", root.display()), 7).unwrap();
    let store = dir.path().join("bases");
    let path = repo.save(&store).unwrap();
    assert_eq!(path, store.join("epel9.base.json.gz"));
    assert_eq!(BaseRepo::load(&store, "epel9").unwrap(), repo);
    assert_eq!(BaseRepo::load_file(&path).unwrap(), repo);
    // Saving again replaces the file; no temporary file is left behind.
    repo.save(&store).unwrap();
    let entries: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries, ["epel9.base.json.gz"]);
    assert_eq!(BaseRepo::list(&store).unwrap(), ["epel9"]);
    assert!(matches!(
        BaseRepo::load(&store, "nope"),
        Err(BaseError::NotSaved { .. })
    ));
    std::fs::write(store.join("bad.base.json.gz"), b"not gzip").unwrap();
    let err = BaseRepo::load(&store, "bad").unwrap_err();
    assert!(err.to_string().contains("not a readable base repository file"), "{err}");
    assert!(BaseRepo::remove(&store, "epel9").unwrap());
    assert!(!BaseRepo::remove(&store, "epel9").unwrap());
    assert!(matches!(BaseRepo::load(&store, "../x"), Err(BaseError::BadName(_))));
}

/// Serves `root` over HTTP/1.0 on a loopback port (one thread, until the test ends); paths
/// under `/broken/` answer 500.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split(' ').nth(1).unwrap_or("/").to_string();
            let file = root.join(path.trim_start_matches('/'));
            let response = if path.starts_with("/broken/") {
                b"HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec()
            } else if let Ok(body) = std::fs::read(&file) {
                let mut r = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
                r.extend(body);
                r
            } else {
                b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
            };
            let _ = stream.write_all(&response);
        }
    });
    url
}

#[test]
fn imports_over_http_and_reports_failures_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    build_repo(&root.join("el9/os"), "gz");
    let url = serve(root.clone());

    let repo = BaseRepo::import("el9-os", &format!("{url}/el9/os/"), 1).unwrap();
    check_packages(&repo);

    let err = BaseRepo::import("x", &format!("{url}/nothing/here"), 1).unwrap_err();
    assert!(matches!(err, BaseError::MissingRepomd(_)), "{err}");
    assert!(err.to_string().contains("repodata/repomd.xml not found"), "{err}");

    let err = BaseRepo::import("x", &format!("{url}/broken/repo"), 1).unwrap_err();
    assert!(err.to_string().contains("answered HTTP 500"), "{err}");

    // Nothing listens on port 9 of loopback (discard is never enabled in test machines).
    let err = BaseRepo::import("x", "http://127.0.0.1:9/repo", 1).unwrap_err();
    assert!(matches!(err, BaseError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot reach http://127.0.0.1:9/repo/repodata/repomd.xml"),
        "{err}"
    );

    let err = BaseRepo::import("x", "ftp://example.org/repo", 1).unwrap_err();
    assert!(matches!(err, BaseError::UnsupportedSource(_)), "{err}");
}

/// The href of `kind` in `repo`'s repomd.xml.
fn href(repo: &Path, kind: &str) -> String {
    let repomd = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let at = repomd.find(&format!("type=\"{kind}\"")).unwrap();
    let rest = &repomd[at..];
    let start = rest.find("href=\"").unwrap() + 6;
    rest[start..start + rest[start..].find('"').unwrap()].to_string()
}

#[test]
fn broken_repositories_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    build_repo(&root, "gz");

    // A tampered primary: checksum mismatch.
    let primary = root.join(href(&root, "primary"));
    let original = std::fs::read(&primary).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&original[..]), &mut text).unwrap();
    gz.write_all(&text).unwrap();
    gz.write_all(b"\n").unwrap();
    std::fs::write(&primary, gz.finish().unwrap()).unwrap();
    let err = BaseRepo::import("x", root.to_str().unwrap(), 1).unwrap_err();
    assert!(matches!(err, BaseError::ChecksumMismatch { .. }), "{err}");

    // Not XML at all (and not gzip): a read error naming the file.
    std::fs::write(&primary, b"garbage").unwrap();
    let err = BaseRepo::import("x", root.to_str().unwrap(), 1).unwrap_err();
    assert!(err.to_string().contains(&primary.display().to_string()), "{err}");

    // Truncated XML inside valid gzip.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text[..text.len() / 2]).unwrap();
    std::fs::write(&primary, gz.finish().unwrap()).unwrap();
    let err = BaseRepo::import("x", root.to_str().unwrap(), 1).unwrap_err();
    assert!(matches!(err, BaseError::BadXml { .. }), "{err}");

    // A missing filelists file.
    std::fs::write(&primary, &original).unwrap();
    std::fs::remove_file(root.join(href(&root, "filelists"))).unwrap();
    let err = BaseRepo::import("x", root.to_str().unwrap(), 1).unwrap_err();
    assert!(matches!(err, BaseError::NotFound(_)), "{err}");

    // An unusable repomd.xml.
    std::fs::write(root.join("repodata/repomd.xml"), "<html/>").unwrap();
    let err = BaseRepo::import("x", root.to_str().unwrap(), 1).unwrap_err();
    assert!(matches!(err, BaseError::BadXml { .. }), "{err}");

    let err = BaseRepo::import("x", dir.path().join("absent").to_str().unwrap(), 1).unwrap_err();
    assert!(matches!(err, BaseError::MissingRepomd(_)), "{err}");
    assert!(matches!(
        BaseRepo::import("bad name", "/x", 1),
        Err(BaseError::BadName(_))
    ));
}
