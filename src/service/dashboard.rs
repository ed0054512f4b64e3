//! What the read-only dashboard shows, gathered in one call. Holds nothing secret: no token,
//! no webhook secret, no contact or webhook address.

use serde::Serialize;

use super::inventory::{Inventory, InventoryFilter, SlaReport};
use super::metrics::SLA_PERIOD_SECONDS;
use super::rollout::ReleaseDetail;
use super::{App, ServiceError, ServiceResult};
use crate::db::{Element, RolloutAssignment};
use crate::domain::problem::Problem;
use crate::domain::release::{Release, ReleaseState};
use crate::domain::repo::{RepoKind, Revision};
use crate::domain::rollout::SiteStatus;
use crate::domain::sla::SiteSla;

/// How far back "recently promoted" looks.
pub const RECENT_SECONDS: i64 = 14 * 86_400;

/// A promoted release and when.
#[derive(Debug, Clone, Serialize)]
pub struct Promotion {
    pub release: Release,
    pub at: i64,
}

/// A release withdrawn from production or rejected from beta, when and why.
#[derive(Debug, Clone, Serialize)]
pub struct Exit {
    pub release: Release,
    pub at: i64,
    pub reason: String,
}

/// Everything on the dashboard.
#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub now: i64,
    /// Releases in rollout, with their gates (ready ones too).
    pub rollout: Vec<ReleaseDetail>,
    /// Releases in beta, not announced yet, with their warnings.
    pub beta: Vec<ReleaseDetail>,
    /// Promoted in the last [`RECENT_SECONDS`], newest first.
    pub promoted: Vec<Promotion>,
    /// Withdrawn or rejected in the last [`RECENT_SECONDS`], newest first.
    pub exits: Vec<Exit>,
    /// Open problems, most critical first.
    pub problems: Vec<Problem>,
    pub sla: SlaReport,
    /// The newest production revision of each distribution (None before the first).
    pub production: Vec<(String, Option<Revision>)>,
    pub inventory: Inventory,
    /// The background scrub and the files found corrupt.
    pub integrity: super::verify::IntegrityStatus,
}

impl App {
    /// Gathers the dashboard's content.
    pub fn dashboard(&self) -> ServiceResult<Dashboard> {
        let now = self.clock.now();
        let rollout = self
            .db
            .releases_in_state(ReleaseState::Rollout)?
            .into_iter()
            .map(|id| self.release_detail(id))
            .collect::<ServiceResult<Vec<_>>>()?;
        let beta = self
            .db
            .releases_in_state(ReleaseState::Beta)?
            .into_iter()
            .map(|id| self.release_detail(id))
            .collect::<ServiceResult<Vec<_>>>()?;
        let mut promoted = Vec::new();
        for (id, at) in self.db.promotions_since(now - RECENT_SECONDS)? {
            let release = self.release(id)?;
            if release.state == ReleaseState::Promoted {
                promoted.push(Promotion { release, at });
            }
        }
        let exits = self
            .db
            .exits_since(now - RECENT_SECONDS)?
            .into_iter()
            .map(|(id, _, at, reason)| {
                Ok(Exit {
                    release: self.release(id)?,
                    at,
                    reason,
                })
            })
            .collect::<ServiceResult<Vec<_>>>()?;
        let mut problems = self.db.problems(None, true)?;
        // Untriaged first (they block everything), then critical, major, minor.
        problems.sort_by_key(|p| (p.criticality.map(|c| 3 - c as u8).unwrap_or(0), -p.id));
        let production = self
            .config
            .dist
            .keys()
            .map(|d| Ok((d.clone(), self.db.latest_revision(d, RepoKind::Production)?)))
            .collect::<ServiceResult<Vec<_>>>()?;
        Ok(Dashboard {
            now,
            rollout,
            beta,
            promoted,
            exits,
            problems,
            sla: self.sla(SLA_PERIOD_SECONDS, None)?,
            production,
            inventory: self.inventory(&InventoryFilter::default())?,
            integrity: self.integrity_status(),
        })
    }
}

/// A rollout site's public page: what it rolls out, what was asked of it, how it kept its SLA.
#[derive(Debug, Serialize)]
pub struct SitePage {
    pub site: String,
    pub rollouts: Vec<RolloutAssignment>,
    /// The newest 50 releases announced to the site, newest first, with its state in each.
    pub releases: Vec<(Release, SiteStatus)>,
    pub sla: Option<SiteSla>,
    /// Problems the site reported, newest first.
    pub problems: Vec<Problem>,
}

/// An element's public page: its team, rollout sites, releases and who runs them.
#[derive(Debug, Serialize)]
pub struct ElementPage {
    pub element: Element,
    pub rollouts: Vec<RolloutAssignment>,
    /// Newest first.
    pub releases: Vec<Release>,
    pub inventory: Inventory,
}

/// A problem's public page, with the release it is about.
#[derive(Debug, Serialize)]
pub struct ProblemPage {
    pub problem: Problem,
    pub release: Release,
}

impl App {
    /// The content of `/sites/{site}`.
    pub fn site_page(&self, name: &str) -> ServiceResult<SitePage> {
        let site = self
            .db
            .site_by_name(name)?
            .ok_or_else(|| ServiceError::NotFound(format!("no site named {name}")))?;
        let rollouts = self
            .rollouts(None)?
            .into_iter()
            .filter(|r| r.site == site.name)
            .collect();
        let mut releases = Vec::new();
        for id in self.db.site_release_ids(site.id, 50)? {
            let detail = self.release_detail(id)?;
            if let Some(status) = detail.sites.iter().find(|s| s.site == site.name) {
                releases.push((detail.release.clone(), status.clone()));
            }
        }
        let sla = self.sla(SLA_PERIOD_SECONDS, Some(&site.name))?.sites.into_iter().next();
        let mut problems: Vec<Problem> = self
            .db
            .problems(None, false)?
            .into_iter()
            .filter(|p| p.site == site.name)
            .collect();
        problems.sort_by_key(|p| -p.id);
        Ok(SitePage {
            site: site.name,
            rollouts,
            releases,
            sla,
            problems,
        })
    }

    /// The content of `/elements/{name}`.
    pub fn element_page(&self, name: &str) -> ServiceResult<ElementPage> {
        let element = self.element(name)?;
        let mut releases = self.release_list(None, Some(name), None)?;
        releases.reverse();
        Ok(ElementPage {
            rollouts: self.rollouts(Some(name))?,
            releases,
            inventory: self.inventory(&InventoryFilter {
                element: Some(name.to_string()),
                ..Default::default()
            })?,
            element,
        })
    }

    /// The content of `/problems/{id}`.
    pub fn problem_page(&self, id: i64) -> ServiceResult<ProblemPage> {
        let problem = self.problem(id)?;
        let release = self.release(problem.release)?;
        Ok(ProblemPage { problem, release })
    }
}
