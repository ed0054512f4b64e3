//! The newest-set closure kept between checks: a [`Snapshot`] of a set of packages with its
//! verdict, and checks of that set with some packages added or removed that redo only what
//! those packages can change.
//!
//! Why: a grid's repositories keep every version for years, and every submission checks
//! beta plus production against the bases. Indexing 50,000 packages again for each
//! 3-package release made the check cost grow with the repository. A requirement's verdict
//! depends only on the packages that provide its names (or own its paths), so after a change
//! only two kinds of requirements are evaluated again: those of changed packages, and those
//! naming a capability, file or name of a changed package. A package is changed when it
//! comes or goes, when its name and architecture got a new newest version, or when what
//! obsoletes it may differ. Everything else keeps the snapshot's verdict. The result equals
//! [`super::check_closure_newest`] on the whole set, in the same order (tested against it on
//! random histories).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

mod eval;

use eval::{cap_names, group_hash, obsoleted_name, obsoletes_package, requirement_keys, Eval, Outcome, Status};

use super::check::Unmet;
use super::index::{hash, is_source, Pkgs, Slot, Slots, Table, View};
use super::newest::{newest_of, obsoleted_by};
use super::{DepPackage, ProviderIndex};

/// A package of a check: (0 for the snapshot, 1 for the added packages; position).
type CRef = (u16, u32);
const SNAP: u16 = 0;
const OVER: u16 = 1;

/// A set of packages (sha256 sums with their dependency data, sorted by sum) indexed, with
/// the verdict of every requirement, against fixed base repositories.
#[derive(Debug)]
pub struct Snapshot {
    shas: Vec<String>,
    packages: Vec<Arc<DepPackage>>,
    table: Table,
    status: Status,
    /// Packages by (name, architecture).
    groups: Slots,
    /// Packages by name.
    names: Slots,
    /// Packages by the names they obsolete (entry: the position of the `Obsoletes:`).
    obsoleters: Slots,
    /// Requirements by the capabilities they name (pkg, entry: the requirement's position).
    requirers: Slots,
    /// Conflicts by the capabilities they name (pkg, entry: the conflict's position).
    conflicters: Slots,
    /// The unmet requirements, by (package, requirement).
    outcomes: BTreeMap<(u32, u32), Outcome>,
    /// The same by the hash of their (package, requirement) text.
    by_text: Slots,
}

impl Snapshot {
    /// Indexes `packages` (with their sha256 sums `shas`, sorted) and checks every
    /// requirement against `indexes` (the base repositories).
    pub fn new(shas: Vec<String>, packages: Vec<Arc<DepPackage>>, indexes: &[&ProviderIndex]) -> Snapshot {
        assert_eq!(shas.len(), packages.len());
        debug_assert!(shas.windows(2).all(|w| w[0] < w[1]), "sums must be sorted and unique");
        let pkgs = Pkgs::Shared(&packages);
        let table = Table::build(pkgs);
        let mut status = Status::fresh(packages.len(), SNAP);
        let best = newest_of(pkgs);
        for (i, b) in best.iter().enumerate() {
            status.live[i] = *b == i;
            status.best[i] = (SNAP, *b as u32);
        }
        for (i, o) in obsoleted_by(pkgs, &status.live).into_iter().enumerate() {
            status.obsoleted[i] = o.map(|o| (SNAP, o as u32));
            status.alive[i] = status.live[i] && o.is_none();
        }
        let (mut groups, mut names, mut obsoleters, mut requirers) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut conflicters = Vec::new();
        let mut keys = Vec::new();
        for (i, p) in packages.iter().enumerate() {
            let pkg = i as u32;
            groups.push(Slot {
                hash: group_hash(&p.name, &p.arch),
                pkg,
                entry: 0,
            });
            names.push(Slot {
                hash: hash(&p.name),
                pkg,
                entry: 0,
            });
            for (e, o) in p.obsoletes.iter().enumerate() {
                if let Some(name) = obsoleted_name(p, o) {
                    obsoleters.push(Slot {
                        hash: hash(name),
                        pkg,
                        entry: e as u32,
                    });
                }
            }
            for (c, conflict) in p.conflicts.iter().enumerate() {
                keys.clear();
                requirement_keys(conflict, &mut keys);
                keys.sort_unstable();
                keys.dedup();
                conflicters.extend(keys.iter().map(|&hash| Slot {
                    hash,
                    pkg,
                    entry: c as u32,
                }));
            }
            for (r, req) in p.requires.iter().enumerate() {
                keys.clear();
                requirement_keys(req, &mut keys);
                keys.sort_unstable();
                keys.dedup();
                requirers.extend(keys.iter().map(|&hash| Slot {
                    hash,
                    pkg,
                    entry: r as u32,
                }));
            }
        }
        let empty_table = Table::default();
        let empty_status = Status::default();
        let mut outcomes = BTreeMap::new();
        {
            let eval = Eval::new(
                [pkgs, Pkgs::Shared(&[])],
                [&table, &empty_table],
                [&status, &empty_status],
                indexes,
            );
            for (i, p) in packages.iter().enumerate() {
                for r in 0..p.requires.len() {
                    let o = eval.evaluate((SNAP, i as u32), r);
                    if o.newest.is_some() || o.obsoletes.is_some() {
                        outcomes.insert((i as u32, r as u32), o);
                    }
                }
            }
        }
        let by_text = outcomes
            .iter()
            .filter_map(|(&(pkg, entry), o)| {
                let u = o.newest.as_ref().or(o.obsoletes.as_ref())?;
                Some(Slot {
                    hash: text_hash(u),
                    pkg,
                    entry,
                })
            })
            .collect();
        Snapshot {
            by_text: Slots::new(by_text),
            shas,
            packages,
            table,
            status,
            groups: Slots::new(groups),
            names: Slots::new(names),
            obsoleters: Slots::new(obsoleters),
            requirers: Slots::new(requirers),
            conflicters: Slots::new(conflicters),
            outcomes,
        }
    }

