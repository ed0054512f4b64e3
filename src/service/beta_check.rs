//! Beta is checked too: a release enters beta whatever production says (the team's release
//! is not held back), but the checks a promotion would run (closure of the newest set, no
//! downgrade, semver order) run from submission on, and their failures travel with the
//! release as warnings: in the submit response, `admin release show`, the dashboard and the
//! announcement. A release that could never be promoted is only announced when forced with
//! a reason. A host that enables both beta and production installs the newest of both, so
//! that set is checked as well, for the release's own packages.

use serde::Serialize;

use super::closure_cache::SetSource;
use super::{App, ServiceError, ServiceResult};
use crate::domain::closure::Unmet;
use crate::domain::release::{Release, ReleaseState};
use crate::domain::repo::RepoKind;

/// A submitted release with what its promotion would fail on today.
#[derive(Debug, Serialize)]
pub struct Submitted {
    #[serde(flatten)]
    pub release: Release,
    /// Failures of the promotion checks against production now, and problems of the newest
    /// set of beta and production together; empty when none.
    pub warnings: Vec<String>,
}

/// What a host that enables both repositories would miss, said as such.
const BOTH: &str = "with beta and production both enabled: ";

impl App {
    /// Warnings of a release still in beta or in rollout (empty in the other states): why
    /// it could not be promoted now, then what a host enabling beta and production lacks.
    pub fn release_warnings(&self, release: &Release) -> ServiceResult<Vec<String>> {
        if !matches!(release.state, ReleaseState::Beta | ReleaseState::Rollout) {
            return Ok(Vec::new());
        }
        // One after the other: a thread for one of them cost more to start and end (its
        // allocator's teardown) than the shorter check takes.
        let own = self.consistency_failures(release);
        let both = self.both_repos_failures(release);
        let mut warnings = own?;
        warnings.extend(both?.into_iter().map(|f| format!("{BOTH}{f}")));
        Ok(warnings)
    }

    /// Unmet requirements of the newest set of beta plus production that involve the
    /// release: its packages needing something, or its packages replacing a provider.
    fn both_repos_failures(&self, release: &Release) -> ServiceResult<Vec<String>> {
        let mut sets = Vec::with_capacity(2);
        let mut source = SetSource {
            revisions: Vec::with_capacity(2),
            extra: Vec::new(),
        };
        for kind in [RepoKind::Production, RepoKind::Beta] {
            let n = self.db.latest_revision(&release.dist, kind)?.map_or(0, |r| r.number);
            sets.push(self.db.revision_packages_shared(&release.dist, kind, n)?);
            source.revisions.push((kind, n));
        }
        let set = merge_sorted(&sets[0], &sets[1]);
        let own_shas = self.db.release_package_shas(release.id)?;
        let own: Vec<String> = own_shas
            .iter()
            .map(|s| Ok(self.dep_package(s)?.nevra.clone()))
            .collect::<ServiceResult<_>>()?;
        let own = |nevra: &str| own.iter().any(|o| o == nevra);
        let involved = |u: &Unmet| own(&u.package) || u.lost.iter().any(|l| own(&l.replaced_by));
        let unmet = self.newest_unmet_involving(&release.dist, &set, Some(&source), &own_shas, &involved)?;
        Ok(unmet.iter().map(|u| u.to_string()).collect())
    }

    /// Refuses to announce a release that fails the promotion checks, unless forced with a
    /// reason; returns the failures that were overridden (empty when none).
    pub(super) fn check_announceable(
        &self,
        release: &Release,
        force: bool,
        reason: &str,
    ) -> ServiceResult<Vec<String>> {
        let failures = self.consistency_failures(release)?;
        if failures.is_empty() {
            return Ok(failures);
        }
        if !force {
            return Err(ServiceError::Refused {
                message: format!(
                    "release {} could never be promoted as production stands: announce it with force and a reason (`--force --reason` in the CLI, \"force\" and \"reason\" in the API) to start its rollout anyway",
                    release.id
                ),
                failures,
            });
        }
        if reason.trim().is_empty() {
            return Err(ServiceError::Invalid(
                "a forced announcement needs a reason (--reason TEXT)".into(),
            ));
        }
        Ok(failures)
    }
}

/// The union of two sorted lists of sums, sorted, each once.
fn merge_sorted<'a>(a: &'a [String], b: &'a [String]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
                x
            }
            (Some(x), Some(y)) if x < y => {
                i += 1;
                x
            }
            (Some(x), None) => {
                i += 1;
                x
            }
            (_, Some(y)) => {
                j += 1;
                y
            }
            (None, None) => unreachable!(),
        };
        out.push(next.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn merges_sorted_sets() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            super::merge_sorted(&s(&["a", "c", "d"]), &s(&["b", "c", "e"])),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(super::merge_sorted(&s(&[]), &s(&["b"])), ["b"]);
        assert!(super::merge_sorted(&s(&[]), &s(&[])).is_empty());
    }
}
