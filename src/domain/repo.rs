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

/// The yum.repos.d stanza of one repository.
pub fn repo_definition(base: &str, dist: &str, repo: RepoKind, signed: bool) -> String {
    let (priority_note, enabled) = match repo {
        RepoKind::Beta => (
            "# beta: released by the product teams, not yet through the staged rollout; use at your own risk\n",
            1,
        ),
        RepoKind::Production => ("", 1),
    };
    // repo_gpgcheck verifies repomd.xml, which pins every other file by checksum; package
    // signatures belong to the teams, so gpgcheck stays off unless a site adds their keys.
    let gpg = if signed {
        format!("repo_gpgcheck=1\ngpgkey={base}/repo/{dist}/RPM-GPG-KEY-stagerepo\n")
    } else {
        "repo_gpgcheck=0\n".to_string()
    };
    format!(
        "{priority_note}[stagerepo-{dist}-{repo}]\n\
         name=stagerepo {dist} {repo}\n\
         baseurl={base}/repo/{dist}/{repo}/\n\
         enabled={enabled}\n\
         gpgcheck=0\n\
         {gpg}\
         metadata_expire=5m\n\
         skip_if_unavailable=False\n"
    )
}
