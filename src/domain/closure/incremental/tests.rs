//! The snapshot's checks against the whole-set check, on random histories and known cases.
use super::*;
use crate::domain::evr::Evr;
use crate::domain::package::Dependency;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn dep(name: &str, flags: Option<&str>, version: Option<&str>) -> Dependency {
    Dependency {
        name: name.into(),
        flags: flags.map(Into::into),
        epoch: version.map(|_| "0".into()),
        version: version.map(Into::into),
        release: None,
        pre: false,
    }
}

const NAMES: &[&str] = &["a", "b", "c", "d", "e", "f"];
const CAPS: &[&str] = &["cap1", "cap2", "cap3", "libx.so.1()(64bit)", "a", "b"];
const FILES: &[&str] = &["/usr/bin/a", "/usr/bin/b", "/etc/c.conf", "/usr/lib/d"];
const FLAGS: &[&str] = &["EQ", "GE", "LT", "GT", "LE"];

/// A package with random provides, files, requirements (plain, versioned, files, rich,
/// unparsable) and obsoletes over a few names, so that versions supersede each other.
fn random_package(rng: &mut Rng, serial: usize) -> (String, Arc<DepPackage>) {
    let name = rng.pick(NAMES);
    let arch = ["noarch", "x86_64", "x86_64", "src"][rng.below(4) as usize];
    let evr = Evr::new(
        rng.below(2),
        &format!("{}", 1 + rng.below(3)),
        &format!("{}", 1 + rng.below(2)),
    );
    let versioned = |rng: &mut Rng, name: &str| {
        if rng.below(2) == 0 {
            dep(name, None, None)
        } else {
            dep(name, Some(rng.pick(FLAGS)), Some(&format!("{}", 1 + rng.below(3))))
        }
    };
    let provides = (0..rng.below(3))
        .map(|_| {
            let cap = rng.pick(CAPS);
            versioned(rng, cap)
        })
        .collect();
    let files = (0..rng.below(3)).map(|_| rng.pick(FILES).to_string()).collect();
    let mut requires: Vec<Dependency> = Vec::new();
    for _ in 0..rng.below(4) {
        requires.push(match rng.below(8) {
            0 => dep(rng.pick(FILES), None, None),
            1 => dep(&format!("({} or {})", rng.pick(CAPS), rng.pick(NAMES)), None, None),
            2 => dep(&format!("({} with {})", rng.pick(CAPS), rng.pick(CAPS)), None, None),
            3 => dep("(broken", None, None),
            _ => {
                let target = if rng.below(2) == 0 {
                    rng.pick(CAPS)
                } else {
                    rng.pick(NAMES)
                };
                versioned(rng, target)
            }
        });
    }
    let obsoletes = (0..u64::from(rng.below(4) == 0))
        .map(|_| {
            let name = rng.pick(NAMES);
            versioned(rng, name)
        })
        .collect();
    let conflicts = (0..u64::from(rng.below(3) == 0))
        .map(|_| match rng.below(3) {
            0 => dep(rng.pick(FILES), None, None),
            1 => dep(&format!("({} or {})", rng.pick(CAPS), rng.pick(NAMES)), None, None),
            _ => {
                let cap = rng.pick(CAPS);
                versioned(rng, cap)
            }
        })
        .collect();
    let sha = format!("{:016x}{serial:08}", rng.next());
    let p = DepPackage {
        nevra: DepPackage::format_nevra(name, &evr, arch),
        name: name.into(),
        arch: arch.into(),
        evr,
        provides,
        requires,
        conflicts,
        obsoletes,
        files,
    };
    (sha, Arc::new(p))
}

fn full(set: &[(String, Arc<DepPackage>)], indexes: &[&ProviderIndex]) -> Vec<Unmet> {
    let refs: Vec<&DepPackage> = set.iter().map(|(_, p)| p.as_ref()).collect();
    super::super::check_closure_newest(&refs, indexes)
}

