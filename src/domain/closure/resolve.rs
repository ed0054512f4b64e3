//! Which packages satisfy a dependency, over several indexes at once: libsolv's
//! `pool_whatprovides` (`pool_addstdproviders` and `pool_addrelproviders`, 0.7.23), which is
//! exactly the test `dnf repoclosure` applies to each requirement
//! (`available.filter(provides=req)`).

use super::evrmatch::{dep_evr, match_flags_evr, package_evr, Sense};
use super::index::View;
use super::richdep::{RichDep, RichOp, RichParseError};
use crate::domain::package::Dependency;

/// A package found by a lookup: (index position in the resolver, package position).
pub(crate) type PkgRef = (u16, u32);

/// Looks capabilities up in a list of indexes (the candidates first, then the bases).
pub(crate) struct Resolver<'a> {
    views: Vec<View<'a>>,
    /// When set, only packages of these architectures provide anything.
    arches: Option<&'a [String]>,
}

/// How a dependency entry reads once parsed.
pub(crate) enum Parsed<'d> {
    /// `name` or `name <sense> evr`.
    Simple(&'d str, Option<(Sense, String)>),
    /// A rich dependency.
    Rich(RichDep),
}

/// Parses a metadata dependency entry the way libsolv's `adddep` does: a name starting with
/// `(` and no flags is a rich dependency; anything else is a plain (possibly versioned) one.
pub(crate) fn parse(dep: &Dependency) -> Result<Parsed<'_>, RichParseError> {
    let sense = Sense::from_flags(dep.flags.as_deref());
    match sense {
        None if dep.name.starts_with('(') => RichDep::parse(&dep.name).map(Parsed::Rich),
        None => Ok(Parsed::Simple(&dep.name, None)),
        Some(s) => Ok(Parsed::Simple(&dep.name, Some((s, dep_evr(dep))))),
    }
}

