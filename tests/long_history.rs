//! A long production history (hundreds of revisions, stored as changes with periodic
//! snapshots): the history, diffs between any two revisions, roll-backs to old revisions and
//! the published files all agree with the package sets the test expects.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::*;

const VERSIONS: [&str; 4] = ["1.0.1", "1.0.2", "1.0.3", "1.0.4"];
const ROLLBACKS: usize = 300;

fn rollback(server: &TestServer, to: i64) -> i64 {
    let (status, body) = http(
        reqwest::Method::POST,
        &format!("{}/api/v1/admin/repos/el9/rollback", server.url),
        Some(&server.admin_token),
        Some(format!(r#"{{"to": {to}, "reason": "long history", "force": true}}"#).into_bytes()),
        &[("content-type", "application/json")],
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v = json(&body);
    v["revision"].as_i64().unwrap_or_else(|| panic!("no new revision: {v}"))
}

/// The pkgids listed in the production repository's primary.xml.
fn published_pkgids(server: &TestServer) -> BTreeSet<String> {
    let repo = server.data_dir().join("repos/el9/production");
    let repomd = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let start = repomd.find("<data type=\"primary\">").unwrap();
    let href_at = repomd[start..].find("href=\"").unwrap() + start + 6;
    let href = &repomd[href_at..href_at + repomd[href_at..].find('"').unwrap()];
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(repo.join(href)).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.split("<checksum type=\"sha256\" pkgid=\"YES\">")
        .skip(1)
        .map(|s| s[..64].to_string())
        .collect()
}

/// The versions named in nevra strings of a diff list (`sr-lh-1.0.2-1.noarch`).
fn versions(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let s = v.as_str().unwrap();
            VERSIONS
                .iter()
                .find(|ver| s.contains(&format!("{ver}-1")))
                .unwrap_or_else(|| panic!("unexpected entry {s}"))
                .to_string()
        })
        .collect()
}

#[test]
fn hundreds_of_revisions_keep_history_diff_and_rollback_exact() {
    let server = TestServer::start();
    let team = server.team_with_element("t", "lh");
    let work = tempfile::tempdir().unwrap();
    // One package per release; the version of each package, by sha256.
    let mut version_of: BTreeMap<String, String> = BTreeMap::new();
    // Expected production set (as versions) of each revision number.
    let mut expected: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    let mut promoted: Vec<i64> = Vec::new();
    for v in VERSIONS {
        let dir = work.path().join(v);
        std::fs::create_dir_all(&dir).unwrap();
        let rpms = build_rpms(&dir, &[SpecPackage::new("sr-lh", v, "1")]);
        let sha = hex::encode(Sha256::digest(std::fs::read(&rpms[0]).unwrap()));
        version_of.insert(sha, v.to_string());
        let id = server.submit(&team, "lh", v, &rpms);
        server.promote_forced(id, "test");
        let rev = server.get_json("/api/v1/repos/el9/production/revisions")[0]["number"]
            .as_i64()
            .unwrap();
        let set = expected
            .values()
            .last()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .chain([v.to_string()])
            .collect();
        expected.insert(rev, set);
        promoted.push(rev);
    }

    // Hundreds of roll-backs, each to another of the promotion revisions (never the current
    // set, so each one is a new revision).
    let mut last = *promoted.last().unwrap();
    for k in 0..ROLLBACKS {
        let to = promoted[(k * 3 + 1) % promoted.len()];
        let to = if expected[&to] == expected[&last] {
            promoted[(k * 3 + 2) % promoted.len()]
        } else {
            to
        };
        let rev = rollback(&server, to);
        assert_eq!(rev, last + 1, "one revision per roll-back");
        expected.insert(rev, expected[&to].clone());
        last = rev;
    }
    assert!(last > ROLLBACKS as i64);

    // The history: every revision with the size of its set.
    let history = server.get_json("/api/v1/repos/el9/production/revisions?limit=1000");
    let listed: BTreeMap<i64, i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["number"].as_i64().unwrap(), r["package_count"].as_i64().unwrap()))
        .collect();
    for (rev, set) in &expected {
        assert_eq!(
            listed.get(rev),
            Some(&(set.len() as i64)),
            "package count of revision {rev}"
        );
    }

    // Diffs between revisions far apart (across snapshots) and neighbours.
    let pairs = [
        (promoted[0], last),
        (last, promoted[0]),
        (promoted[1], 150),
        (151, 152),
        (7, last - 3),
        (last - 1, last),
    ];
    for (from, to) in pairs {
        let d = server.get_json(&format!("/api/v1/repos/el9/production/diff?from={from}&to={to}"));
        let want_added: BTreeSet<String> = expected[&to].difference(&expected[&from]).cloned().collect();
        let want_removed: BTreeSet<String> = expected[&from].difference(&expected[&to]).cloned().collect();
        assert_eq!(versions(&d["added"]), want_added, "added from {from} to {to}");
        assert_eq!(versions(&d["removed"]), want_removed, "removed from {from} to {to}");
    }

    // A roll-back to the first promotion, hundreds of revisions back, and to a revision in
    // the middle: production holds exactly their sets, in the database and in the files.
    let middle = *expected
        .iter()
        .find(|(rev, set)| **rev >= 150 && set.len() == 3)
        .unwrap()
        .0;
    for to in [promoted[0], middle, promoted[3]] {
        let rev = rollback(&server, to);
        let d = server.get_json(&format!("/api/v1/repos/el9/production/diff?from={to}&to={rev}"));
        for key in ["added", "removed", "upgraded", "downgraded"] {
            assert!(
                d[key].as_array().unwrap().is_empty(),
                "{key} between {to} and {rev}: {d}"
            );
        }
        let files: BTreeSet<String> = published_pkgids(&server)
            .into_iter()
            .map(|sha| version_of[&sha].clone())
            .collect();
        assert_eq!(files, expected[&to], "published files after rolling back to {to}");
    }
}
