//! Our repodata against createrepo_c's for real packages: every shared test RPM plus fixtures
//! built from `testdata/specs`, parsed with a real XML parser and compared field for field,
//! then byte for byte per package; and repomd.xml checked against the files it describes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use stagerepo::repodata::{render, PackageXml, RepoWriter};
use stagerepo::rpmhdr::{read_package, read_package_with, HeaderError, ReadOptions};

/// An element reduced to what matters: namespaced name, attributes, text of leaves, children.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    /// Text of an element without element children (`<a/>` and `<a></a>` both give "").
    text: Option<String>,
    children: Vec<Node>,
}

fn qualified(ns: Option<&str>, local: &str) -> String {
    match ns {
        Some(ns) => format!("{{{ns}}}{local}"),
        None => local.to_owned(),
    }
}

fn normalize(n: roxmltree::Node<'_, '_>) -> Node {
    let children: Vec<Node> = n.children().filter(|c| c.is_element()).map(normalize).collect();
    let text = children.is_empty().then(|| {
        n.children()
            .filter(|c| c.is_text())
            .filter_map(|c| c.text())
            .collect::<String>()
    });
    Node {
        name: qualified(n.tag_name().namespace(), n.tag_name().name()),
        attrs: n
            .attributes()
            .map(|a| (qualified(a.namespace(), a.name()), a.value().to_owned()))
            .collect(),
        text,
        children,
    }
}

/// Field-by-field differences, each with its path.
fn diff(a: &Node, b: &Node, path: &str, out: &mut Vec<String>) {
    if a.name != b.name {
        out.push(format!("{path}: element {} vs {}", a.name, b.name));
        return;
    }
    let keys: BTreeSet<&String> = a.attrs.keys().chain(b.attrs.keys()).collect();
    for k in keys {
        if a.attrs.get(k) != b.attrs.get(k) {
            out.push(format!("{path}@{k}: {:?} vs {:?}", a.attrs.get(k), b.attrs.get(k)));
        }
    }
    if a.text != b.text {
        out.push(format!("{path}: text {:?} vs {:?}", a.text, b.text));
    }
    if a.children.len() != b.children.len() {
        out.push(format!("{path}: {} vs {} children", a.children.len(), b.children.len()));
    }
    for (i, (x, y)) in a.children.iter().zip(&b.children).enumerate() {
        diff(x, y, &format!("{path}/{}[{i}]", x.name), out);
    }
}

const COMMON_NS: &str = "http://linux.duke.edu/metadata/common";

/// One repository's metadata, parsed.
struct Metadata {
    repomd: Node,
    /// Per data type: the decompressed document.
    documents: BTreeMap<String, String>,
}

fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_string(&mut s).unwrap();
    s
}

fn load(repo: &Path) -> Metadata {
    let text = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let repomd = normalize(doc.root_element());
    let mut documents = BTreeMap::new();
    for data in repomd.children.iter().filter(|c| c.name.ends_with("}data")) {
        let location = data.children.iter().find(|c| c.name.ends_with("}location")).unwrap();
        let bytes = std::fs::read(repo.join(&location.attrs["href"])).unwrap();
        documents.insert(data.attrs["type"].clone(), gunzip(&bytes));
    }
    Metadata { repomd, documents }
}

/// Packages of one document grouped by key, plus the `packages` count it declares (ours
/// declares none: see `repodata::layout`; createrepo_c's and mergerepo_c's do).
fn packages(doc: &str, kind: &str) -> (BTreeMap<String, Vec<Node>>, Option<usize>) {
    let parsed = roxmltree::Document::parse(doc).unwrap();
    let root = parsed.root_element();
    let declared = root.attribute("packages").map(|n| n.parse().unwrap());
    let mut out: BTreeMap<String, Vec<Node>> = BTreeMap::new();
    for pkg in root.children().filter(|c| c.is_element()) {
        let node = normalize(pkg);
        let key = if kind == "primary" {
            let child = |name: &str| {
                pkg.children()
                    .find(|c| c.tag_name() == (COMMON_NS, name).into())
                    .unwrap()
            };
            if child("arch").text() == Some("src") {
                continue;
            }
            format!(
                "{} {}",
                child("checksum").text().unwrap(),
                child("location").attribute("href").unwrap()
            )
        } else {
            let arch = pkg.attribute("arch").unwrap();
            if arch == "src" {
                continue;
            }
            format!("{} {}", pkg.attribute("pkgid").unwrap(), pkg.attribute("name").unwrap())
        };
        out.entry(key).or_default().push(node);
    }
    for list in out.values_mut() {
        list.sort();
    }
    (out, declared)
}

/// `<package>` fragments as raw text, for the byte-level check (source packages left out).
fn raw_fragments(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find("<package") {
        let end = rest[start..].find("</package>\n").unwrap() + start + "</package>\n".len();
        let fragment = &rest[start..end];
        if !fragment.contains("<arch>src</arch>") && !fragment.contains("arch=\"src\"") {
            out.push(fragment.to_owned());
        }
        rest = &rest[end..];
    }
    out.sort();
    out
}

