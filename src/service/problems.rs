//! Reports from rollout sites, problems from any site, and the admin's triage.

use super::auth::Actor;
use super::{limit, App, ServiceError, ServiceResult};
use crate::db::{Db, Report};
use crate::domain::limits::{self, check_len};
use crate::domain::problem::{Criticality, Problem};
use crate::domain::release::ReleaseState;
use crate::domain::rollout::ReportResult;

impl App {
    /// A rollout site's verdict on a release.
    pub fn report(&self, actor: &Actor, id: i64, result: ReportResult, text: &str) -> ServiceResult<Report> {
        let (site_id, site) = actor.require_site()?;
        limit(check_len("text", text, limits::MAX_PROBLEM_TEXT))?;
        let release = self.release(id)?;
        let sites = self.db.release_site_rows(id)?;
        let Some(sla) = sites
            .iter()
            .find(|r| r.site == site)
            .map(|r| r.sla_seconds.saturating_add(r.grace_seconds))
        else {
            return Err(ServiceError::Forbidden(format!(
                "site {site} is not a rollout site of release {id}; any site reports problems with POST /api/v1/problems"
            )));
        };
        if release.state != ReleaseState::Rollout && release.announced_at.is_none() {
            return Err(ServiceError::Conflict(format!("release {id} has not been announced")));
        }
        if result == ReportResult::Problem && text.trim().is_empty() {
            return Err(ServiceError::Invalid(
                "a problem report needs a text that describes the problem".into(),
            ));
        }
        let now = self.clock.now();
        let late = now > release.announced_at.unwrap_or(now).saturating_add(sla);
        let label = actor.label();
        let (report_id, problem) = self.db.write(|tx| {
            let rid = Db::insert_report(tx, id, site_id, result, text, now, late)?;
            let what = match result {
                ReportResult::Ok => "ok",
                ReportResult::Problem => "problem",
            };
            Db::audit(
                tx,
                now,
                &label,
                &format!("report.{what}"),
                &format!("release:{id}"),
                text,
                Some(id),
            )?;
            let problem = if result == ReportResult::Problem {
                let pid = Db::insert_problem(tx, id, site_id, text, now)?;
                Db::audit(
                    tx,
                    now,
                    &label,
                    "problem.open",
                    &format!("problem:{pid}"),
                    text,
                    Some(id),
                )?;
                Some(pid)
            } else {
                None
            };
            Ok((rid, problem))
        })?;
        self.wake();
        let mut report = self
            .db
            .reports(id)?
            .into_iter()
            .find(|r| r.id == report_id)
            .expect("just inserted");
        report.problem = problem;
        Ok(report)
    }

    /// A problem from any site, against any release.
    pub fn report_problem(&self, actor: &Actor, id: i64, text: &str) -> ServiceResult<Problem> {
        let (site_id, _) = actor.require_site()?;
        limit(check_len("text", text, limits::MAX_PROBLEM_TEXT))?;
        self.release(id)?;
        if text.trim().is_empty() {
            return Err(ServiceError::Invalid(
                "the problem needs a text that describes it".into(),
            ));
        }
        let now = self.clock.now();
        let pid = self.db.write(|tx| {
            let pid = Db::insert_problem(tx, id, site_id, text, now)?;
            Db::audit(
                tx,
                now,
                &actor.label(),
                "problem.open",
                &format!("problem:{pid}"),
                text,
                Some(id),
            )?;
            Ok(pid)
        })?;
        self.wake();
        self.problem(pid)
    }

    /// One problem.
    pub fn problem(&self, pid: i64) -> ServiceResult<Problem> {
        limit(limits::check_id("problem", pid))?;
        self.db
            .problem(pid)?
            .ok_or_else(|| ServiceError::NotFound(format!("no problem {pid}")))
    }

    /// Problems, newest first (admin).
    pub fn problems(&self, actor: &Actor, open_only: bool) -> ServiceResult<Vec<Problem>> {
        actor.require_admin()?;
        Ok(self.db.problems(None, open_only)?)
    }

    /// The admin's judgement of a problem.
    pub fn triage(&self, actor: &Actor, pid: i64, c: Criticality, priority: Option<i64>) -> ServiceResult<Problem> {
        actor.require_admin()?;
        if let Some(p) = priority {
            if !(1..=5).contains(&p) {
                return Err(ServiceError::Invalid(format!("priority {p} is out of range 1-5")));
            }
        }
        let problem = self.problem(pid)?;
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::triage_problem(tx, pid, c, priority)?;
            let detail = format!(
                "{}{}",
                c.as_str(),
                priority.map(|p| format!(", priority {p}")).unwrap_or_default()
            );
            Db::audit(
                tx,
                now,
                &actor.label(),
                "problem.triage",
                &format!("problem:{pid}"),
                &detail,
                Some(problem.release),
            )
        })?;
        self.wake();
        self.problem(pid)
    }

    /// Closes a problem with a reason.
    pub fn close_problem(&self, actor: &Actor, pid: i64, reason: &str) -> ServiceResult<Problem> {
        actor.require_admin()?;
        // Like a rejection or a withdrawal: the dashboard and the audit log show why.
        if reason.trim().is_empty() {
            return Err(ServiceError::Invalid("closing a problem needs --reason".into()));
        }
        limit(check_len("reason", reason, limits::MAX_REASON))?;
        let problem = self.problem(pid)?;
        if !problem.open {
            return Err(ServiceError::Conflict(format!("problem {pid} is already closed")));
        }
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::close_problem(tx, pid, reason, now)?;
            Db::audit(
                tx,
                now,
                &actor.label(),
                "problem.close",
                &format!("problem:{pid}"),
                reason,
                Some(problem.release),
            )
        })?;
        self.wake();
        self.problem(pid)
    }
}
