//! The per-distribution release package: built by stagerepo, signed like the repositories,
//! installed with real dnf, and enough for a host to install from production.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{build_rpms, require_tool, ureq_get, SpecPackage, TestServer};

/// A fresh unprotected RSA signing key in its own gpg home; returns the secret key file.
fn gen_key(dir: &Path) -> PathBuf {
    require_tool("gpg");
    let home = dir.join("gnupg");
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
        "repo <repo@example.org>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let key = dir.join("repo.asc");
    std::fs::write(&key, gpg(&["--armor", "--export-secret-keys"])).unwrap();
    key
}

/// Real dnf on an installroot whose yum.repos.d is the root's own `/etc/yum.repos.d`, as on
/// a host; `extra` settings go before the command.
fn dnf(root: &Path, extra: &[String], args: &[&str]) -> (bool, String) {
    let out = Command::new("dnf")
        .arg("-y")
        .arg(format!("--installroot={}", root.display()))
        .arg("--disableplugin=local")
        .arg("--releasever=9")
        .arg(format!("--setopt=reposdir={}", root.join("etc/yum.repos.d").display()))
        .arg("--setopt=install_weak_deps=False")
        .args(extra)
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

fn rpm(root: &Path, args: &[&str]) -> String {
    let out = Command::new("rpm").arg("--root").arg(root).args(args).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn one_dnf_install_sets_a_host_up_with_a_signed_release_package() {
    require_tool("dnf");
    let keys = tempfile::tempdir().unwrap();
    let key = gen_key(keys.path());
    let server = TestServer::start_with_config(&format!("signing_key = {:?}\n", key.display().to_string()));
    let team = server.team_with_element("fts-team", "fts");
    let work = tempfile::tempdir().unwrap();
    let v1 = server.submit(
        &team,
        "fts",
        "1.0.0",
        &build_rpms(work.path(), &[SpecPackage::new("fts-server", "1.0", "1")]),
    );
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "promote",
            &v1.to_string(),
            "--force",
            "--reason",
            "first",
        ],
    );

    // The package itself: a noarch RPM with a header signature by the repository key.
    let url = format!("{}/repo/el9/stagerepo-release.noarch.rpm", server.url);
    let (status, body) = ureq_get(&url).unwrap();
    assert_eq!(status, 200);
    let file = work.path().join("stagerepo-release.noarch.rpm");
    std::fs::write(&file, &body).unwrap();
    let info = rpm(Path::new("/"), &["-qip", file.to_str().unwrap()]);
    assert!(info.contains("stagerepo-release") && info.contains("noarch"), "{info}");
    let listed = rpm(Path::new("/"), &["-qlp", file.to_str().unwrap()]);
    assert!(
        listed.contains("/etc/yum.repos.d/stagerepo-el9.repo")
            && listed.contains("/etc/pki/rpm-gpg/RPM-GPG-KEY-stagerepo"),
        "{listed}"
    );

    // A host with nothing configured installs it by URL.
    let host = tempfile::tempdir().unwrap();
    let root = host.path().join("root");
    std::fs::create_dir_all(root.join("etc/yum.repos.d")).unwrap();
    let (ok, text) = dnf(&root, &[], &["install", &url]);
    assert!(ok, "dnf install URL:\n{text}");
    let repo_file = std::fs::read_to_string(root.join("etc/yum.repos.d/stagerepo-el9.repo")).unwrap();
    assert!(
        repo_file.contains("[stagerepo-el9-production]") && repo_file.contains("[stagerepo-el9-beta]"),
        "{repo_file}"
    );
    assert!(
        repo_file.contains(&format!("baseurl={}/repo/el9/production/", server.url)),
        "{repo_file}"
    );
    assert!(
        repo_file.contains("gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-stagerepo"),
        "{repo_file}"
    );
    let installed_key = root.join("etc/pki/rpm-gpg/RPM-GPG-KEY-stagerepo");
    let (_, served_key) = ureq_get(&format!("{}/repo/el9/RPM-GPG-KEY-stagerepo", server.url)).unwrap();
    assert_eq!(
        std::fs::read(&installed_key).unwrap(),
        served_key,
        "the installed key is the repositories' key"
    );

    // Signed like the repositories: rpm verifies the header signature with the installed key.
    rpm(&root, &["--import", installed_key.to_str().unwrap()]);
    let checked = rpm(&root, &["-K", file.to_str().unwrap()]);
    assert!(
        checked.contains("signatures OK") || checked.contains("digests signatures OK"),
        "rpm -K: {checked}"
    );

    // The installed definitions are enough: production enabled (repo_gpgcheck against the
    // installed key), beta disabled until a site enables it for a rollout. The installroot's
    // key path is passed explicitly because dnf reads file:// keys from the real root.
    let key_opt = |repo: &str| {
        format!(
            "--setopt=stagerepo-el9-{repo}.gpgkey=file://{}",
            installed_key.display()
        )
    };
    let extra = [key_opt("production"), key_opt("beta")];
    let (ok, text) = dnf(&root, &extra, &["repolist", "--all"]);
    assert!(ok, "{text}");
    let beta_line = text
        .lines()
        .find(|l| l.contains("stagerepo-el9-beta"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(beta_line.contains("disabled"), "{text}");
    let (ok, text) = dnf(&root, &extra, &["--refresh", "install", "fts-server"]);
    assert!(ok, "dnf install from the installed .repo file:\n{text}");
    assert!(rpm(&root, &["-q", "fts-server"]).contains("fts-server-1.0-1"));

    // An unknown distribution has no release package.
    let (status, _) = ureq_get(&format!("{}/repo/el7/stagerepo-release.noarch.rpm", server.url)).unwrap();
    assert_eq!(status, 404);
}

#[test]
fn the_release_package_name_is_configurable_and_unsigned_without_a_key() {
    let server = TestServer::start_with_config("release_package = \"grid-repos\"\n");
    let (status, body) = ureq_get(&format!("{}/repo/el9/grid-repos.noarch.rpm", server.url)).unwrap();
    assert_eq!(status, 200);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("grid-repos.noarch.rpm");
    std::fs::write(&file, &body).unwrap();
    let listed = rpm(Path::new("/"), &["-qlp", file.to_str().unwrap()]);
    assert!(listed.contains("/etc/yum.repos.d/stagerepo-el9.repo"), "{listed}");
    assert!(!listed.contains("RPM-GPG-KEY"), "no key without signing: {listed}");
    let (status, _) = ureq_get(&format!("{}/repo/el9/stagerepo-release.noarch.rpm", server.url)).unwrap();
    assert_eq!(status, 404);
}
