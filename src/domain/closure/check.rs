//! The closure check: every requirement of every candidate package must have a provider
//! among the candidates themselves or the base repositories.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::evrmatch::format_dep;
use super::index::{is_source, Pkgs, Table, View};
use super::newest::{newest_of, obsoleted_by};
use super::resolve::{parse, Parsed, Resolver};
use super::{DepPackage, ProviderIndex};

/// One requirement nothing satisfies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unmet {
    /// The NEVRA of the package whose requirement is unmet, e.g. `fts-server-2.0-1.noarch`.
    pub package: String,
    /// The requirement as rpm and libsolv print it: `fts-libs >= 2.0`, `/usr/bin/python3`,
    /// `(a or b)`.
    pub requirement: String,
    /// For a versioned requirement, what provides the name in other versions: NEVRAs, each
    /// followed by the provide in parentheses when it is not the package's own name and
    /// version. Empty when nothing provides the name at all.
    pub present: Vec<String>,
    /// In the newest-set check: the packages that would satisfy the requirement but that a
    /// host no longer has after `dnf upgrade` (a newer version or an obsoleting package
    /// replaces them). Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<Lost>,
}

/// A provider an upgraded host loses: an older version, superseded, or an obsoleted package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Lost {
    /// NEVRA of the package that satisfies the requirement, e.g. `fts-libs-3.13.0-1.el9.x86_64`.
    pub provider: String,
    /// NEVRA of the package that replaces it on the host.
    pub replaced_by: String,
    /// Whether `replaced_by` obsoletes it (otherwise it is a newer version of it).
    pub obsoleted: bool,
    /// Where `replaced_by` comes from (e.g. `release 12 (fts 3.14.0)`), when the caller knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.obsoleted { "obsoletes" } else { "supersedes" };
        write!(f, "{} provided it, but {}", self.provider, self.replaced_by)?;
        if let Some(from) = &self.from {
            write!(f, " of {from}")?;
        }
        write!(f, " {how} it on `dnf upgrade`")
    }
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Unmet {
            package,
            requirement,
            present,
            lost,
        } = self;
        self.fmt_unmet(f, package, requirement, present)?;
        for l in lost {
            write!(f, "; {l}")?;
        }
        Ok(())
    }
}

impl Unmet {
    fn fmt_unmet(
        &self,
        f: &mut fmt::Formatter<'_>,
        package: &str,
        requirement: &str,
        present: &[String],
    ) -> fmt::Result {
        let rich = requirement.starts_with('(') && requirement.ends_with(')');
        if rich && super::RichDep::parse(requirement).is_err() {
            return write!(
                f,
                "{package} requires {requirement}, which is not a valid rich dependency"
            );
        }
        if present.is_empty() && requirement.starts_with('/') {
            return write!(
                f,
                "{package} requires {requirement}, but no package contains or provides that file"
            );
        }
        if present.is_empty() && !self.lost.is_empty() {
            return write!(
                f,
                "{package} requires {requirement}, which nothing provides after `dnf upgrade`"
            );
        }
        if present.is_empty() {
            return write!(f, "{package} requires {requirement}, but nothing provides it");
        }
        let name = requirement.split(' ').next().unwrap_or(requirement);
        let verb = if present.len() == 1 { "provides" } else { "provide" };
        write!(
            f,
            "{package} requires {requirement}, but only {} {verb} {name}",
            present.join(", ")
        )
    }
}

/// Checks that every requirement of every candidate is satisfied by a candidate (the
/// candidates are the would-be content of production: current production plus the release
/// being promoted, minus what is being withdrawn) or by a package of one of `indexes` (the
/// distribution's base repositories, indexed once).
///
/// Requirements are evaluated as `dnf repoclosure` does: each one must have at least one
/// provider (libsolv's `whatprovides`), with libsolv's version matching and its reading of
/// rich dependencies; `rpmlib(...)` requirements are skipped. Source packages are neither
/// checked nor providers. The result lists each unmet (package, requirement) once, in the
/// order of the candidates and of their requirements.
///
/// Every package counts as a provider whatever its architecture, which is what
/// `dnf repoclosure` does when all packages are installable on the machine running it (e.g.
/// `x86_64`, `i686` and `noarch` ones on `x86_64`); see [`check_closure_for_arch`] for the
/// view of clients of one architecture.
pub fn check_closure(candidates: &[&DepPackage], indexes: &[&ProviderIndex]) -> Vec<Unmet> {
    check(candidates, indexes, None)
}

