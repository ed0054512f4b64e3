//! Rollout on evidence: the sites a release was announced to, their declines, and a site's
//! own view of its assignments, reports and problems.

use super::sql::{params, Tx};
use serde::Serialize;

use super::{Db, DbResult};
use crate::domain::problem::Problem;

/// One rollout site of a release, as fixed at the announcement.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseSiteRow {
    #[serde(skip)]
    pub site_id: i64,
    pub site: String,
    pub sla_seconds: i64,
    pub grace_seconds: i64,
    pub declined_at: Option<i64>,
    pub declined_reason: Option<String>,
}

/// A release in rollout announced to one site.
#[derive(Debug, Clone)]
pub struct SiteAssignmentRow {
    pub release: i64,
    pub announced_at: i64,
    pub sla_seconds: i64,
    pub grace_seconds: i64,
    pub declined_at: Option<i64>,
    /// How many reports the site sent on the release.
    pub reports: i64,
}

impl Db {
    /// Records the evidence a release needs and the sites' SLA grace (inside the announcement's
    /// transaction, after `set_announced`).
    pub fn set_rollout_policy(tx: &Tx<'_>, id: i64, min_deployed_sites: u32, grace_seconds: i64) -> DbResult<()> {
        tx.execute(
            "UPDATE releases SET min_deployed_sites = ?2 WHERE id = ?1",
            params![id, min_deployed_sites],
        )?;
        tx.execute(
            "UPDATE release_sites SET grace_seconds = ?2 WHERE release_id = ?1",
            params![id, grace_seconds],
        )?;
        Ok(())
    }

    /// How many sites must show deployment evidence for a release.
    pub fn min_deployed_sites(&self, id: i64) -> DbResult<u32> {
        self.lock()
            .query_row("SELECT min_deployed_sites FROM releases WHERE id = ?1", [id], |r| {
                r.get(0)
            })
    }

    /// The rollout sites of a release with their SLA, grace and decline, by name.
    pub fn release_site_rows(&self, id: i64) -> DbResult<Vec<ReleaseSiteRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT rs.site_id, s.name, rs.sla_seconds, rs.grace_seconds, rs.declined_at, rs.declined_reason
             FROM release_sites rs JOIN sites s ON s.id = rs.site_id WHERE rs.release_id = ?1 ORDER BY s.name",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(ReleaseSiteRow {
                site_id: r.get(0)?,
                site: r.get(1)?,
                sla_seconds: r.get(2)?,
                grace_seconds: r.get(3)?,
                declined_at: r.get(4)?,
                declined_reason: r.get(5)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Marks a site's assignment declined (inside the caller's transaction); false when it
    /// was already declined.
    pub fn decline_assignment(tx: &Tx<'_>, release: i64, site_id: i64, at: i64, reason: &str) -> DbResult<bool> {
        let n = tx.execute(
            "UPDATE release_sites SET declined_at = ?3, declined_reason = ?4
             WHERE release_id = ?1 AND site_id = ?2 AND declined_at IS NULL",
            params![release, site_id, at, reason],
        )?;
        Ok(n == 1)
    }

    /// The releases in rollout announced to a site, oldest first.
    pub fn site_rollout_assignments(&self, site_id: i64) -> DbResult<Vec<SiteAssignmentRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT r.id, r.announced_at, rs.sla_seconds, rs.grace_seconds, rs.declined_at,
                    (SELECT COUNT(*) FROM reports rp WHERE rp.release_id = r.id AND rp.site_id = rs.site_id)
             FROM release_sites rs JOIN releases r ON r.id = rs.release_id
             WHERE rs.site_id = ?1 AND r.state = 'rollout' AND r.announced_at IS NOT NULL ORDER BY r.id",
        )?;
        let rows = stmt.query_map([site_id], |r| {
            Ok(SiteAssignmentRow {
                release: r.get(0)?,
                announced_at: r.get(1)?,
                sla_seconds: r.get(2)?,
                grace_seconds: r.get(3)?,
                declined_at: r.get(4)?,
                reports: r.get(5)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// The newest `limit` releases ever announced to a site, in any state, newest first.
    pub fn site_release_ids(&self, site_id: i64, limit: i64) -> DbResult<Vec<i64>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT release_id FROM release_sites WHERE site_id = ?1 ORDER BY release_id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![site_id, limit], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()
    }

    /// A site's reports, newest first.
    pub fn reports_of_site(&self, site_id: i64, limit: i64) -> DbResult<Vec<super::Report>> {
        let ids: Vec<i64> = {
            let conn = self.lock();
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT release_id FROM reports WHERE site_id = ?1 ORDER BY release_id DESC",
            )?;
            let rows = stmt.query_map([site_id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let site = self.site_by_id(site_id)?.map(|s| s.name).unwrap_or_default();
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.reports(id)?.into_iter().filter(|r| r.site == site));
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.id));
        out.truncate(limit.max(0) as usize);
        Ok(out)
    }

    /// A site's problems, newest first.
    pub fn problems_of_site(&self, site: &str) -> DbResult<Vec<Problem>> {
        Ok(self
            .problems(None, false)?
            .into_iter()
            .filter(|p| p.site == site)
            .collect())
    }

    /// The newest advisory id of a release, if it has one.
    pub fn release_advisory(&self, release: i64) -> DbResult<Option<String>> {
        use super::sql::OptionalExtension;
        self.lock()
            .query_row(
                "SELECT id FROM advisories WHERE release_id = ?1 ORDER BY issued DESC, id DESC LIMIT 1",
                [release],
                |r| r.get(0),
            )
            .optional()
    }
}
