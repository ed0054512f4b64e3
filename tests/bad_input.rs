//! Bad uploads: each gets its status and a JSON error, and nothing on disk changes.

mod support;

use std::path::PathBuf;

use reqwest::Method;
use sha2::{Digest, Sha256};
use support::*;

fn rpm(rel: &str) -> PathBuf {
    shared_testdata().join("rpms").join(rel)
}

fn put(
    server: &TestServer,
    name: &str,
    token: Option<&str>,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let (status, body) = http(
        Method::PUT,
        &format!("{}/api/v1/upload/{name}", server.url),
        token,
        Some(body),
        headers,
    )
    .unwrap();
    (status, json(&body))
}

/// (what, file name, token, body, headers, status, error).
type Case<'a> = (
    &'a str,
    String,
    Option<&'a str>,
    Vec<u8>,
    Vec<(&'a str, &'a str)>,
    u16,
    &'a str,
);

#[test]
fn bad_uploads_are_refused_and_change_nothing() {
    let server = TestServer::start_with(&["--max-upload-size", "200000"]);
    let team = server.team_with_element("bad-input", "basic");
    let basic = std::fs::read(rpm("rpm-rs/RPMS/v4/rpm-basic-2.3.4-5.el9.noarch.rpm")).unwrap();
    let basic_name = "rpm-basic-2.3.4-5.el9.noarch.rpm";

    // A good upload first: 201, then the identical bytes again: 200.
    let (s, v) = put(&server, basic_name, Some(&team), basic.clone(), &[]);
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["sha256"], hex::encode(Sha256::digest(&basic)));
    assert_eq!(v["size"], basic.len());
    assert_eq!(v["nevra"], "rpm-basic-1:2.3.4-5.el9.noarch");
    let (s, _) = put(&server, basic_name, Some(&team), basic.clone(), &[]);
    assert_eq!(s, 200, "re-uploading identical bytes is idempotent");
    server.cli_ok(
        Some(&team),
        &[
            "release",
            "submit",
            "--dist",
            "el9",
            "--element",
            "basic",
            "--version",
            "1.0.0",
            &rpm("rpm-rs/RPMS/v4/rpm-basic-2.3.4-5.el9.noarch.rpm")
                .display()
                .to_string(),
        ],
    );

    let data = server.data_dir();
    let before = (snapshot_tree(&data.join("store")), snapshot_tree(&data.join("repos")));

    let signed = std::fs::read(rpm(
        "rpm-rs/RPMS/v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm",
    ))
    .unwrap();
    let empty = std::fs::read(rpm("createrepo_c/empty-0-0.x86_64.rpm")).unwrap();
    let srpm = std::fs::read(rpm("createrepo_c/empty-0-0.src.rpm")).unwrap();
    let random: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let wrong_sha = "0".repeat(64);
    let cases: Vec<Case> = vec![
        (
            "truncated",
            "empty-0-0.x86_64.rpm".into(),
            Some(&team),
            empty[..empty.len() / 3].to_vec(),
            vec![],
            400,
            "invalid package",
        ),
        (
            "random bytes",
            "random-1-1.x86_64.rpm".into(),
            Some(&team),
            random,
            vec![],
            400,
            "invalid package",
        ),
        (
            "source rpm",
            "empty-0-0.src.rpm".into(),
            Some(&team),
            srpm,
            vec![],
            400,
            "invalid package",
        ),
        (
            "wrong checksum",
            "empty-0-0.x86_64.rpm".into(),
            Some(&team),
            empty.clone(),
            vec![("X-Checksum-Sha256", wrong_sha.as_str())],
            400,
            "invalid request",
        ),
        (
            "bad checksum header",
            "empty-0-0.x86_64.rpm".into(),
            Some(&team),
            empty.clone(),
            vec![("X-Checksum-Sha256", "xyz")],
            400,
            "invalid request",
        ),
        (
            "dot-dot",
            "..%2Fempty-0-0.x86_64.rpm".into(),
            Some(&team),
            empty.clone(),
            vec![],
            400,
            "invalid request",
        ),
        (
            "slash",
            "sub%2Fempty-0-0.x86_64.rpm".into(),
            Some(&team),
            empty.clone(),
            vec![],
            400,
            "invalid request",
        ),
        (
            "name not from header",
            "other-0-0.x86_64.rpm".into(),
            Some(&team),
            empty.clone(),
            vec![],
            400,
            "invalid request",
        ),
        (
            "oversized",
            "big-1-1.x86_64.rpm".into(),
            Some(&team),
            vec![0u8; 300_000],
            vec![],
            413,
            "payload too large",
        ),
        (
            "no token",
            "empty-0-0.x86_64.rpm".into(),
            None,
            empty.clone(),
            vec![],
            401,
            "unauthorized",
        ),
        (
            "invalid token",
            "empty-0-0.x86_64.rpm".into(),
            Some("srt_forged"),
            empty.clone(),
            vec![],
            401,
            "unauthorized",
        ),
        (
            "admin token",
            "empty-0-0.x86_64.rpm".into(),
            Some(&server.admin_token),
            empty.clone(),
            vec![],
            403,
            "forbidden",
        ),
        (
            "same NEVRA, other bytes",
            basic_name.into(),
            Some(&team),
            signed,
            vec![],
            409,
            "conflict",
        ),
    ];
    for (what, name, token, body, headers, status, error) in cases {
        let (s, v) = put(&server, &name, token, body, &headers);
        assert_eq!(s, status, "{what}: {v}");
        assert_eq!(v["error"], error, "{what}: {v}");
        assert!(
            !v["detail"].as_str().unwrap_or("").is_empty(),
            "{what}: detail says what is wrong: {v}"
        );
        if what == "source rpm" {
            assert!(v["detail"].as_str().unwrap().contains("source RPM"), "{v}");
        }
        if what == "same NEVRA, other bytes" {
            assert!(
                v["detail"]
                    .as_str()
                    .unwrap()
                    .contains(&hex::encode(Sha256::digest(&basic))),
                "names the stored sha256: {v}"
            );
        }
        let after = (snapshot_tree(&data.join("store")), snapshot_tree(&data.join("repos")));
        assert!(
            before == after,
            "{what}: the store and the repositories must be unchanged"
        );
        assert_eq!(
            std::fs::read_dir(data.join("tmp")).unwrap().count(),
            0,
            "{what}: no partial file left"
        );
    }
    assert!(!server.log().contains("panicked"), "no panic:\n{}", server.log());
}