/// [`check_closure`] as clients of architecture `arch` see the repositories: only the
/// candidates they can install (architectures of [`compatible_arches`]`(arch)`, `noarch`
/// included) are checked, and only packages they can install provide. This is
/// `dnf repoclosure --forcearch=ARCH` restricted (`--arch`) to those architectures. Run it
/// for each architecture a distribution serves.
///
/// [`compatible_arches`]: super::compatible_arches
pub fn check_closure_for_arch(candidates: &[&DepPackage], indexes: &[&ProviderIndex], arch: &str) -> Vec<Unmet> {
    let arches = super::compatible_arches(arch);
    check(candidates, indexes, Some(&arches))
}

/// The closure as a host that runs `dnf upgrade` (with `best=True`) sees it: only the newest
/// version of each name and architecture among the candidates is checked and provides, and
/// likewise for each base repository; this is `dnf repoclosure --newest` (which takes the
/// latest per repository). A requirement that only a superseded version meets is unmet,
/// its [`Unmet::lost`] naming that version and what replaces it.
///
/// Then obsoletes: a newest package obsoleted by another newest package (of another name)
/// is replaced on the host, so it neither provides nor is checked; requirements that only
/// it met are reported too (after those `dnf repoclosure --newest` reports, which does not
/// look at obsoletes), with the obsoleting package in [`Unmet::lost`].
pub fn check_closure_newest(candidates: &[&DepPackage], indexes: &[&ProviderIndex]) -> Vec<Unmet> {
    let pkgs = Pkgs::Refs(candidates);
    let table = Table::build(pkgs);
    let best = newest_of(pkgs);
    // newest_of maps each package of the highest EVR of its name and arch to itself.
    let live: Vec<bool> = (0..candidates.len()).map(|i| best[i] == i).collect();
    let everything = Resolver::new(
        std::iter::once(View::new(pkgs, &table))
            .chain(indexes.iter().map(|i| i.view()))
            .collect(),
    );
    let lost_for = |alive: &[bool], by: &dyn Fn(usize) -> Option<(usize, bool)>, dep: &Parsed<'_>| -> Vec<Lost> {
        let mut out: Vec<Lost> = everything
            .providers(dep)
            .into_iter()
            .filter(|&(v, p)| v == 0 && !alive[p as usize])
            .filter_map(|(_, p)| {
                let (r, obsoleted) = by(p as usize)?;
                Some(Lost {
                    provider: candidates[p as usize].nevra.clone(),
                    replaced_by: candidates[r].nevra.clone(),
                    obsoleted,
                    from: None,
                })
            })
            .collect();
        out.sort();
        out.dedup();
        out
    };
    let superseded = |p: usize| Some((best[p], false));
    let mut unmet = {
        let resolver = Resolver::new(newest_views(pkgs, &table, &live, indexes));
        run(candidates, Some(&live), &resolver, &|dep| {
            lost_for(&live, &superseded, dep)
        })
    };
    let obsoleted = obsoleted_by(pkgs, &live);
    if obsoleted.iter().any(Option::is_some) {
        let alive: Vec<bool> = live.iter().zip(&obsoleted).map(|(l, o)| *l && o.is_none()).collect();
        let by = |p: usize| match obsoleted[p] {
            Some(o) => Some((o, true)),
            None => superseded(p),
        };
        let resolver = Resolver::new(newest_views(pkgs, &table, &alive, indexes));
        let known: HashSet<(String, String)> = unmet
            .iter()
            .map(|u| (u.package.clone(), u.requirement.clone()))
            .collect();
        let more = run(candidates, Some(&alive), &resolver, &|dep| lost_for(&alive, &by, dep));
        unmet.extend(
            more.into_iter()
                .filter(|u| !known.contains(&(u.package.clone(), u.requirement.clone()))),
        );
    }
    unmet
}

