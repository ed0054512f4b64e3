//! Differential test of the closure check against `dnf repoclosure` on random synthetic
//! metadata full of near misses: epochs, missing releases, tilde and caret, ranged and
//! unversioned provides, files, and nested rich dependencies of every kind (`unless`
//! included, which rpmbuild refuses in `Requires:` but metadata can carry). Both verdicts
//! must be identical, package by package. A missing `dnf repoclosure` fails the test.

mod support;

use std::collections::BTreeSet;

use stagerepo::base::BaseRepo;
use stagerepo::domain::closure::{check_closure, check_closure_newest, ProviderIndex};
use stagerepo::domain::package::{Dependency, FileKind, PackageFile, PackageMeta};
use support::repoclosure::{meta, publish, repoclosure, Verdict};

/// splitmix64 for the random differential test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Names: a pool small enough for near misses, big enough for misses.
fn random_name(rng: &mut Rng) -> String {
    format!("n{}", rng.next() % 150)
}
const VERSIONS: &[&str] = &[
    "1", "1.0", "1.0~rc1", "1.0^git1", "1.0.1", "2", "10", "1a", "1.a", "01.0",
];
const RELEASES: &[Option<&str>] = &[None, None, Some("1"), Some("2"), Some("1.el9"), Some("10")];
const EPOCHS: &[Option<&str>] = &[None, None, None, Some("0"), Some("1"), Some("2")];
const FLAGS: &[&str] = &["EQ", "LT", "LE", "GT", "GE"];
const PATHS: &[&str] = &[
    "/usr/share/r/a",
    "/usr/share/r/b",
    "/usr/lib/r/c",
    "/usr/bin/r-d",
    "/etc/r/e",
];

/// A random versioned or plain dependency on the small name pool.
fn random_dep(rng: &mut Rng) -> Dependency {
    let mut d = Dependency {
        name: random_name(rng),
        flags: None,
        epoch: None,
        version: None,
        release: None,
        pre: rng.chance(10),
    };
    if rng.chance(80) {
        d.flags = Some(rng.pick(FLAGS).to_string());
        d.epoch = Some(rng.pick(EPOCHS).unwrap_or("0").to_string());
        d.version = Some(rng.pick(VERSIONS).to_string());
        d.release = rng.pick(RELEASES).map(Into::into);
    }
    d
}

/// A capability inside a rich dependency: `name`, `name OP [e:]v[-r]` or a path.
fn random_cap(rng: &mut Rng) -> String {
    if rng.chance(15) {
        return rng.pick(PATHS).to_string();
    }
    let d = random_dep(rng);
    match d.flags.as_deref() {
        None => d.name,
        Some(f) => {
            let op = match f {
                "EQ" => "=",
                "LT" => "<",
                "LE" => "<=",
                "GT" => ">",
                _ => ">=",
            };
            let epoch = d
                .epoch
                .filter(|e| e != "0")
                .map(|e| format!("{e}:"))
                .unwrap_or_default();
            let release = d.release.map(|r| format!("-{r}")).unwrap_or_default();
            format!("{} {op} {epoch}{}{release}", d.name, d.version.unwrap())
        }
    }
}

/// A random rich dependency of depth up to `depth`, every operator libsolv reads (also
/// `unless`, which rpmbuild refuses in Requires but metadata can carry).
fn random_rich(rng: &mut Rng, depth: u32) -> String {
    let side = |rng: &mut Rng| {
        if depth > 0 && rng.chance(30) {
            random_rich(rng, depth - 1)
        } else {
            random_cap(rng)
        }
    };
    let (a, b) = (side(rng), side(rng));
    match rng.next() % 9 {
        0 => format!("({a} and {b})"),
        1 => format!("({a} or {b} or {})", side(rng)),
        2 => format!("({a} if {b})"),
        3 => format!("({a} if {b} else {})", side(rng)),
        4 => format!("({a} unless {b})"),
        5 => format!("({a} unless {b} else {})", side(rng)),
        6 => format!("({} with {})", random_cap(rng), random_cap(rng)),
        7 => format!("({} without {})", random_cap(rng), random_cap(rng)),
        _ => format!("({a} and {b} and {})", side(rng)),
    }
}

