//! Advisories: what each promotion tells clients through updateinfo.xml.

use serde::Serialize;

/// One package an advisory updates to.
#[derive(Debug, Clone, Serialize)]
pub struct AdvisoryPackage {
    pub name: String,
    pub epoch: u64,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub filename: String,
    pub sha256: String,
}

/// A reference from an advisory, e.g. to a problem it fixes.
#[derive(Debug, Clone, Serialize)]
pub struct AdvisoryReference {
    pub id: String,
    pub href: String,
    pub title: String,
}

/// An advisory as updateinfo.xml lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Advisory {
    /// `<PREFIX>-<YEAR>-<NNNN>`.
    pub id: String,
    pub release: i64,
    pub dist: String,
    /// `bugfix`, `enhancement` or `security`.
    pub kind: String,
    /// `Low`, `Moderate`, `Important`, `Critical`, or None.
    pub severity: Option<String>,
    pub title: String,
    pub description: String,
    pub issued: i64,
    pub updated: i64,
    pub references: Vec<AdvisoryReference>,
    pub packages: Vec<AdvisoryPackage>,
}

/// Formats an advisory id.
pub fn advisory_id(prefix: &str, year: i32, seq: i64) -> String {
    format!("{prefix}-{year}-{seq:04}")
}

/// The updateinfo severity name for a release's own severity (`low`...`critical`).
pub fn severity_name(s: &str) -> Option<String> {
    let mut c = s.chars();
    let first = c.next()?;
    Some(first.to_uppercase().chain(c).collect())
}
