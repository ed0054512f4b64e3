//! What a withdrawal or roll-back takes out of production, said before it acts: the
//! releases that leave and the advisories (with their type and severity) that leave
//! production's updateinfo with them, so that nobody removes a security fix unawares.

use std::collections::HashSet;

use serde::Serialize;

use super::{App, ServiceError, ServiceResult};
use crate::domain::release::{Release, ReleaseState};

/// A release that leaves production.
#[derive(Debug, Clone, Serialize)]
pub struct LeavingRelease {
    pub id: i64,
    pub element: String,
    pub version: String,
}

/// An advisory that leaves production's updateinfo.
#[derive(Debug, Clone, Serialize)]
pub struct LeavingAdvisory {
    pub id: String,
    pub release: i64,
    /// `security`, `bugfix` or `enhancement`.
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: Option<String>,
    pub title: String,
}

/// Everything that leaves production.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Leaving {
    pub releases: Vec<LeavingRelease>,
    pub advisories: Vec<LeavingAdvisory>,
}

impl Leaving {
    /// The security advisories among those leaving.
    pub fn security(&self) -> Vec<&LeavingAdvisory> {
        self.advisories.iter().filter(|a| a.kind == "security").collect()
    }

    /// One line for messages: `release 4 (fts 3.14.0); advisory SR-2026-3 (security, critical)`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .releases
            .iter()
            .map(|r| format!("release {} ({} {})", r.id, r.element, r.version))
            .collect();
        parts.extend(self.advisories.iter().map(|a| {
            format!(
                "advisory {} ({}{})",
                a.id,
                a.kind,
                a.severity.as_ref().map(|s| format!(", {s}")).unwrap_or_default()
            )
        }));
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }
}

/// The answer of a withdrawal or roll-back, dry run or not.
#[derive(Debug, Serialize)]
pub struct Undo {
    /// Nothing was changed: this is what would leave.
    pub dry_run: bool,
    pub dist: String,
    /// The new production revision (None in a dry run, or when nothing changed).
    pub revision: Option<i64>,
    pub leaving: Leaving,
    /// The withdrawn release, as it is now (withdrawals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<Release>,
}

impl App {
    /// What leaves production of `dist` if its package set becomes `new_set`.
    pub(super) fn leaving(&self, dist: &str, new_set: &[String]) -> ServiceResult<Leaving> {
        let current = self.production_set(dist)?;
        let before: HashSet<&str> = current.iter().map(String::as_str).collect();
        let after: HashSet<&str> = new_set.iter().map(String::as_str).collect();
        let mut leaving = Leaving::default();
        // Promoted releases, and superseded ones whose packages production still keeps.
        for id in self.db.release_ids(Some(dist))? {
            let r = self.release(id)?;
            if !matches!(r.state, ReleaseState::Promoted | ReleaseState::Superseded) {
                continue;
            }
            let shas = self.db.release_package_shas(id)?;
            let had = shas.iter().any(|s| before.contains(s.as_str()));
            if had && shas.iter().any(|s| !after.contains(s.as_str())) {
                leaving.releases.push(LeavingRelease {
                    id,
                    element: r.element,
                    version: r.version,
                });
            }
        }
        for (aid, release_id, issued, updated) in self.db.advisories(dist)? {
            let release = self.release(release_id)?;
            let a = self.advisory(&release, aid, issued, updated)?;
            let all_in = |set: &HashSet<&str>| a.packages.iter().all(|p| set.contains(p.sha256.as_str()));
            if all_in(&before) && !all_in(&after) {
                leaving.advisories.push(LeavingAdvisory {
                    id: a.id,
                    release: release_id,
                    kind: a.kind,
                    severity: a.severity,
                    title: a.title,
                });
            }
        }
        leaving.releases.sort_by_key(|r| r.id);
        leaving.advisories.sort_by(|x, y| x.id.cmp(&y.id));
        Ok(leaving)
    }

    /// Refuses a roll-back that removes security advisories unless forced.
    pub(super) fn check_security_leaving(leaving: &Leaving, force: bool) -> ServiceResult<()> {
        let security = leaving.security();
        if security.is_empty() || force {
            return Ok(());
        }
        Err(ServiceError::Refused {
            message: format!(
                "this roll-back removes {} security advisor{} from production; repeat with --force (\"force\": true) to do it anyway",
                security.len(),
                if security.len() == 1 { "y" } else { "ies" }
            ),
            failures: security
                .iter()
                .map(|a| {
                    format!(
                        "advisory {} (security{}) of release {}: {}",
                        a.id,
                        a.severity.as_ref().map(|s| format!(", {s}")).unwrap_or_default(),
                        a.release,
                        a.title
                    )
                })
                .collect(),
        })
    }
}
