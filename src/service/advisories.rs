//! Advisories: one per release, allocated at submission, listed in beta's updateinfo.xml
//! while the release is in beta and in production's once it is promoted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Datelike;

use super::{App, ServiceResult};
use crate::domain::advisory::{
    advisory_id, classify_reference, severity_name, Advisory, AdvisoryPackage, AdvisoryReference,
};
use crate::domain::problem::Criticality;
use crate::domain::release::{Release, ReleaseState};
use crate::domain::repo::RepoKind;
use crate::repodata::{updateinfo, ExtraData};

impl App {
    /// The advisory a promotion of `release` at `now` publishes: the one allocated at its
    /// submission, re-issued, or (for releases submitted before that) a newly allocated one.
    pub(super) fn new_advisory(&self, release: &Release, now: i64) -> ServiceResult<(Advisory, i32, i64)> {
        let (id, year, seq) = match self.db.advisory_numbers(release.id)? {
            Some(n) => n,
            None => self.allocate_advisory_id(now)?,
        };
        let shas = self.db.release_package_shas(release.id)?;
        Ok((self.advisory_with(release, &shas, id, now, now)?, year, seq))
    }

    /// A new advisory id of the year of `now`: (id, year, seq).
    pub(super) fn allocate_advisory_id(&self, now: i64) -> ServiceResult<(String, i32, i64)> {
        let year = chrono::DateTime::from_timestamp(now, 0).map_or(1970, |d| d.year());
        let seq = self.db.next_advisory_seq(year)?;
        Ok((advisory_id(&self.config.advisory_prefix, year, seq), year, seq))
    }

    /// Builds an advisory from its release: packages, fixed problems, severity.
    pub(super) fn advisory(&self, release: &Release, id: String, issued: i64, updated: i64) -> ServiceResult<Advisory> {
        let shas = self.db.release_package_shas(release.id)?;
        self.advisory_with(release, &shas, id, issued, updated)
    }

    /// Builds an advisory of `release` whose packages are `shas` (the release may not be
    /// stored yet: a submission builds the advisory beta publishes with it).
    pub(super) fn advisory_with(
        &self,
        release: &Release,
        shas: &[String],
        id: String,
        issued: i64,
        updated: i64,
    ) -> ServiceResult<Advisory> {
        let mut packages: Vec<AdvisoryPackage> = self
            .db
            .packages_by_sha(shas)?
            .into_iter()
            .map(|p| AdvisoryPackage {
                name: p.name,
                epoch: p.epoch,
                version: p.version,
                release: p.release,
                arch: p.arch,
                filename: p.filename,
                sha256: p.sha256,
            })
            .collect();
        packages.sort_by(|a, b| a.filename.cmp(&b.filename));
        let mut references = Vec::new();
        let mut worst: Option<Criticality> = None;
        for pid in &release.fixes {
            if let Some(p) = self.db.problem(*pid)? {
                worst = worst.max(p.criticality);
                references.push(AdvisoryReference {
                    id: format!("problem-{pid}"),
                    href: format!("{}/api/v1/releases/{}", self.public_base(), p.release),
                    title: p.text,
                    kind: "other".into(),
                });
            }
        }
        for r in &release.references {
            references.push(classify_reference(r).map_err(|e| super::ServiceError::Invalid(e.to_string()))?);
        }
        let severity = release.severity.as_deref().and_then(severity_name).or_else(|| {
            worst.map(|c| match c {
                Criticality::Critical => "Critical".to_string(),
                Criticality::Major => "Important".to_string(),
                Criticality::Minor => "Moderate".to_string(),
            })
        });
        Ok(Advisory {
            id,
            release: release.id,
            dist: release.dist.clone(),
            kind: release.advisory_type.clone(),
            severity,
            title: format!("{} {}", release.element, release.version),
            description: {
                let mut d = if release.notes.is_empty() {
                    format!("{} {} for {}", release.element, release.version, release.dist)
                } else {
                    release.notes.clone()
                };
                // dnf shows only bugzilla and CVE references, so the fixed problems are named
                // in the description too.
                for r in &references {
                    d.push_str(&format!("\nFixes {}: {}", r.id, r.title));
                }
                d
            },
            issued,
            updated,
            references,
            packages,
        })
    }

    /// updateinfo for a package set (sorted) of `repo`: every stored advisory whose packages
    /// are all in it (in production, of promoted releases only), plus `pending` (the release
    /// being published). Advisories already rendered for this repository come from `memo`, so
    /// a publication renders (and the writer compresses) only the new ones; `changed` (what
    /// was added and removed since the set `memo` was last used with) spares looking up the
    /// packages of advisories that cannot have come or gone.
    pub(super) fn updateinfo_for(
        &self,
        dist: &str,
        repo: RepoKind,
        set: &[String],
        changed: Option<(&[String], &[String])>,
        pending: Option<&Advisory>,
        memo: &mut HashMap<String, RenderedAdvisory>,
    ) -> ServiceResult<ExtraData> {
        // `set` is sorted: looking up an advisory's few packages costs less than hashing the set.
        let present = |sha: &str| set.binary_search_by(|s| s.as_str().cmp(sha)).is_ok();
        let states = self.db.release_states(dist)?;
        let mut pieces: Vec<Arc<str>> = vec![Arc::from(updateinfo::HEADER)];
        let mut seen = HashSet::new();
        for (id, release_id, issued, updated) in self.db.advisories(dist)? {
            if pending.is_some_and(|p| p.id == id) {
                continue;
            }
            let state = states.get(&release_id).and_then(|s| ReleaseState::parse(s));
            let unpromoted = matches!(state, Some(ReleaseState::Beta | ReleaseState::Rollout));
            if repo == RepoKind::Production && unpromoted {
                continue;
            }
            let fresh = memo
                .get(&id)
                .is_some_and(|m| (m.release, m.issued, m.updated) == (release_id, issued, updated));
            if !fresh {
                let release = self.release(release_id)?;
                let a = self.advisory(&release, id.clone(), issued, updated)?;
                memo.insert(
                    id.clone(),
                    RenderedAdvisory {
                        release: release_id,
                        issued,
                        updated,
                        shas: a.packages.iter().map(|p| p.sha256.clone()).collect(),
                        xml: Arc::from(updateinfo::render_update(&a)),
                        listed: None,
                    },
                );
            }
            let m = memo.get_mut(&id).expect("just inserted");
            // Listed stays listed when nothing left; unlisted stays unlisted when nothing came.
            let known = match (m.listed, changed) {
                (Some(true), Some((_, []))) => Some(true),
                (Some(false), Some(([], _))) => Some(false),
                _ => None,
            };
            let listed = known.unwrap_or_else(|| m.shas.iter().all(|s| present(s)));
            m.listed = Some(listed);
            if listed {
                pieces.push(m.xml.clone());
            }
            seen.insert(id);
        }
        memo.retain(|id, _| seen.contains(id));
        if let Some(p) = pending {
            pieces.push(Arc::from(updateinfo::render_update(p)));
        }
        pieces.push(Arc::from(updateinfo::FOOTER));
        Ok(ExtraData {
            kind: "updateinfo".into(),
            pieces,
        })
    }
}

/// An advisory as rendered into a repository's updateinfo, with what it was rendered from.
pub struct RenderedAdvisory {
    release: i64,
    issued: i64,
    updated: i64,
    /// Its packages: the advisory is listed while all of them are in the repository.
    shas: Vec<String>,
    xml: Arc<str>,
    /// Whether it was listed for the set it was last checked against.
    listed: Option<bool>,
}