impl<'a> Resolver<'a> {
    /// A resolver over `views`, searched in this order.
    pub(crate) fn new(views: Vec<View<'a>>) -> Resolver<'a> {
        assert!(views.len() <= u16::MAX as usize, "too many indexes");
        Resolver { views, arches: None }
    }

    /// Restricts the providers to packages of `arches`.
    pub(crate) fn with_arches(mut self, arches: Option<&'a [String]>) -> Resolver<'a> {
        self.arches = arches;
        self
    }

    /// Whether packages of `arch` can provide here.
    pub(crate) fn accepts(&self, arch: &str) -> bool {
        self.arches.is_none_or(|list| list.iter().any(|a| a == arch))
    }

    /// The view at position `v`.
    pub(crate) fn view(&self, v: u16) -> &View<'a> {
        &self.views[v as usize]
    }

    /// Providers of a metadata dependency entry.
    pub(crate) fn providers_of_dependency(&self, dep: &Dependency) -> Result<Vec<PkgRef>, RichParseError> {
        Ok(self.providers(&parse(dep)?))
    }

    /// Providers of a parsed dependency, sorted, without duplicates.
    pub(crate) fn providers(&self, dep: &Parsed<'_>) -> Vec<PkgRef> {
        match dep {
            Parsed::Simple(name, version) => self.simple(name, version.as_ref().map(|(s, e)| (*s, e.as_str()))),
            Parsed::Rich(rich) => self.rich(rich),
        }
    }

    /// Whether anything provides a parsed dependency (stops at the first plain provider).
    pub(crate) fn is_provided(&self, dep: &Parsed<'_>) -> bool {
        match dep {
            Parsed::Simple(name, version) => {
                let version = version.as_ref().map(|(s, e)| (*s, e.as_str()));
                (0..self.views.len()).any(|v| self.simple_in(v as u16, name, version, &mut |_| true))
            }
            Parsed::Rich(rich) => !self.rich(rich).is_empty(),
        }
    }

    /// Packages providing `name`, or `name <sense> evr`: explicit provides, the implicit
    /// `name = evr` of each package, and for a path the packages containing that file.
    fn simple(&self, name: &str, version: Option<(Sense, &str)>) -> Vec<PkgRef> {
        let mut out = Vec::new();
        for v in 0..self.views.len() {
            self.simple_in(v as u16, name, version, &mut |r| {
                out.push(r);
                false
            });
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Calls `found` for each provider in view `v`; stops (returning true) when it says so.
    fn simple_in(
        &self,
        v: u16,
        name: &str,
        version: Option<(Sense, &str)>,
        found: &mut dyn FnMut(PkgRef) -> bool,
    ) -> bool {
        let view = &self.views[v as usize];
        for (pkg, entry) in view.provides(name) {
            if !self.accepts(&view.package(pkg).arch) {
                continue;
            }
            let matches = match (version, entry) {
                (None, _) => true,
                (Some((sense, evr)), None) => {
                    match_flags_evr(Sense::EQ, &package_evr(&view.package(pkg).evr), sense, evr)
                }
                // An unversioned provide satisfies every version of its name (rpm semantics).
                (Some((sense, evr)), Some(d)) => match Sense::from_flags(d.flags.as_deref()) {
                    None => true,
                    Some(psense) => match_flags_evr(psense, &dep_evr(d), sense, evr),
                },
            };
            if matches && found((v, pkg)) {
                return true;
            }
        }
        // File dependencies: the file lists, like unversioned provides.
        if name.starts_with('/') {
            for pkg in view.owners(name) {
                if self.accepts(&view.package(pkg).arch) && found((v, pkg)) {
                    return true;
                }
            }
        }
        false
    }

    /// `pool_addrelproviders` for the boolean operators: `and`, `or`, `if`, `unless` give the
    /// union of the providers of both sides ("we assume the best case here", says libsolv; for
    /// `if`/`unless` the condition is assumed and only the `else` branch joins in), `with`
    /// the packages providing both sides, `without` those providing the left but not the right.
    fn rich(&self, dep: &RichDep) -> Vec<PkgRef> {
        match dep {
            RichDep::Cap { name, version } => self.simple(name, version.as_ref().map(|(s, e)| (*s, e.as_str()))),
            RichDep::Op(left, op, right) => match op {
                RichOp::And | RichOp::Or => union(self.rich(left), self.rich(right)),
                RichOp::If | RichOp::Unless => {
                    let left = self.rich(left);
                    match &**right {
                        RichDep::Op(_, RichOp::Else, alternative) => union(left, self.rich(alternative)),
                        _ => left,
                    }
                }
                RichOp::With => {
                    let right = self.rich(right);
                    let mut left = self.rich(left);
                    left.retain(|p| right.binary_search(p).is_ok());
                    left
                }
                RichOp::Without => {
                    let right = self.rich(right);
                    let mut left = self.rich(left);
                    left.retain(|p| right.binary_search(p).is_err());
                    left
                }
                // `else` outside `if`/`unless` provides nothing (libsolv's default case).
                RichOp::Else => Vec::new(),
            },
        }
    }

    /// Descriptions of the packages that provide `name` in some version, for messages: the
    /// NEVRA, followed by the provide when it is not the package's own name.
    pub(crate) fn present(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for view in &self.views {
            for (pkg, entry) in view.provides(name) {
                let p = view.package(pkg);
                if !self.accepts(&p.arch) {
                    continue;
                }
                out.push(match entry {
                    None => p.nevra.clone(),
                    Some(d) if d.name == p.name && dep_evr(d) == package_evr(&p.evr) => p.nevra.clone(),
                    Some(d) => format!("{} ({})", p.nevra, super::evrmatch::format_dep(d)),
                });
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

fn union(mut a: Vec<PkgRef>, b: Vec<PkgRef>) -> Vec<PkgRef> {
    a.extend(b);
    a.sort_unstable();
    a.dedup();
    a
}