/// A random package: random provides (versioned, unversioned, ranged) and files; with
/// `requires`, random plain, file and rich requirements.
fn random_package(rng: &mut Rng, i: usize, requires: bool) -> PackageMeta {
    let name = random_name(rng);
    let mut m = meta(&name, "noarch", &[], &[], &[]);
    m.epoch = rng.pick(EPOCHS).map(|e| e.parse().unwrap()).unwrap_or(0);
    m.version = rng.pick(VERSIONS).to_string();
    // Unique NEVRAs (the release also carries the package number after a dot).
    m.release = format!("{}.{i}", rng.pick(RELEASES).unwrap_or("1"));
    m.provides[0].epoch = Some(m.epoch.to_string());
    m.provides[0].version = Some(m.version.clone());
    m.provides[0].release = Some(m.release.clone());
    m.pkgid = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("{i}-{requires}")));
    if rng.chance(40) {
        m.provides.push(random_dep(rng));
    }
    for p in PATHS {
        if rng.chance(10) {
            m.files.push(PackageFile {
                path: p.to_string(),
                kind: FileKind::File,
            });
        }
    }
    if requires {
        for _ in 0..(1 + rng.next() % 6) {
            m.requires.push(match rng.next() % 10 {
                0 => Dependency {
                    name: rng.pick(PATHS).to_string(),
                    ..random_dep(rng)
                }
                .unversioned(),
                1..=3 => Dependency {
                    name: random_rich(rng, 2),
                    ..random_dep(rng)
                }
                .unversioned(),
                _ => random_dep(rng),
            });
        }
    }
    m
}

trait Unversioned {
    fn unversioned(self) -> Self;
}

impl Unversioned for Dependency {
    fn unversioned(mut self) -> Self {
        (self.flags, self.epoch, self.version, self.release) = (None, None, None, None);
        self
    }
}

/// Random metadata full of near misses (epochs, missing releases, tilde and caret, ranged
/// and unversioned provides, files, nested rich dependencies of every kind): both verdicts
/// must be identical.
#[test]
fn random_metadata_agrees_with_dnf_repoclosure() {
    compare_random(false);
}

/// The same corpus (300 packages on 150 names: many names in several versions) as a host
/// that upgrades sees it: `check_closure_newest` against `dnf repoclosure --newest`.
#[test]
fn random_metadata_newest_agrees_with_dnf_repoclosure_newest() {
    compare_random(true);
}

fn compare_random(newest: bool) {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=6u64 {
        let mut rng = Rng(seed);
        let (base_dir, prod_dir) = (
            dir.path().join(format!("base{seed}")),
            dir.path().join(format!("prod{seed}")),
        );
        let base: Vec<PackageMeta> = (0..150).map(|i| random_package(&mut rng, i, false)).collect();
        let prod: Vec<PackageMeta> = (150..450).map(|i| random_package(&mut rng, i, true)).collect();
        publish(&base_dir, &base);
        publish(&prod_dir, &prod);
        let extra = if newest { vec!["--newest".to_string()] } else { vec![] };
        let reference = repoclosure(&base_dir, &prod_dir, &extra);
        let index = ProviderIndex::new(
            BaseRepo::import("base", base_dir.to_str().unwrap(), 0)
                .unwrap()
                .packages,
        );
        let candidates = BaseRepo::import("prod", prod_dir.to_str().unwrap(), 0)
            .unwrap()
            .packages;
        let (min_unmet, min_rich) = if newest { (50, 10) } else { (100, 20) };
        let mut ours = Verdict::new();
        let refs: Vec<_> = candidates.iter().collect();
        let verdict = if newest {
            check_closure_newest(&refs, &[&index])
        } else {
            check_closure(&refs, &[&index])
        };
        // Some requirements must be unmet only because their provider was superseded.
        assert!(
            !newest || verdict.iter().any(|u| !u.lost.is_empty()),
            "seed {seed}: no superseded provider"
        );
        for u in verdict {
            ours.entry(u.package).or_default().insert(u.requirement);
        }
        let unmet: usize = reference.values().map(BTreeSet::len).sum();
        let rich: usize = reference.values().flatten().filter(|r| r.starts_with('(')).count();
        eprintln!(
            "seed {seed} (newest: {newest}): {unmet} unmet ({rich} rich) in {} of {} packages",
            reference.len(),
            prod.len()
        );
        assert!(
            unmet > min_unmet && rich > min_rich && reference.len() < prod.len(),
            "seed {seed}: a poor mix"
        );
        let mut report = String::new();
        for p in reference.keys().chain(ours.keys()).collect::<BTreeSet<_>>() {
            if reference.get(p) != ours.get(p) {
                report.push_str(&format!(
                    "{p}:\n  dnf:  {:?}\n  ours: {:?}\n",
                    reference.get(p),
                    ours.get(p)
                ));
            }
        }
        assert!(report.is_empty(), "seed {seed}: verdicts differ:\n{report}");
    }
}
