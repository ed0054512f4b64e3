//! A rollout site's own side: what is asked of it, declining an assignment, and its own
//! reports and problems.

use serde::Serialize;

use super::auth::Actor;
use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, Report};
use crate::domain::problem::Problem;
use crate::domain::release::ReleaseState;
use crate::domain::repo::RepoKind;

/// A release announced to the calling site that awaits its report.
#[derive(Debug, Clone, Serialize)]
pub struct PendingRelease {
    pub release: i64,
    pub dist: String,
    pub element: String,
    pub version: String,
    pub announced_at: i64,
    pub deadline: i64,
    pub deadline_iso: String,
    /// Seconds until the deadline; 0 once passed.
    pub seconds_left: i64,
    /// The release's advisory in beta's updateinfo, when it has one.
    pub advisory: Option<String>,
    /// The exact command that installs the release from beta.
    pub install: String,
    /// The commands that report on it.
    pub report: Vec<String>,
}

/// The yum repository id of a distribution's repository, as its `.repo` file names it.
pub fn repo_id(dist: &str, repo: RepoKind) -> String {
    format!("stagerepo-{dist}-{repo}")
}

/// Seconds as an RFC 3339 time.
pub fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

impl App {
    /// Releases, oldest first, filtered by distribution, element and state; a filter naming
    /// nothing that exists is a 404 or 400, not an empty list.
    pub fn release_list(
        &self,
        dist: Option<&str>,
        element: Option<&str>,
        state: Option<&str>,
    ) -> ServiceResult<Vec<crate::domain::release::Release>> {
        if let Some(d) = dist {
            self.require_dist(d)?;
        }
        if let Some(e) = element {
            self.element_header(e)?;
        }
        let state = state
            .map(|s| {
                ReleaseState::parse(s).ok_or_else(|| {
                    let all: Vec<&str> = ReleaseState::ALL.iter().map(|s| s.as_str()).collect();
                    ServiceError::Invalid(format!("unknown state {s:?}: one of {}", all.join(", ")))
                })
            })
            .transpose()?;
        Ok(self
            .releases(dist)?
            .into_iter()
            .filter(|r| element.is_none_or(|e| r.element == e) && state.is_none_or(|s| r.state == s))
            .collect())
    }

    /// The command that installs a release from beta: by advisory when it has one, else by
    /// its package names.
    pub fn install_command(&self, release: i64, dist: &str) -> ServiceResult<(Option<String>, String)> {
        let enable = format!("dnf --enablerepo={} upgrade", repo_id(dist, RepoKind::Beta));
        if let Some(adv) = self.db.release_advisory(release)? {
            return Ok((Some(adv.clone()), format!("{enable} --advisory={adv}")));
        }
        let shas = self.db.release_package_shas(release)?;
        let mut names: Vec<String> = self
            .db
            .packages_by_sha(&shas)?
            .into_iter()
            .filter(|p| p.arch != "src")
            .map(|p| p.name)
            .collect();
        names.sort();
        names.dedup();
        Ok((None, format!("{enable} {}", names.join(" "))))
    }

    /// The releases in rollout announced to the calling site that it has neither reported on
    /// nor declined, oldest first.
    pub fn pending_for_site(&self, actor: &Actor) -> ServiceResult<Vec<PendingRelease>> {
        let (site_id, _) = actor.require_site()?;
        let now = self.clock.now();
        let mut out = Vec::new();
        for a in self.db.site_rollout_assignments(site_id)? {
            if a.declined_at.is_some() || a.reports > 0 {
                continue;
            }
            let r = self.release(a.release)?;
            let sla = r.fast_track_seconds.map_or(a.sla_seconds, |f| f.min(a.sla_seconds));
            let deadline = a.announced_at + a.grace_seconds + sla;
            let (advisory, install) = self.install_command(r.id, &r.dist)?;
            out.push(PendingRelease {
                release: r.id,
                advisory,
                install,
                report: vec![
                    format!("stagerepo site report {} --ok", r.id),
                    format!("stagerepo site report {} --problem \"what is wrong\"", r.id),
                    format!("stagerepo site decline {} --reason \"why\"", r.id),
                ],
                dist: r.dist,
                element: r.element,
                version: r.version,
                announced_at: a.announced_at,
                deadline,
                deadline_iso: iso(deadline),
                seconds_left: (deadline - now).max(0),
            });
        }
        Ok(out)
    }