/// The candidates restricted to `alive`, then the newest of each base.
fn newest_views<'a>(
    pkgs: Pkgs<'a>,
    table: &'a Table,
    alive: &'a [bool],
    indexes: &[&'a ProviderIndex],
) -> Vec<View<'a>> {
    std::iter::once(View::new(pkgs, table).only(Some(alive)))
        .chain(indexes.iter().map(|i| i.newest_view()))
        .collect()
}

fn check(candidates: &[&DepPackage], indexes: &[&ProviderIndex], arches: Option<&[String]>) -> Vec<Unmet> {
    let table = Table::build(Pkgs::Refs(candidates));
    let mut views = vec![View::new(Pkgs::Refs(candidates), &table)];
    views.extend(indexes.iter().map(|i| i.view()));
    let resolver = Resolver::new(views).with_arches(arches);
    run(candidates, None, &resolver, &|_| Vec::new())
}

/// Checks the requirements of the candidates marked in `to_check` (all when `None`) with
/// `resolver`; `lost` says, for an unmet requirement, which providers a host lost.
fn run(
    candidates: &[&DepPackage],
    to_check: Option<&[bool]>,
    resolver: &Resolver<'_>,
    lost: &dyn Fn(&Parsed<'_>) -> Vec<Lost>,
) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    let mut seen = HashSet::new();
    let checked = candidates
        .iter()
        .enumerate()
        .filter(|(i, _)| to_check.is_none_or(|l| l[*i]))
        .map(|(_, p)| p);
    for p in checked {
        for req in 0..p.requires.len() {
            if let Some(u) = unmet_requirement(p, req, resolver, lost) {
                // Each (package, requirement) once, as dnf's set of problems does.
                if seen.insert((p.nevra.as_str(), u.requirement.clone())) {
                    unmet.push(u);
                }
            }
        }
    }
    unmet
}

/// Whether requirement `req` (by position) of `p` is unmet with `resolver`, and how: `None`
/// when it is met, or not checked (source packages, architectures the resolver leaves out,
/// `rpmlib(...)`).
pub(crate) fn unmet_requirement(
    p: &DepPackage,
    req: usize,
    resolver: &Resolver<'_>,
    lost: &dyn Fn(&Parsed<'_>) -> Vec<Lost>,
) -> Option<Unmet> {
    if is_source(p) || !resolver.accepts(&p.arch) {
        return None;
    }
    let req = &p.requires[req];
    // dnf repoclosure skips these (rpmlib() is provided by rpm itself; solvable: is
    // libsolv-internal); createrepo_c already drops rpmlib() from primary.
    if req.name.starts_with("rpmlib(") || req.name.starts_with("solvable:") {
        return None;
    }
    // Only unmet requirements are formatted.
    let (requirement, present, gone) = match parse(req) {
        Ok(parsed) if resolver.is_provided(&parsed) => return None,
        Ok(Parsed::Rich(rich)) => {
            let gone = lost(&Parsed::Rich(rich.clone()));
            (rich.to_string(), Vec::new(), gone)
        }
        Ok(Parsed::Simple(name, version)) => {
            let present = if version.is_some() {
                resolver.present(name)
            } else {
                Vec::new()
            };
            let gone = lost(&Parsed::Simple(name, version));
            (format_dep(req), present, gone)
        }
        // rpm would not build it and rpm would not install it: never satisfied.
        Err(_) => (req.name.clone(), Vec::new(), Vec::new()),
    };
    Some(Unmet {
        package: p.nevra.clone(),
        requirement,
        present,
        lost: gone,
    })
}