#[test]
fn snapshot_checks_equal_the_full_check_over_random_histories() {
    let base = ProviderIndex::new(vec![Arc::unwrap_or_clone(random_package(&mut Rng(7), 0).1)]);
    let mut serial = 1;
    // Checks with problems, with a superseded provider, with an obsoleted one.
    let mut seen = (0, 0, 0, 0, 0);
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let indexes: Vec<&ProviderIndex> = if seed % 3 == 0 { vec![&base] } else { vec![] };
        let mut set: Vec<(String, Arc<DepPackage>)> = (0..rng.below(30))
            .map(|_| {
                serial += 1;
                random_package(&mut rng, serial)
            })
            .collect();
        set.sort_by(|a, b| a.0.cmp(&b.0));
        let (shas, pkgs): (Vec<String>, Vec<Arc<DepPackage>>) = set.iter().cloned().unzip();
        let mut snap = Snapshot::new(shas, pkgs, &indexes);
        assert_eq!(
            snap.check(&[], &[], &indexes, &|_| true),
            full(&set, &indexes),
            "seed {seed}: the snapshot itself"
        );
        for step in 0..12 {
            let mut added: Vec<(String, Arc<DepPackage>)> = (0..rng.below(4))
                .map(|_| {
                    serial += 1;
                    random_package(&mut rng, serial)
                })
                .collect();
            added.sort_by(|a, b| a.0.cmp(&b.0));
            let removed: Vec<usize> = (0..snap.len()).filter(|_| rng.below(6) == 0).collect();
            let (shas, pkgs) = snap.rebased(&added, &removed);
            let whole: Vec<(String, Arc<DepPackage>)> = shas.iter().cloned().zip(pkgs.iter().cloned()).collect();
            let want = full(&whole, &indexes);
            assert_eq!(
                snap.check(&added, &removed, &indexes, &|_| true),
                want,
                "seed {seed} step {step}"
            );
            // What the change touches, seen from the added packages, as a submission asks.
            let own = |n: &str| added.iter().any(|(_, p)| p.nevra == n);
            let involved = |u: &Unmet| own(&u.package) || u.lost.iter().any(|l| own(&l.replaced_by));
            let touched: Vec<Unmet> = snap
                .check_touched(&added, &removed, &indexes)
                .into_iter()
                .filter(|u| involved(u))
                .collect();
            let expected: Vec<Unmet> = want.iter().filter(|u| involved(u)).cloned().collect();
            assert_eq!(touched, expected, "seed {seed} step {step}: touched");
            seen.3 += expected.len();
            // The conflicts of the added packages as a release of element "x", over the
            // candidates against over every newest package.
            let element_of = |p: &DepPackage| if p.name.as_str() < "c" { "x" } else { "y" }.to_string();
            let new: Vec<&DepPackage> = added.iter().map(|(_, p)| p.as_ref()).collect();
            let newest_all: Vec<&DepPackage> = whole
                .iter()
                .map(|(_, p)| p.as_ref())
                .filter(|p| !new.contains(p))
                .filter(|p| {
                    whole
                        .iter()
                        .all(|(_, q)| q.name != p.name || q.arch != p.arch || q.evr <= p.evr)
                })
                .collect();
            let all =
                super::super::check_conflicts_owned_by(&new, &newest_all, &mut |i| element_of(newest_all[i]), "x");
            let candidates = snap.conflict_candidates(&added, &removed, &new);
            let some: Vec<&DepPackage> = candidates.iter().map(|p| p.as_ref()).collect();
            let found = super::super::check_conflicts_owned_by(&new, &some, &mut |i| element_of(some[i]), "x");
            assert_eq!(found, all, "seed {seed} step {step}: conflicts");
            seen.4 += all.len();
            seen.0 += usize::from(!want.is_empty());
            seen.1 += usize::from(want.iter().any(|u| u.lost.iter().any(|l| !l.obsoleted)));
            seen.2 += usize::from(want.iter().any(|u| u.lost.iter().any(|l| l.obsoleted)));
            let names: Vec<&str> = shas.iter().map(String::as_str).collect();
            let (a, r) = snap.delta(&names, usize::MAX).unwrap();
            assert_eq!(a, added.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>());
            assert_eq!(r, removed);
            // Every other step the next check starts from a new snapshot.
            if step % 2 == 1 {
                snap = Snapshot::new(shas, pkgs, &indexes);
            }
        }
    }
    // The histories reach the interesting cases often enough to mean something.
    assert!(
        seen.0 > 1500 && seen.1 > 400 && seen.2 > 200 && seen.3 > 500 && seen.4 > 800,
        "{seen:?}"
    );
}

#[test]
fn a_release_that_drops_a_provide_is_caught_incrementally() {
    let mk = |name: &str, v: &str, provides: Vec<Dependency>, requires: Vec<Dependency>| {
        let evr = Evr::new(0, v, "1");
        Arc::new(DepPackage {
            nevra: DepPackage::format_nevra(name, &evr, "noarch"),
            name: name.into(),
            arch: "noarch".into(),
            evr,
            provides,
            requires,
            conflicts: vec![],
            obsoletes: vec![],
            files: vec![],
        })
    };
    let libs = mk(
        "fts-libs",
        "3.13.0",
        vec![dep("libfts-api", Some("EQ"), Some("3"))],
        vec![],
    );
    let dmlite = mk(
        "dmlite",
        "1.15.0",
        vec![],
        vec![dep("libfts-api", Some("EQ"), Some("3"))],
    );
    let snap = Snapshot::new(vec!["a".into(), "b".into()], vec![libs, dmlite], &[]);
    assert!(snap.check(&[], &[], &[], &|_| true).is_empty());
    let newer = mk("fts-libs", "3.14.0", vec![], vec![]);
    let unmet = snap.check(&[("c".into(), newer)], &[], &[], &|_| true);
    assert_eq!(unmet.len(), 1, "{unmet:?}");
    assert_eq!(unmet[0].package, "dmlite-1.15.0-1.noarch");
    assert_eq!(unmet[0].lost[0].replaced_by, "fts-libs-3.14.0-1.noarch");
}