    /// The calling site declines testing a release: the gate stops waiting for it.
    pub fn decline(&self, actor: &Actor, id: i64, reason: &str) -> ServiceResult<crate::domain::rollout::SiteStatus> {
        let (site_id, site) = actor.require_site()?;
        if reason.trim().is_empty() {
            return Err(ServiceError::Invalid("declining needs a --reason".into()));
        }
        let release = self.release(id)?;
        let rows = self.db.release_site_rows(id)?;
        let Some(row) = rows.iter().find(|r| r.site_id == site_id) else {
            return Err(ServiceError::Forbidden(format!(
                "site {site} is not a rollout site of release {id}"
            )));
        };
        if release.state != ReleaseState::Rollout {
            return Err(ServiceError::Conflict(format!(
                "release {id} is {}, not in rollout: nothing to decline",
                release.state.as_str()
            )));
        }
        if row.declined_at.is_some() {
            return Err(ServiceError::Conflict(format!(
                "site {site} already declined release {id}"
            )));
        }
        if self.db.reports(id)?.iter().any(|r| r.site == site) {
            return Err(ServiceError::Conflict(format!(
                "site {site} already reported on release {id}: a report cannot be taken back by declining"
            )));
        }
        let now = self.clock.now();
        let label = actor.label();
        self.db.write(|tx| {
            Db::decline_assignment(tx, id, site_id, now, reason)?;
            Db::audit(
                tx,
                now,
                &label,
                "release.decline",
                &format!("release:{id}"),
                reason,
                Some(id),
            )
        })?;
        self.wake();
        tracing::info!(release = id, site, "assignment declined");
        self.site_statuses(&self.release(id)?)?
            .into_iter()
            .find(|s| s.site == site)
            .ok_or_else(|| ServiceError::Internal(format!("site {site} vanished from release {id}")))
    }

    /// The calling site's reports, newest first.
    pub fn own_reports(&self, actor: &Actor, limit: i64) -> ServiceResult<Vec<Report>> {
        let (site_id, _) = actor.require_site()?;
        Ok(self.db.reports_of_site(site_id, limit.clamp(1, 10_000))?)
    }

    /// The problems the calling site reported, newest first.
    pub fn own_problems(&self, actor: &Actor) -> ServiceResult<Vec<Problem>> {
        let (_, site) = actor.require_site()?;
        Ok(self.db.problems_of_site(site)?)
    }

    /// Records a pakiti-client report of one host of the calling site, like a deployment
    /// report. The token decides the site: the report's `site:` header is informative only.
    pub fn record_pakiti(&self, actor: &Actor, body: &str) -> ServiceResult<super::inventory::DeploymentRecorded> {
        let report = crate::domain::pakiti::parse(body).map_err(ServiceError::Invalid)?;
        let req = super::inventory::DeploymentRequest {
            host: report.headers["host"].clone(),
            packages: report.entries,
        };
        self.record_deployment(actor, &req)
    }

    /// A site's feed: the newest entries about releases announced to it, announcements
    /// carrying the site's own deadline, the install command and how to report.
    pub fn site_feed(&self, site: &str) -> ServiceResult<Vec<crate::db::FeedEntry>> {
        let s = self
            .db
            .site_by_name(site)?
            .ok_or_else(|| ServiceError::NotFound(format!("no site named {site}")))?;
        let mut entries = self.db.site_feed_entries(s.id, 100)?;
        for e in entries.iter_mut().filter(|e| e.kind == "announce") {
            let Some(row) = self
                .db
                .release_site_rows(e.release)?
                .into_iter()
                .find(|r| r.site_id == s.id)
            else {
                continue;
            };
            let r = self.release(e.release)?;
            let sla = r.fast_track_seconds.map_or(row.sla_seconds, |f| f.min(row.sla_seconds));
            let deadline = e.at + row.grace_seconds + sla;
            let (_, install) = self.install_command(r.id, &r.dist)?;
            e.content = format!(
                "{} Deadline for {site}: {}. Install: {install}. Report: stagerepo site report {id} --ok, or --problem \"what is wrong\"; or decline: stagerepo site decline {id} --reason \"why\".",
                e.content,
                iso(deadline),
                id = r.id
            );
        }
        Ok(entries)
    }
}
