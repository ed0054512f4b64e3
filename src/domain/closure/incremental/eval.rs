//! What one state of a checked set looks like to a host: each package's status, the
//! resolvers over it, and the verdict of one requirement.

use super::super::check::{unmet_requirement, Lost, Unmet};
use super::super::evrmatch::{match_package_evr, package_evr};
use super::super::index::{hash, Pkgs, Table, View};
use super::super::resolve::{parse, Parsed, Resolver};
use super::super::richdep::RichDep;
use super::super::{DepPackage, ProviderIndex};
use super::{CRef, OVER};

/// The verdict of one requirement: unmet for a host holding the newest set (as
/// `dnf repoclosure --newest` says), or, when that one is met, unmet once obsoleted packages
/// are replaced.
#[derive(Debug, Clone, Default)]
pub(super) struct Outcome {
    pub(super) newest: Option<Unmet>,
    pub(super) obsoletes: Option<Unmet>,
}

/// Each package's place on an upgraded host, by position.
#[derive(Debug, Clone, Default)]
pub(super) struct Status {
    /// In the set (false for a snapshot package being removed).
    pub(super) present: Vec<bool>,
    /// The newest of its name and architecture.
    pub(super) live: Vec<bool>,
    /// The newest package of its name and architecture (itself when live).
    pub(super) best: Vec<CRef>,
    /// The live package that obsoletes it, for live packages.
    pub(super) obsoleted: Vec<Option<CRef>>,
    /// Live and not obsoleted: what an upgraded host has.
    pub(super) alive: Vec<bool>,
}

impl Status {
    pub(super) fn fresh(n: usize, view: u16) -> Status {
        Status {
            present: vec![true; n],
            live: vec![false; n],
            best: (0..n as u32).map(|i| (view, i)).collect(),
            obsoleted: vec![None; n],
            alive: vec![false; n],
        }
    }
}

pub(super) fn group_hash(name: &str, arch: &str) -> u64 {
    hash(&format!("{name}\0{arch}"))
}

/// The capability names a requirement looks up: its name, or every name in a rich one.
pub(super) fn requirement_keys(dep: &crate::domain::package::Dependency, out: &mut Vec<u64>) {
    fn rich(d: &RichDep, out: &mut Vec<u64>) {
        match d {
            RichDep::Cap { name, .. } => out.push(hash(name)),
            RichDep::Op(l, _, r) => {
                rich(l, out);
                rich(r, out);
            }
        }
    }
    match parse(dep) {
        Ok(Parsed::Simple(name, _)) => out.push(hash(name)),
        Ok(Parsed::Rich(r)) => rich(&r, out),
        // Never satisfied, whatever the other packages are.
        Err(_) => {}
    }
}

/// The capability names a dependency entry names, as text: its name, or every name in a
/// rich one (none for one that does not parse).
pub(super) fn cap_names(dep: &crate::domain::package::Dependency, out: &mut Vec<String>) {
    fn rich(d: &RichDep, out: &mut Vec<String>) {
        match d {
            RichDep::Cap { name, .. } => out.push(name.clone()),
            RichDep::Op(l, _, r) => {
                rich(l, out);
                rich(r, out);
            }
        }
    }
    match parse(dep) {
        Ok(Parsed::Simple(name, _)) => out.push(name.to_string()),
        Ok(Parsed::Rich(r)) => rich(&r, out),
        Err(_) => {}
    }
}

/// The name an `Obsoletes:` entry replaces, when it is a plain (possibly versioned) one of
/// another name than its package's.
pub(super) fn obsoleted_name<'d>(p: &DepPackage, o: &'d crate::domain::package::Dependency) -> Option<&'d str> {
    match parse(o) {
        Ok(Parsed::Simple(name, _)) if name != p.name => Some(name),
        _ => None,
    }
}

/// Whether `Obsoletes:` entry `o` replaces package `q` (libsolv's `pool_match_nevr`).
pub(super) fn obsoletes_package(o: &crate::domain::package::Dependency, q: &DepPackage) -> bool {
    match parse(o) {
        Ok(Parsed::Simple(name, version)) => {
            name == q.name
                && match &version {
                    None => true,
                    Some((sense, evr)) => match_package_evr(&package_evr(&q.evr), *sense, evr),
                }
        }
        _ => false,
    }
}

/// The resolvers of one state of the set, with the statuses they see.
pub(super) struct Eval<'a> {
    pkgs: [Pkgs<'a>; 2],
    status: [&'a Status; 2],
    newest: Resolver<'a>,
    alive: Resolver<'a>,
    everything: Resolver<'a>,
}

impl<'a> Eval<'a> {
    pub(super) fn new(
        pkgs: [Pkgs<'a>; 2],
        tables: [&'a Table; 2],
        status: [&'a Status; 2],
        indexes: &[&'a ProviderIndex],
    ) -> Eval<'a> {
        let views = |mask: fn(&'a Status) -> &'a [bool], newest_bases: bool| -> Vec<View<'a>> {
            (0..2)
                .map(|v| View::new(pkgs[v], tables[v]).only(Some(mask(status[v]))))
                .chain(
                    indexes
                        .iter()
                        .map(|i| if newest_bases { i.newest_view() } else { i.view() }),
                )
                .collect()
        };
        Eval {
            pkgs,
            status,
            newest: Resolver::new(views(|s| &s.live, true)),
            alive: Resolver::new(views(|s| &s.alive, true)),
            everything: Resolver::new(views(|s| &s.present, false)),
        }
    }

    pub(super) fn package(&self, (v, p): CRef) -> &'a DepPackage {
        self.pkgs[v as usize].get(p as usize)
    }

    /// The providers of `dep` a host lost: candidates that satisfy it but are not on the host
    /// (not live, or with `obsoletes`, not alive), with what replaced them.
    fn lost(&self, dep: &Parsed<'_>, obsoletes: bool) -> Vec<Lost> {
        let mut out: Vec<Lost> = self
            .everything
            .providers(dep)
            .into_iter()
            .filter(|&(v, _)| v <= OVER)
            .filter_map(|(v, p)| {
                let s = self.status[v as usize];
                let on_host = if obsoletes {
                    s.alive[p as usize]
                } else {
                    s.live[p as usize]
                };
                if on_host {
                    return None;
                }
                let (by, obsoleted) = match s.obsoleted[p as usize] {
                    Some(o) if obsoletes => (o, true),
                    _ => (s.best[p as usize], false),
                };
                Some(Lost {
                    provider: self.package((v, p)).nevra.clone(),
                    replaced_by: self.package(by).nevra.clone(),
                    obsoleted,
                    from: None,
                })
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The verdict of requirement `req` of package `c`.
    pub(super) fn evaluate(&self, c: CRef, req: usize) -> Outcome {
        let p = self.package(c);
        let s = self.status[c.0 as usize];
        let newest = if s.live[c.1 as usize] {
            unmet_requirement(p, req, &self.newest, &|d| self.lost(d, false))
        } else {
            None
        };
        // When the newest set already misses it, the same (package, requirement) is not
        // reported again.
        let obsoletes = if newest.is_none() && s.alive[c.1 as usize] {
            unmet_requirement(p, req, &self.alive, &|d| self.lost(d, true))
        } else {
            None
        };
        Outcome { newest, obsoletes }
    }
}
