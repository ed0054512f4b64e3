//! Dependency closure of a repository: does every requirement of every package that would be
//! in production have a provider, in production itself or in the distribution's base
//! repositories (the OS and EPEL the middleware builds on)? And does a promotion bring in a
//! package that conflicts with, or obsoletes, a production package of another element?
//!
//! The verdict is the one `dnf repoclosure` gives on the same repositories: requirements are
//! looked up with libsolv's rules (its `whatprovides`), which this module ports:
//! - versions compare with rpm's `rpmvercmp`, epoch first, a missing epoch being 0, and a side
//!   without release matching any release where the versions are equal (libsolv's
//!   `pool_match_flags_evr` and `pool_evrcmp_str`, see [`match_flags_evr`]);
//! - an unversioned provide satisfies any version of its name; each package also provides
//!   its own `name = [e:]v-r`;
//! - a path requirement is met by any package containing that file (all files, as in
//!   filelists, not only those listed in primary), or providing the path explicitly;
//! - rich dependencies parse as libsolv parses them and have libsolv's providers: `and`,
//!   `or`, `if` and `unless` are met when either side (for `if`/`unless`: the consequence or
//!   the `else` branch) has a provider, `with` needs one package providing both sides,
//!   `without` one providing the left side but not the right;
//! - `rpmlib(...)` requirements are skipped (rpm provides them; createrepo_c drops them).
//!
//! Everything here is pure: no IO. Indexes of big base repositories are built once
//! ([`ProviderIndex`]) and reused across checks.

mod arch;
mod check;
mod conflicts;
mod evrmatch;
mod incremental;
mod index;
mod newest;
mod resolve;
mod richdep;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use arch::compatible_arches;
pub use check::{check_closure, check_closure_for_arch, check_closure_newest, Lost, Unmet};
pub use conflicts::{check_conflicts, check_conflicts_owned_by};
pub use evrmatch::{evrcmp_match_release, format_dep, match_flags_evr, Sense};
pub use incremental::Snapshot;
pub use index::ProviderIndex;
pub use richdep::{RichDep, RichOp, RichParseError};

use crate::domain::evr::Evr;
use crate::domain::package::{Dependency, PackageMeta};

/// What the closure check needs to know about one package: identity, dependencies, files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepPackage {
    /// `name-[epoch:]version-release.arch`, as dnf prints it.
    pub nevra: String,
    /// Package name.
    pub name: String,
    /// Architecture (`noarch`, `x86_64`...; `src` packages provide nothing).
    pub arch: String,
    /// Epoch, version, release.
    pub evr: Evr,
    /// Provides, as in primary (the implicit `name = evr` is added by the indexes anyway).
    pub provides: Vec<Dependency>,
    /// Requires, `pre` ones included.
    pub requires: Vec<Dependency>,
    /// Conflicts.
    pub conflicts: Vec<Dependency>,
    /// Obsoletes.
    pub obsoletes: Vec<Dependency>,
    /// Every file path of the package (files, directories and ghosts, as in filelists).
    pub files: Vec<String>,
}

impl DepPackage {
    /// The NEVRA string dnf prints for a package: the epoch appears only when it is not 0.
    pub fn format_nevra(name: &str, evr: &Evr, arch: &str) -> String {
        format!("{name}-{evr}.{arch}")
    }
}

impl From<&PackageMeta> for DepPackage {
    fn from(meta: &PackageMeta) -> DepPackage {
        let evr = Evr::new(meta.epoch, &meta.version, &meta.release);
        DepPackage {
            nevra: DepPackage::format_nevra(&meta.name, &evr, &meta.arch),
            name: meta.name.clone(),
            arch: meta.arch.clone(),
            evr,
            provides: meta.provides.clone(),
            requires: meta.requires.clone(),
            conflicts: meta.conflicts.clone(),
            obsoletes: meta.obsoletes.clone(),
            files: meta.files.iter().map(|f| f.path.clone()).collect(),
        }
    }
}
