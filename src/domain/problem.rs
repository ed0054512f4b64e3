//! Problems reported against releases, and their triage.

use serde::{Deserialize, Serialize};

/// How badly a problem matters, as the admin triages it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    Minor,
    Major,
    Critical,
}

impl Criticality {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Minor => "minor",
            Criticality::Major => "major",
            Criticality::Critical => "critical",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "minor" => Some(Criticality::Minor),
            "major" => Some(Criticality::Major),
            "critical" => Some(Criticality::Critical),
            _ => None,
        }
    }
}

/// A problem as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    pub id: i64,
    pub release: i64,
    pub site: String,
    pub text: String,
    pub created_at: i64,
    /// None until triaged.
    pub criticality: Option<Criticality>,
    pub priority: Option<i64>,
    /// False once closed.
    pub open: bool,
    pub closed_reason: Option<String>,
}

impl Problem {
    /// Whether this problem keeps its release out of production.
    pub fn blocks(&self) -> Option<&'static str> {
        match (self.open, self.criticality) {
            (true, None) => Some("untriaged"),
            (true, Some(Criticality::Critical)) => Some("open and critical"),
            _ => None,
        }
    }
}