    /// Number of packages.
    pub fn len(&self) -> usize {
        self.shas.len()
    }

    /// Whether the snapshot holds no package.
    pub fn is_empty(&self) -> bool {
        self.shas.is_empty()
    }

    /// The position of package `sha` in the snapshot's set.
    pub fn position(&self, sha: &str) -> Option<usize> {
        self.shas.binary_search_by(|s| s.as_str().cmp(sha)).ok()
    }

    /// The sums of `set` (sorted, unique) that the snapshot lacks, and the positions of the
    /// snapshot's packages that `set` lacks; `None` as soon as they number more than `limit`.
    pub fn delta<'s>(&self, set: &[&'s str], limit: usize) -> Option<(Vec<&'s str>, Vec<usize>)> {
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < self.shas.len() || j < set.len() {
            match (self.shas.get(i), set.get(j)) {
                (Some(a), Some(b)) if a.as_str() == *b => {
                    i += 1;
                    j += 1;
                    continue;
                }
                (Some(a), Some(b)) if a.as_str() < *b => {
                    removed.push(i);
                    i += 1;
                }
                (Some(_), None) => {
                    removed.push(i);
                    i += 1;
                }
                (_, Some(b)) => {
                    added.push(*b);
                    j += 1;
                }
                (None, None) => unreachable!(),
            }
            if added.len() + removed.len() > limit {
                return None;
            }
        }
        Some((added, removed))
    }

    /// The packages of the set the snapshot makes with `added` (sorted by sum) and without
    /// `removed` (positions): sums and packages, sorted, for the next snapshot.
    pub fn rebased(
        &self,
        added: &[(String, Arc<DepPackage>)],
        removed: &[usize],
    ) -> (Vec<String>, Vec<Arc<DepPackage>>) {
        let gone: HashSet<usize> = removed.iter().copied().collect();
        let mut out: Vec<(String, Arc<DepPackage>)> = (0..self.len())
            .filter(|i| !gone.contains(i))
            .map(|i| (self.shas[i].clone(), self.packages[i].clone()))
            .chain(added.iter().cloned())
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().unzip()
    }

    /// The packages of the snapshot's set plus `added` minus `removed` that a conflict or
    /// obsolete could pair with one of `new` (packages of that set): those providing, owning
    /// or named as what a package of `new` conflicts with or obsoletes, and those whose
    /// conflicts or obsoletes name a capability, file or name of one; each the newest of its
    /// name and architecture, none of `new`. [`super::check_conflicts`] finds over these
    /// what it finds over all the newest packages, at the cost of the release.
    pub fn conflict_candidates(
        &self,
        added: &[(String, Arc<DepPackage>)],
        removed: &[usize],
        new: &[&DepPackage],
    ) -> Vec<Arc<DepPackage>> {
        let gone: HashSet<usize> = removed.iter().copied().collect();
        let is_new = |p: &DepPackage| new.iter().any(|n| std::ptr::eq(*n, p) || **n == *p);
        let view = View::new(Pkgs::Shared(&self.packages), &self.table);
        let mut found: HashSet<u32> = HashSet::new();
        let mut keys = Vec::new();
        for n in new {
            for d in n.conflicts.iter().chain(&n.obsoletes) {
                keys.clear();
                cap_names(d, &mut keys);
                for name in &keys {
                    found.extend(view.provides(name).map(|(p, _)| p));
                    found.extend(view.owners(name));
                }
            }
            let mut mine: Vec<u64> = vec![hash(&n.name)];
            mine.extend(n.provides.iter().map(|d| hash(&d.name)));
            mine.extend(n.files.iter().map(|f| hash(f)));
            for k in mine {
                found.extend(self.conflicters.find(k).iter().map(|s| s.pkg));
            }
            found.extend(self.obsoleters.find(hash(&n.name)).iter().map(|s| s.pkg));
            // The obsoleters index leaves out a package obsoleting its own name, which still
            // replaces that name's other architectures.
            found.extend(self.names.find(hash(&n.name)).iter().map(|s| s.pkg));
        }
        let candidates = found
            .into_iter()
            .filter(|&p| !gone.contains(&(p as usize)))
            .map(|p| self.packages[p as usize].clone())
            .chain(added.iter().map(|(_, p)| p.clone()))
            .filter(|p| !is_new(p));
        // The newest of each name and architecture in the whole set.
        let newest = |p: &DepPackage| -> bool {
            let snapshot = self
                .groups
                .find(group_hash(&p.name, &p.arch))
                .iter()
                .filter(|s| !gone.contains(&(s.pkg as usize)))
                .map(|s| &self.packages[s.pkg as usize]);
            let mut same = snapshot
                .chain(added.iter().map(|(_, q)| q))
                .filter(|q| q.name == p.name && q.arch == p.arch);
            same.all(|q| q.evr <= p.evr)
        };
        let mut out: Vec<Arc<DepPackage>> = candidates.filter(|p| newest(p)).collect();
        out.sort_by(|a, b| a.nevra.cmp(&b.nevra));
        out.dedup_by(|a, b| Arc::ptr_eq(a, b));
        out
    }

    /// The sum of the package with this NEVRA in the snapshot (the first, if several).
    pub fn sha_of(&self, nevra: &str) -> Option<&str> {
        self.packages
            .iter()
            .position(|p| p.nevra == nevra)
            .map(|i| self.shas[i].as_str())
    }

    /// [`super::check_closure_newest`] of the snapshot's set plus `added` (sums and packages,
    /// sorted by sum, none in the snapshot) minus `removed` (positions in the snapshot),
    /// against the same `indexes` the snapshot was made with; only the problems `keep`
    /// accepts are copied out.
    pub fn check(
        &self,
        added: &[(String, Arc<DepPackage>)],
        removed: &[usize],
        indexes: &[&ProviderIndex],
        keep: &dyn Fn(&Unmet) -> bool,
    ) -> Vec<Unmet> {
        let d = self.redo(added, removed, indexes);
        let kept = self.outcomes.iter().filter(|((p, r), _)| d.keeps(*p, *r));

        // Both in the order of the whole set: by package sum, then requirement.
        let mut merged: Vec<&Outcome> = Vec::with_capacity(self.outcomes.len() + d.fresh.len());
        let mut fresh_iter = d.fresh.iter().peekable();
        for ((p, r), o) in kept {
            let key = (self.shas[*p as usize].as_str(), *r);
            while let Some(f) = fresh_iter.next_if(|f| (f.0.as_str(), f.1) < key) {
                merged.push(&f.2);
            }
            merged.push(o);
        }
        merged.extend(fresh_iter.map(|f| &f.2));
        assemble(&merged, keep)
    }

    /// The problems of [`Snapshot::check`]'s report that the change touches: those of added
    /// packages and of requirements evaluated again (which include every problem naming an
    /// added package, as the package or as what replaced a lost provider). Costs what the
    /// change touches, not what the repository holds.
    pub fn check_touched(
        &self,
        added: &[(String, Arc<DepPackage>)],
        removed: &[usize],
        indexes: &[&ProviderIndex],
    ) -> Vec<Unmet> {
        let d = self.redo(added, removed, indexes);
        // The kept verdicts of one (package, requirement) text, in the set's order.
        let earlier_kept = |u: &Unmet| -> Vec<((&str, u32), &Outcome)> {
            self.by_text
                .find(text_hash(u))
                .iter()
                .filter(|s| d.keeps(s.pkg, s.entry))
                .filter_map(|s| {
                    let o = self.outcomes.get(&(s.pkg, s.entry))?;
                    let same = |x: &Option<Unmet>| {
                        x.as_ref()
                            .is_some_and(|x| x.package == u.package && x.requirement == u.requirement)
                    };
                    (same(&o.newest) || same(&o.obsoletes))
                        .then_some(((self.shas[s.pkg as usize].as_str(), s.entry), o))
                })
                .collect()
        };
        let mut out = Vec::new();
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for (sha, r, o) in &d.fresh {
            let Some(u) = &o.newest else { continue };
            let at = (sha.as_str(), *r);
            let first = !earlier_kept(u).iter().any(|(k, o)| *k < at && o.newest.is_some());
            if seen.insert((&u.package, &u.requirement)) && first {
                out.push(u.clone());
            }
        }
        let known = seen;
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for (sha, r, o) in &d.fresh {
            let Some(u) = &o.obsoletes else { continue };
            let at = (sha.as_str(), *r);
            let key = (u.package.as_str(), u.requirement.as_str());
            let others = earlier_kept(u);
            let in_newest = known.contains(&key) || others.iter().any(|(_, o)| o.newest.is_some());
            let first = !others.iter().any(|(k, o)| *k < at && o.obsoletes.is_some());
            if !in_newest && seen.insert(key) && first {
                out.push(u.clone());
            }
        }
        out
    }

    /// Evaluates again what the change touches.
    fn redo(&self, added: &[(String, Arc<DepPackage>)], removed: &[usize], indexes: &[&ProviderIndex]) -> Redone {
        debug_assert!(added.windows(2).all(|w| w[0].0 < w[1].0));
        let over: Vec<Arc<DepPackage>> = added.iter().map(|(_, p)| p.clone()).collect();
        let over_table = Table::build(Pkgs::Shared(&over));
        let sha = |(v, p): CRef| -> &str {
            if v == SNAP {
                &self.shas[p as usize]
            } else {
                &added[p as usize].0
            }
        };
        let pkg = |(v, p): CRef| -> &DepPackage {
            if v == SNAP {
                &self.packages[p as usize]
            } else {
                &over[p as usize]
            }
        };
        let mut st = [self.status.clone(), Status::fresh(over.len(), OVER)];
        let mut changed: HashSet<CRef> = HashSet::new();
        for &r in removed {
            let s = &mut st[0];
            s.present[r] = false;
            s.live[r] = false;
            s.alive[r] = false;
            s.obsoleted[r] = None;
            changed.insert((SNAP, r as u32));
        }
        changed.extend((0..over.len() as u32).map(|i| (OVER, i)));

        // New newest versions, in each (name, arch) a change touches.
        let mut touched: Vec<(&str, &str)> = changed
            .iter()
            .map(|&c| (pkg(c).name.as_str(), pkg(c).arch.as_str()))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        for (name, arch) in touched {
            let mut members: Vec<CRef> = self
                .groups
                .find(group_hash(name, arch))
                .iter()
                .map(|s| (SNAP, s.pkg))
                .filter(|&c| st[0].present[c.1 as usize])
                .chain((0..over.len() as u32).map(|i| (OVER, i)))
                .filter(|&c| pkg(c).name == name && pkg(c).arch == arch)
                .collect();
            members.sort_by(|&a, &b| sha(a).cmp(sha(b)));
            // Every version of it removed.
            let Some(&first) = members.first() else {
                continue;
            };
            let mut best = first;
            for &m in &members[1..] {
                if pkg(m).evr > pkg(best).evr {
                    best = m;
                }
            }
            for &m in &members {
                let live = pkg(m).evr.cmp(&pkg(best).evr).is_eq();
                let s = &mut st[m.0 as usize];
                s.live[m.1 as usize] = live;
                s.best[m.1 as usize] = if live { m } else { best };
                changed.insert(m);
            }
        }

        // What obsoletes what, for every name a changed package has or obsoletes.
        let mut obsoleted_names: Vec<&str> = Vec::new();
        for &c in &changed {
            let p = pkg(c);
            obsoleted_names.push(&p.name);
            obsoleted_names.extend(p.obsoletes.iter().filter_map(|o| obsoleted_name(p, o)));
        }
        obsoleted_names.sort_unstable();
        obsoleted_names.dedup();
        let live_binary = |st: &[Status; 2], c: CRef| st[c.0 as usize].live[c.1 as usize] && !is_source(pkg(c));
        for name in obsoleted_names {
            let targets: Vec<CRef> = self
                .names
                .find(hash(name))
                .iter()
                .map(|s| (SNAP, s.pkg))
                .chain((0..over.len() as u32).map(|i| (OVER, i)))
                .filter(|&c| pkg(c).name == name)
                .collect();
            let mut obsoleters: Vec<CRef> = self
                .obsoleters
                .find(hash(name))
                .iter()
                .map(|s| (SNAP, s.pkg))
                .chain((0..over.len() as u32).map(|i| (OVER, i)))
                .filter(|&c| live_binary(&st, c))
                .filter(|&c| pkg(c).obsoletes.iter().any(|o| obsoleted_name(pkg(c), o) == Some(name)))
                .collect();
            obsoleters.sort_by(|&a, &b| sha(a).cmp(sha(b)));
            obsoleters.dedup();
            for t in targets {
                let by = if live_binary(&st, t) {
                    obsoleters
                        .iter()
                        .copied()
                        .find(|&o| pkg(o).obsoletes.iter().any(|e| obsoletes_package(e, pkg(t))))
                } else {
                    None
                };
                st[t.0 as usize].obsoleted[t.1 as usize] = by;
                changed.insert(t);
            }
        }
        for &c in &changed {
            let s = &mut st[c.0 as usize];
            s.alive[c.1 as usize] = s.live[c.1 as usize] && s.obsoleted[c.1 as usize].is_none();
        }

        // The requirements to evaluate again.
        let mut keys: HashSet<u64> = HashSet::new();
        for &c in &changed {
            let p = pkg(c);
            keys.insert(hash(&p.name));
            keys.extend(p.provides.iter().map(|d| hash(&d.name)));
            keys.extend(p.files.iter().map(|f| hash(f)));
        }
        let mut again: HashSet<(CRef, u32)> = HashSet::new();
        for k in keys {
            for s in self.requirers.find(k) {
                if st[0].present[s.pkg as usize] {
                    again.insert(((SNAP, s.pkg), s.entry));
                }
            }
        }
        for &c in &changed {
            if st[c.0 as usize].present[c.1 as usize] {
                again.extend((0..pkg(c).requires.len() as u32).map(|r| (c, r)));
            }
        }

        let eval = Eval::new(
            [Pkgs::Shared(&self.packages), Pkgs::Shared(&over)],
            [&self.table, &over_table],
            [&st[0], &st[1]],
            indexes,
        );
        let mut fresh: Vec<(String, u32, Outcome)> = again
            .iter()
            .map(|&(c, r)| (sha(c).to_string(), r, eval.evaluate(c, r as usize)))
            .filter(|(_, _, o)| o.newest.is_some() || o.obsoletes.is_some())
            .collect();
        fresh.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        Redone { fresh, changed, again }
    }
}

