//! Rollout sites' reports and problems from any site.

use super::sql::{params, OptionalExtension, Row, Tx};
use serde::Serialize;

use super::{Db, DbError, DbResult};
use crate::domain::problem::{Criticality, Problem};
use crate::domain::rollout::{ReportResult, SiteReport};

/// A report as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: i64,
    pub release: i64,
    pub site: String,
    pub result: ReportResult,
    pub text: String,
    pub at: i64,
    pub late: bool,
    /// The problem it opened, for `problem` reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<i64>,
}

fn result_str(r: ReportResult) -> &'static str {
    match r {
        ReportResult::Ok => "ok",
        ReportResult::Problem => "problem",
    }
}

fn problem_row(r: &Row<'_>) -> DbResult<(Problem, Option<String>)> {
    let crit: Option<String> = r.get(5)?;
    Ok((
        Problem {
            id: r.get(0)?,
            release: r.get(1)?,
            site: r.get(2)?,
            text: r.get(3)?,
            created_at: r.get(4)?,
            criticality: crit.as_deref().and_then(Criticality::parse),
            priority: r.get(6)?,
            open: r.get(7)?,
            closed_reason: r.get(8)?,
        },
        crit,
    ))
}

const PROBLEM_SELECT: &str = "SELECT p.id, p.release_id, s.name, p.text, p.created_at, p.criticality, p.priority,
        p.open, p.closed_reason FROM problems p JOIN sites s ON s.id = p.site_id";

impl Db {
    /// Records a report (inside the caller's transaction); returns its id.
    pub fn insert_report(
        tx: &Tx<'_>,
        release: i64,
        site_id: i64,
        result: ReportResult,
        text: &str,
        at: i64,
        late: bool,
    ) -> DbResult<i64> {
        tx.query_row(
            "INSERT INTO reports (release_id, site_id, result, text, at, late) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             RETURNING id",
            params![release, site_id, result_str(result), text, at, late],
            |r| r.get(0),
        )
    }

    /// Opens a problem (inside the caller's transaction); returns its id.
    pub fn insert_problem(tx: &Tx<'_>, release: i64, site_id: i64, text: &str, at: i64) -> DbResult<i64> {
        tx.query_row(
            "INSERT INTO problems (release_id, site_id, text, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            params![release, site_id, text, at],
            |r| r.get(0),
        )
    }

    /// Reports of a release, oldest first.
    pub fn reports(&self, release: i64) -> DbResult<Vec<Report>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT r.id, r.release_id, s.name, r.result, r.text, r.at, r.late FROM reports r
             JOIN sites s ON s.id = r.site_id WHERE r.release_id = ?1 ORDER BY r.id",
        )?;
        let rows = stmt.query_map([release], |r| {
            let result: String = r.get(3)?;
            Ok(Report {
                id: r.get(0)?,
                release: r.get(1)?,
                site: r.get(2)?,
                result: if result == "ok" {
                    ReportResult::Ok
                } else {
                    ReportResult::Problem
                },
                text: r.get(4)?,
                at: r.get(5)?,
                late: r.get(6)?,
                problem: None,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Reports of a release in the gate's terms.
    pub fn site_reports(&self, release: i64) -> DbResult<Vec<SiteReport>> {
        Ok(self
            .reports(release)?
            .into_iter()
            .map(|r| SiteReport {
                site: r.site,
                result: r.result,
                at: r.at,
            })
            .collect())
    }

    /// Problems, optionally of one release and/or only open ones, newest first.
    pub fn problems(&self, release: Option<i64>, open_only: bool) -> DbResult<Vec<Problem>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "{PROBLEM_SELECT} WHERE (CAST(?1 AS BIGINT) IS NULL OR p.release_id = ?1) AND (?2 = 0 OR p.open = 1) ORDER BY p.id DESC"
        ))?;
        let rows = stmt.query_map(params![release, open_only], problem_row)?;
        let mut out = Vec::new();
        for row in rows {
            let (p, crit) = row?;
            if crit.is_some() && p.criticality.is_none() {
                return Err(DbError::Corrupt(format!("criticality {crit:?}")));
            }
            out.push(p);
        }
        Ok(out)
    }

    /// One problem.
    pub fn problem(&self, id: i64) -> DbResult<Option<Problem>> {
        Ok(self
            .lock()
            .query_row(&format!("{PROBLEM_SELECT} WHERE p.id = ?1"), [id], problem_row)
            .optional()?
            .map(|(p, _)| p))
    }

    /// Sets a problem's triage (inside the caller's transaction).
    pub fn triage_problem(tx: &Tx<'_>, id: i64, c: Criticality, priority: Option<i64>) -> DbResult<()> {
        tx.execute(
            "UPDATE problems SET criticality = ?2, priority = ?3 WHERE id = ?1",
            params![id, c.as_str(), priority],
        )?;
        Ok(())
    }

    /// Closes a problem (inside the caller's transaction).
    pub fn close_problem(tx: &Tx<'_>, id: i64, reason: &str, at: i64) -> DbResult<()> {
        tx.execute(
            "UPDATE problems SET open = 0, closed_reason = ?2, closed_at = ?3 WHERE id = ?1",
            params![id, reason, at],
        )?;
        Ok(())
    }
}
