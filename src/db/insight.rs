//! Read-only queries behind the SLA metrics, the per-site feed, /metrics and the dashboard.

use super::sql::params;

use super::{Db, DbResult, FeedEntry};

/// One release announced to one rollout site, with the times the SLA metrics need.
#[derive(Debug, Clone)]
pub struct SlaRow {
    pub site_id: i64,
    pub site: String,
    pub release: i64,
    pub element: String,
    pub created_at: i64,
    pub announced_at: i64,
    pub sla_seconds: i64,
    pub grace_seconds: i64,
    pub declined_at: Option<i64>,
    /// When the release left `rollout`, if it did.
    pub left_rollout_at: Option<i64>,
    /// The site's first report on the release.
    pub first_report_at: Option<i64>,
}

impl Db {
    /// Assignments of releases announced at or after `since`, optionally of one site.
    pub fn sla_rows(&self, since: i64, site: Option<&str>) -> DbResult<Vec<SlaRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT s.id, s.name, r.id, r.element, r.created_at, r.announced_at, rs.sla_seconds,
                    (SELECT MIN(ev.at) FROM release_events ev
                      WHERE ev.release_id = r.id AND ev.from_state = 'rollout'),
                    (SELECT MIN(rp.at) FROM reports rp
                      WHERE rp.release_id = r.id AND rp.site_id = s.id),
                    rs.grace_seconds, rs.declined_at
             FROM release_sites rs JOIN releases r ON r.id = rs.release_id JOIN sites s ON s.id = rs.site_id
             WHERE r.announced_at IS NOT NULL AND r.announced_at >= ?1 AND (CAST(?2 AS TEXT) IS NULL OR s.name = ?2)
             ORDER BY s.name, r.id",
        )?;
        let rows = stmt.query_map(params![since, site], |r| {
            Ok(SlaRow {
                site_id: r.get(0)?,
                site: r.get(1)?,
                release: r.get(2)?,
                element: r.get(3)?,
                created_at: r.get(4)?,
                announced_at: r.get(5)?,
                sla_seconds: r.get(6)?,
                left_rollout_at: r.get(7)?,
                first_report_at: r.get(8)?,
                grace_seconds: r.get(9)?,
                declined_at: r.get(10)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Names of the sites that are a rollout site of some element now.
    pub fn rollout_site_names(&self) -> DbResult<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT s.name FROM rollouts r JOIN sites s ON s.id = r.site_id ORDER BY s.name",
        )?;
        let rows = stmt.query_map((), |r| r.get(0))?;
        rows.collect::<Result<_, _>>()
    }

    /// The newest `limit` feed entries about releases `site_id` was announced as a rollout
    /// site: announcements, promotions and rejections.
    pub fn site_feed_entries(&self, site_id: i64, limit: i64) -> DbResult<Vec<FeedEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, kind, release_id, title, content FROM feed_entries
             WHERE kind IN ('announce', 'promote', 'reject')
               AND release_id IN (SELECT release_id FROM release_sites WHERE site_id = ?1)
             ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![site_id, limit], |r| {
            Ok(FeedEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                release: r.get(3)?,
                title: r.get(4)?,
                content: r.get(5)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// How many releases are in each state (states without releases are left out).
    pub fn release_state_counts(&self) -> DbResult<Vec<(String, i64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM releases GROUP BY state")?;
        let rows = stmt.query_map((), |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()
    }

    /// How many problems there are by criticality (None: untriaged) and whether open.
    pub fn problem_counts(&self) -> DbResult<Vec<(Option<String>, bool, i64)>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT criticality, open, COUNT(*) FROM problems GROUP BY criticality, open")?;
        let rows = stmt.query_map((), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()
    }

    /// (release id, time) of promotions at or after `since`, newest first.
    pub fn promotions_since(&self, since: i64) -> DbResult<Vec<(i64, i64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT release_id, MAX(at) FROM release_events WHERE to_state = 'promoted' AND at >= ?1
             GROUP BY release_id ORDER BY MAX(at) DESC, release_id DESC",
        )?;
        let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()
    }

    /// Releases that left beta or production the hard way (`withdrawn`, `rejected`) since
    /// `since`: (release id, state, when, reason), newest first.
    pub fn exits_since(&self, since: i64) -> DbResult<Vec<(i64, String, i64, String)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT release_id, to_state, at, reason FROM release_events
             WHERE to_state IN ('withdrawn', 'rejected') AND at >= ?1
             ORDER BY at DESC, release_id DESC",
        )?;
        let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<Result<_, _>>()
    }
}
