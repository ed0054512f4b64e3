//! Releases: a version of an element, made of packages, moving through repository states.

use serde::{Deserialize, Serialize};

/// Where a release stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseState {
    /// Submitted and published into the beta repository.
    Beta,
    /// Published into production.
    Promoted,
}

impl ReleaseState {
    /// The name stored and shown for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Beta => "beta",
            ReleaseState::Promoted => "promoted",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "beta" => Some(ReleaseState::Beta),
            "promoted" => Some(ReleaseState::Promoted),
            _ => None,
        }
    }
}

/// A release as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub id: i64,
    pub dist: String,
    pub element: String,
    pub version: String,
    pub team: String,
    pub notes: String,
    pub state: ReleaseState,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// File names of its packages, sorted.
    pub packages: Vec<String>,
}
