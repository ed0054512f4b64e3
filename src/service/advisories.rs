//! Advisories: one per promotion, published in production's updateinfo.xml.

use std::collections::HashSet;

use chrono::Datelike;

use super::{App, ServiceResult};
use crate::domain::advisory::{advisory_id, severity_name, Advisory, AdvisoryPackage, AdvisoryReference};
use crate::domain::problem::Criticality;
use crate::domain::release::Release;
use crate::repodata::{updateinfo, ExtraData};

impl App {
    /// The advisory a promotion of `release` at `now` adds, with a newly allocated id.
    pub(super) fn new_advisory(&self, release: &Release, now: i64) -> ServiceResult<(Advisory, i32, i64)> {
        let year = chrono::DateTime::from_timestamp(now, 0).map_or(1970, |d| d.year());
        let seq = self.db.next_advisory_seq(year)?;
        let id = advisory_id(&self.config.advisory_prefix, year, seq);
        Ok((self.advisory(release, id, now, now)?, year, seq))
    }

    /// Builds an advisory from its release: packages, fixed problems, severity.
    pub(super) fn advisory(&self, release: &Release, id: String, issued: i64, updated: i64) -> ServiceResult<Advisory> {
        let shas = self.db.release_package_shas(release.id)?;
        let mut packages: Vec<AdvisoryPackage> = self
            .db
            .packages_by_sha(&shas)?
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
                });
            }
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

    /// updateinfo for a production package set: every stored advisory whose packages are all
    /// in it, plus `pending` (the promotion being published).
    pub(super) fn updateinfo_for(
        &self,
        dist: &str,
        set: &[String],
        pending: Option<&Advisory>,
    ) -> ServiceResult<ExtraData> {
        let present: HashSet<&str> = set.iter().map(String::as_str).collect();
        let mut advisories = Vec::new();
        for (id, release_id, issued, updated) in self.db.advisories(dist)? {
            let release = self.release(release_id)?;
            let a = self.advisory(&release, id, issued, updated)?;
            if a.packages.iter().all(|p| present.contains(p.sha256.as_str())) {
                advisories.push(a);
            }
        }
        advisories.extend(pending.cloned());
        Ok(ExtraData {
            kind: "updateinfo".into(),
            xml: updateinfo::render(&advisories),
        })
    }
}
