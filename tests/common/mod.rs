//! Helpers shared by the integration tests: shared test data, fixture builds, external tools.
//!
//! External tools (createrepo_c, rpmbuild, dnf) are required: a missing one fails the test
//! with a message, it never skips it.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// `../shared/testdata/rpms` relative to the crate: the repository lives beside `shared/`.
pub fn shared_rpms() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/rpms");
    assert!(dir.is_dir(), "shared test RPMs not found at {}", dir.display());
    dir
}

/// Runs a command, failing the test (not skipping it) when the tool is missing or fails.
pub fn run(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e} (is it installed?)"));
    assert!(
        out.status.success(),
        "{shown} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command with a neutral locale: rpm picks translated header strings from LANGUAGE,
/// LC_ALL, LC_MESSAGES and LANG, and "C" selects the untranslated ones, as our reader does.
pub fn c_locale(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_remove("LANGUAGE")
        .env_remove("LANG")
        .env_remove("LC_MESSAGES")
        .env("LC_ALL", "C");
    cmd
}

/// Builds every spec of `testdata/specs` with rpmbuild; returns the binary RPMs, copied to `out`.
pub fn build_fixtures(out: &Path) -> Vec<PathBuf> {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/specs");
    let top = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out).unwrap();
    let mut built = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&specs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "spec"))
        .collect();
    names.sort();
    for spec in names {
        run(c_locale("rpmbuild")
            .arg("-bb")
            .arg("--quiet")
            .arg("--define")
            .arg(format!("_topdir {}", top.path().display()))
            .arg(&spec));
    }
    for rpm in find_rpms(&top.path().join("RPMS")) {
        let dest = out.join(rpm.file_name().unwrap());
        std::fs::copy(&rpm, &dest).unwrap();
        built.push(dest);
    }
    assert!(!built.is_empty(), "rpmbuild produced nothing");
    built
}

/// All `*.rpm` files under `dir`, sorted.
pub fn find_rpms(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rpm") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Copies a directory tree (files only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// sha256 (hex) of a file.
pub fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A file's mtime in Unix seconds (createrepo_c's `time file`).
pub fn mtime(path: &Path) -> i64 {
    std::fs::metadata(path).unwrap().mtime()
}
