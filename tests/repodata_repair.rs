//! Publication does not fsync the repodata files (the database records each publication): a
//! crash can leave repomd.xml naming files that did not reach the disk. At start, such a
//! repository is rewritten from the database, so clients never get a repository whose files
//! fail their checksums.

mod support;

use std::io::Read;

use sha2::{Digest, Sha256};
use support::*;

/// Every file repomd.xml names matches the size and checksum it gives; returns the hrefs.
fn verified(repo: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let mut hrefs = Vec::new();
    for data in text.split("<data type=").skip(1) {
        let field = |open: &str| {
            let at = data.find(open).unwrap() + open.len();
            data[at..at + data[at..].find('<').unwrap()].to_string()
        };
        let checksum = field("<checksum type=\"sha256\">");
        let size: u64 = field("<size>").parse().unwrap();
        let at = data.find("href=\"").unwrap() + 6;
        let href = data[at..at + data[at..].find('"').unwrap()].to_string();
        let bytes = std::fs::read(repo.join(&href)).unwrap();
        assert_eq!(bytes.len() as u64, size, "{href}");
        assert_eq!(hex::encode(Sha256::digest(&bytes)), checksum, "{href}");
        hrefs.push(href);
    }
    hrefs
}

#[test]
fn damaged_repodata_is_rewritten_at_start() {
    let mut server = TestServer::start();
    let team = server.team_with_element("t", "repair");
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path(), &[SpecPackage::new("sr-repair", "1.0.0", "1")]);
    server.submit(&team, "repair", "1.0.0", &rpms);
    let beta = server.data_dir().join("repos/el9/beta");
    let hrefs = verified(&beta);
    let primary = hrefs.iter().find(|h| h.ends_with("-primary.xml.gz")).unwrap().clone();

    // What a crash before the data reached the disk leaves: the name, without its bytes.
    server.stop();
    std::fs::write(beta.join(&primary), b"").unwrap();
    server.restart();

    let after = verified(&beta);
    let primary = after.iter().find(|h| h.ends_with("-primary.xml.gz")).unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(beta.join(primary)).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("<name>sr-repair</name>"), "{text}");
    assert!(
        server.log().contains("repository files differ from the database"),
        "the rewrite is logged"
    );
}