/// What a change made evaluated again: the fresh verdicts (unmet ones, sorted by package sum
/// and requirement), the changed packages and the requirements evaluated again.
struct Redone {
    fresh: Vec<(String, u32, Outcome)>,
    changed: HashSet<CRef>,
    again: HashSet<(CRef, u32)>,
}

impl Redone {
    /// Whether the snapshot's verdict of requirement `r` of its package `p` still holds.
    fn keeps(&self, p: u32, r: u32) -> bool {
        let c = (SNAP, p);
        !self.changed.contains(&c) && !self.again.contains(&(c, r))
    }
}

/// The hash of a problem's (package, requirement) text, under which the report says it once.
fn text_hash(u: &Unmet) -> u64 {
    hash(&format!("{}\0{}", u.package, u.requirement))
}

/// The report of [`super::check_closure_newest`] from verdicts in the set's order: the
/// newest-set problems first, then those obsoletes add, each (package, requirement) once;
/// of those, the ones `keep` accepts.
fn assemble(outcomes: &[&Outcome], keep: &dyn Fn(&Unmet) -> bool) -> Vec<Unmet> {
    let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(outcomes.len());
    let mut out = Vec::new();
    for u in outcomes.iter().filter_map(|o| o.newest.as_ref()) {
        if seen.insert((&u.package, &u.requirement)) && keep(u) {
            out.push(u.clone());
        }
    }
    let known = seen;
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for u in outcomes.iter().filter_map(|o| o.obsoletes.as_ref()) {
        let key = (u.package.as_str(), u.requirement.as_str());
        if !known.contains(&key) && seen.insert(key) && keep(u) {
            out.push(u.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests;