#[test]
fn bad_release_requests_get_json_errors() {
    let server = TestServer::start();
    let team = server.team_with_element("t", "x");
    let url = format!("{}/api/v1/releases", server.url);
    for (body, status) in [
        (&b"{not json"[..], 400),
        (
            br#"{"dist":"el9","element":"x","version":"1.0.0","packages":["missing-1-1.noarch.rpm"]}"#,
            400,
        ),
        (br#"{"dist":"el9","element":"x","version":"1.0.0","packages":[]}"#, 400),
        (
            br#"{"dist":"el9","element":"../x","version":"1.0.0","packages":["a"]}"#,
            404,
        ),
        (
            br#"{"dist":"nope","element":"x","version":"1.0.0","packages":["a"]}"#,
            404,
        ),
    ] {
        let (s, b) = http(
            Method::POST,
            &url,
            Some(&team),
            Some(body.to_vec()),
            &[("content-type", "application/json")],
        )
        .unwrap();
        assert_eq!(s, status, "{}", String::from_utf8_lossy(&b));
        let v = json(&b);
        assert!(v["error"].is_string() && v["detail"].is_string(), "{v}");
    }
    let (s, b) = http(
        Method::GET,
        &format!("{}/api/v1/releases/abc", server.url),
        None,
        None,
        &[],
    )
    .unwrap();
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&b));
    let (s, b) = http(
        Method::GET,
        &format!("{}/api/v1/releases/999", server.url),
        None,
        None,
        &[],
    )
    .unwrap();
    assert_eq!(s, 404);
    assert_eq!(json(&b)["error"], "not found");
    let (s, b) = http(Method::GET, &format!("{}/api/v1/nothing", server.url), None, None, &[]).unwrap();
    assert_eq!(s, 404);
    assert_eq!(json(&b)["error"], "not found");
}

/// A listing filtered by an unknown element or team is a 404 naming it, as the inventory's
/// is, not an empty list that reads as "none".
#[test]
fn listings_filtered_by_an_unknown_name_are_404() {
    let server = TestServer::start();
    server.team_with_element("t", "known");
    let get = |path: &str| {
        http(
            Method::GET,
            &format!("{}{path}", server.url),
            Some(&server.admin_token),
            None,
            &[],
        )
        .unwrap()
    };
    for (path, needle) in [
        ("/api/v1/rollouts?element=nope", "no element named nope"),
        ("/api/v1/admin/keys?team=nope", "no team named nope"),
        ("/api/v1/inventory?element=nope", "no element named nope"),
    ] {
        let (s, b) = get(path);
        assert_eq!(s, 404, "{path}: {}", String::from_utf8_lossy(&b));
        assert!(json(&b)["detail"].as_str().unwrap().contains(needle), "{path}");
    }
    for path in ["/api/v1/rollouts?element=known", "/api/v1/admin/keys?team=t"] {
        let (s, b) = get(path);
        assert_eq!((s, json(&b)), (200, serde_json::json!([])), "{path}");
    }
}
