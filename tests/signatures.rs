//! Team keys and `require_signed`: uploads not signed by the team's key are refused.

mod support;

use reqwest::Method;
use support::*;

#[test]
fn require_signed_refuses_unsigned_and_foreign_keys() {
    let server = TestServer::start_with_config("[dist.el9]\nrequire_signed = true\n");
    let team = server.team_with_element("signers", "basic");
    let data = shared_testdata();
    let put = |file: &str, name: &str| {
        let body = std::fs::read(data.join("rpms/rpm-rs/RPMS").join(file)).unwrap();
        let (s, b) = http(
            Method::PUT,
            &format!("{}/api/v1/upload/{name}", server.url),
            Some(&team),
            Some(body),
            &[],
        )
        .unwrap();
        (s, json(&b))
    };
    let name = "rpm-basic-2.3.4-5.el9.noarch.rpm";

    let (s, v) = put("v4/rpm-basic-2.3.4-5.el9.noarch.rpm", name);
    assert_eq!(s, 400, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("carries no signature"), "{v}");

    let (s, v) = put("v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm", name);
    assert_eq!(s, 400, "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains("signed with key") && detail.contains("not a key of team signers"),
        "{v}"
    );

    let key = data.join("keys/rpm-rs/v4/rpm-testkey-v4-rsa4096.asc");
    let out = server.cli_ok(None, &["admin", "team", "key", "add", "signers", key.to_str().unwrap()]);
    assert!(out.contains("signers"), "{out}");
    // The key id the refusal named is one of the imported key's ids.
    let keys = server.get_json("/api/v1/admin/keys?team=signers");
    let ids: Vec<String> = keys[0]["key_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert!(
        ids.iter().any(|id| detail.contains(id.as_str())),
        "{detail} names one of {ids:?}"
    );

    let (s, v) = put("v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm", name);
    assert_eq!(s, 201, "{v}");
    let fp = keys[0]["fingerprint"].as_str().unwrap().to_string();
    server.cli_ok(None, &["admin", "team", "key", "remove", "signers", &fp]);
    assert_eq!(server.get_json("/api/v1/admin/keys").as_array().unwrap().len(), 0);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(name);
    std::fs::copy(
        data.join("rpms/rpm-rs/RPMS/v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm"),
        &copy,
    )
    .unwrap();
    let release = server.submit(&team, "basic", "1.0.0", &[copy]);
    assert!(
        release > 0,
        "a package accepted while the key was present stays releasable"
    );
}