/// Reads every RPM of `repo` with our reader; returns rendered packages, skipped source
/// packages and refused files (href, error).
fn read_all(repo: &Path) -> (Vec<PackageXml>, Vec<String>, Vec<(String, String)>) {
    let (mut ok, mut srpms, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    for path in common::find_rpms(repo) {
        let href = path.strip_prefix(repo).unwrap().to_str().unwrap().to_owned();
        match read_package(&path, &common::sha256_file(&path), common::mtime(&path)) {
            Ok(meta) => {
                assert_eq!(meta.size_package, std::fs::metadata(&path).unwrap().len());
                ok.push(render(&meta, &href));
            }
            Err(HeaderError::SourcePackage(_)) => {
                assert!(href.ends_with(".src.rpm"), "{href} refused as a source package");
                srpms.push(href);
            }
            Err(e) => refused.push((href, e.to_string())),
        }
    }
    (ok, srpms, refused)
}

/// repomd.xml's records must describe the files exactly.
fn check_repomd(repo: &Path, repomd: &Node) {
    let mut kinds = BTreeSet::new();
    for data in repomd.children.iter().filter(|c| c.name.ends_with("}data")) {
        let field = |name: &str| {
            data.children
                .iter()
                .find(|c| c.name.ends_with(&format!("}}{name}")))
                .unwrap()
        };
        let href = &field("location").attrs["href"];
        assert!(href.starts_with("repodata/"), "{href}");
        let bytes = std::fs::read(repo.join(href)).unwrap();
        let sha = hex::encode(Sha256::digest(&bytes));
        assert_eq!(field("checksum").attrs["type"], "sha256");
        assert_eq!(field("checksum").text.as_deref(), Some(sha.as_str()), "{href} checksum");
        assert!(
            href.ends_with(&format!("{sha}-{}.xml.gz", data.attrs["type"])),
            "{href}"
        );
        assert_eq!(field("size").text.as_deref(), Some(bytes.len().to_string().as_str()));
        let open = gunzip(&bytes);
        let open_sha = hex::encode(Sha256::digest(open.as_bytes()));
        assert_eq!(field("open-checksum").attrs["type"], "sha256");
        assert_eq!(field("open-checksum").text.as_deref(), Some(open_sha.as_str()));
        assert_eq!(
            field("open-size").text.as_deref(),
            Some(open.len().to_string().as_str())
        );
        let timestamp: i64 = field("timestamp").text.as_deref().unwrap().parse().unwrap();
        assert_eq!(
            timestamp,
            common::mtime(&repo.join(href)),
            "timestamp is the file's mtime"
        );
        kinds.insert(data.attrs["type"].clone());
    }
    assert_eq!(kinds, ["filelists", "other", "primary"].map(String::from).into());
}

/// The element structure of repomd.xml without values: ours must have createrepo_c's layout.
fn shape(n: &Node) -> Vec<String> {
    let mut out = vec![format!("{} {:?}", n.name, n.attrs.keys().collect::<Vec<_>>())];
    for c in &n.children {
        out.extend(shape(c).into_iter().map(|s| format!("  {s}")));
    }
    out
}

#[test]
fn repodata_matches_createrepo_c() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("input");
    common::copy_tree(&common::shared_rpms(), &input.join("shared"));
    common::build_fixtures(&input.join("fixtures"));
    let all: Vec<PathBuf> = common::find_rpms(&input);

    common::run(common::c_locale("createrepo_c").arg("--no-database").arg(&input));
    let theirs = load(&input);

    let (ours_xml, srpms, refused) = read_all(&input);
    let ours_dir = work.path().join("ours");
    let refs: Vec<&PackageXml> = ours_xml.iter().collect();
    let published = RepoWriter::default()
        .publish(&ours_dir, &refs, 1, 1_700_000_000)
        .unwrap();
    assert!(published.changed);
    let ours = load(&ours_dir);
    check_repomd(&ours_dir, &ours.repomd);
    assert_eq!(shape(&ours.repomd), shape(&theirs.repomd), "repomd.xml layout");

    // What createrepo_c itself refused (no package at that location in its primary).
    let their_hrefs: BTreeSet<String> = theirs.documents["primary"]
        .split("<location href=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect();
    let cr_refused: Vec<String> = all
        .iter()
        .map(|p| p.strip_prefix(&input).unwrap().to_str().unwrap().to_owned())
        .filter(|h| !their_hrefs.contains(h))
        .collect();
    eprintln!("createrepo_c refused: {cr_refused:?}");
    eprintln!("source packages we refused: {srpms:?}");
    for (href, err) in &refused {
        assert!(
            cr_refused.contains(href),
            "we refused {href} ({err}), createrepo_c accepted it"
        );
    }
    assert!(ours_xml.len() >= 30, "only {} packages read", ours_xml.len());

    let mut problems = Vec::new();
    for kind in ["primary", "filelists", "other"] {
        let (theirs_pkgs, their_count) = packages(&theirs.documents[kind], kind);
        let (ours_pkgs, our_count) = packages(&ours.documents[kind], kind);
        // The only difference in the documents besides the order of the packages: our root
        // element carries no count (readers count the packages; see `repodata::layout`).
        assert_eq!(our_count, None, "{kind} packages attribute");
        assert_eq!(
            ours_pkgs.values().map(Vec::len).sum::<usize>(),
            ours_xml.len(),
            "{kind}: our packages"
        );
        assert_eq!(
            their_count,
            Some(ours_xml.len() + srpms.len()),
            "{kind}: createrepo_c's count"
        );
        let keys: BTreeSet<&String> = theirs_pkgs.keys().chain(ours_pkgs.keys()).collect();
        for key in keys {
            match (theirs_pkgs.get(key), ours_pkgs.get(key)) {
                (Some(t), Some(o)) if t.len() == o.len() => {
                    for (t, o) in t.iter().zip(o) {
                        diff(t, o, &format!("{kind}[{key}]"), &mut problems);
                    }
                }
                (t, o) => problems.push(format!(
                    "{kind}[{key}]: createrepo_c has {}, we have {}",
                    t.map_or(0, Vec::len),
                    o.map_or(0, Vec::len)
                )),
            }
        }
        // Stronger than the fields: each package's fragment is byte-identical.
        let (t, o) = (
            raw_fragments(&theirs.documents[kind]),
            raw_fragments(&ours.documents[kind]),
        );
        if t != o {
            let first = t.iter().zip(&o).find(|(a, b)| a != b);
            problems.push(format!("{kind}: fragments differ in bytes, first: {first:#?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// createrepo_c's own reader (mergerepo_c, through zlib's gzread) and Python's gzip module
/// must read our multi-member gzip files.
#[test]
fn other_readers_accept_multi_member_files() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let fixtures = common::build_fixtures(&repo);
    let mut xml = Vec::new();
    for path in &fixtures {
        let meta = read_package(path, &common::sha256_file(path), common::mtime(path)).unwrap();
        xml.push(render(&meta, path.file_name().unwrap().to_str().unwrap()));
    }
    let refs: Vec<&PackageXml> = xml.iter().collect();
    let published = RepoWriter::default().publish(&repo, &refs, 1, 1_700_000_000).unwrap();

    let merged = work.path().join("merged");
    common::run(
        common::c_locale("mergerepo_c")
            .arg("--no-database")
            // Keep every version: the fixtures hold two releases of one package.
            .arg("--all")
            .arg("--repo")
            .arg(format!("file://{}", repo.display()))
            .arg("-o")
            .arg(&merged),
    );
    let merged_meta = load(&merged);
    let (merged_pkgs, count) = packages(&merged_meta.documents["primary"], "primary");
    assert_eq!(count, Some(fixtures.len()));
    assert_eq!(merged_pkgs.len(), fixtures.len());

    for file in &published.files {
        let script = "import gzip,sys; sys.stdout.write(str(len(gzip.open(sys.argv[1]).read())))";
        let path = repo.join("repodata").join(file);
        let len = common::run(std::process::Command::new("python3").arg("-c").arg(script).arg(&path));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(len, gunzip(&bytes).len().to_string(), "python's gzip on {file}");
    }

    // createrepo_c --update reads our files (no packages="N" count, our order) as its
    // previous metadata and keeps every package.
    let updated = work.path().join("updated");
    common::copy_tree(&repo, &updated);
    common::run(
        common::c_locale("createrepo_c")
            .arg("--update")
            .arg("--no-database")
            .arg(&updated),
    );
    let (updated_pkgs, count) = packages(&load(&updated).documents["primary"], "primary");
    assert_eq!(count, Some(fixtures.len()));
    assert_eq!(updated_pkgs.len(), fixtures.len());
}

/// The options createrepo_c exposes or changed in later releases: the changelog limit and the
/// pre rule of createrepo_c >= 1.1.1.
#[test]
fn read_options() {
    let work = tempfile::tempdir().unwrap();
    let rpms = common::build_fixtures(work.path());
    let deps = rpms
        .iter()
        .find(|p| p.to_str().unwrap().contains("fixture-deps"))
        .unwrap();
    let read = |options: &ReadOptions| read_package_with(deps, "id", 0, options).unwrap();

    let default = read(&ReadOptions::default());
    assert_eq!(default.changelogs.len(), 10);
    assert!(default.changelogs.first().unwrap().text.contains("Third entry"));
    let pretrans =
        |m: &stagerepo::domain::package::PackageMeta| m.requires.iter().find(|d| d.name == "pretrans-dep").unwrap().pre;
    assert!(!pretrans(&default));

    let all = read(&ReadOptions {
        changelog_limit: None,
        trans_requires_are_pre: true,
    });
    assert_eq!(all.changelogs.len(), 12);
    assert!(all.changelogs.first().unwrap().text.contains("First entry"));
    assert!(pretrans(&all));
}
