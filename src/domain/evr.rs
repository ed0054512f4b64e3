//! Epoch-version-release values and rpm's version comparison.

use std::cmp::Ordering;
use std::fmt;

/// An epoch:version-release triple, ordered the way rpm orders it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Evr {
    pub epoch: u64,
    pub version: String,
    pub release: String,
}

impl Evr {
    /// Builds an EVR from its parts.
    pub fn new(epoch: u64, version: &str, release: &str) -> Self {
        Evr {
            epoch,
            version: version.to_string(),
            release: release.to_string(),
        }
    }
}

impl Ord for Evr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| rpmvercmp(&self.release, &other.release))
    }
}

impl PartialOrd for Evr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Evr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        write!(f, "{}-{}", self.version, self.release)
    }
}

/// Name, EVR and architecture: what identifies a package in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Nevra {
    pub name: String,
    pub evr: Evr,
    pub arch: String,
}

impl fmt::Display for Nevra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}.{}", self.name, self.evr, self.arch)
    }
}

/// rpm's `rpmvercmp`: compares two version (or release) strings segment by segment.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    todo!("rpmvercmp({a}, {b})")
}
