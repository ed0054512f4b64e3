//! The closure check: every requirement of every candidate package must have a provider
//! among the candidates themselves or the base repositories.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::evrmatch::format_dep;
use super::index::{is_source, Pkgs, Table, View};
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
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Unmet {
            package,
            requirement,
            present,
        } = self;
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

fn check(candidates: &[&DepPackage], indexes: &[&ProviderIndex], arches: Option<&[String]>) -> Vec<Unmet> {
    let table = Table::build(Pkgs::Refs(candidates));
    let mut views = vec![View::new(Pkgs::Refs(candidates), &table)];
    views.extend(indexes.iter().map(|i| i.view()));
    let resolver = Resolver::new(views).with_arches(arches);
    let mut unmet = Vec::new();
    let mut seen = HashSet::new();
    for p in candidates.iter().filter(|p| !is_source(p) && resolver.accepts(&p.arch)) {
        for req in &p.requires {
            // dnf repoclosure skips these (rpmlib() is provided by rpm itself; solvable: is
            // libsolv-internal); createrepo_c already drops rpmlib() from primary.
            if req.name.starts_with("rpmlib(") || req.name.starts_with("solvable:") {
                continue;
            }
            // Only unmet requirements are formatted (and deduplicated, as dnf's set does).
            let (requirement, present) = match parse(req) {
                Ok(parsed) if resolver.is_provided(&parsed) => continue,
                Ok(Parsed::Rich(rich)) => (rich.to_string(), Vec::new()),
                Ok(Parsed::Simple(name, version)) => {
                    let present = if version.is_some() {
                        resolver.present(name)
                    } else {
                        Vec::new()
                    };
                    (format_dep(req), present)
                }
                // rpm would not build it and rpm would not install it: never satisfied.
                Err(_) => (req.name.clone(), Vec::new()),
            };
            if seen.insert((p.nevra.as_str(), requirement.clone())) {
                unmet.push(Unmet {
                    package: p.nevra.clone(),
                    requirement,
                    present,
                });
            }
        }
    }
    unmet
}
