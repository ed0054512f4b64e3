//! The two repositories every distribution has.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `beta` takes every submitted release at once; `production` only promoted ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoKind {
    Beta,
    Production,
}

impl RepoKind {
    /// Both kinds, in publication order.
    pub const ALL: [RepoKind; 2] = [RepoKind::Beta, RepoKind::Production];

    /// The name used in URLs, paths and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoKind::Beta => "beta",
            RepoKind::Production => "production",
        }
    }

    /// Parses a repository name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "beta" => Some(RepoKind::Beta),
            "production" => Some(RepoKind::Production),
            _ => None,
        }
    }
}

impl fmt::Display for RepoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One publication of a repository: a numbered, immutable package set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revision {
    pub dist: String,
    pub repo: RepoKind,
    /// 1, 2, 3... per repository.
    pub number: i64,
    /// The `<revision>` of its repomd.xml.
    pub repomd_revision: i64,
    pub repomd_sha256: String,
    pub created_at: i64,
    pub actor: String,
    pub reason: String,
    pub package_count: i64,
}
