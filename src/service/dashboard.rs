//! What the read-only dashboard shows, gathered in one call. Holds nothing secret: no token,
//! no webhook secret, no contact or webhook address.

use serde::Serialize;

use super::inventory::{Inventory, InventoryFilter, SlaReport};
use super::metrics::SLA_PERIOD_SECONDS;
use super::rollout::ReleaseDetail;
use super::{App, ServiceResult};
use crate::domain::problem::Problem;
use crate::domain::release::{Release, ReleaseState};
use crate::domain::repo::{RepoKind, Revision};

/// How far back "recently promoted" looks.
pub const RECENT_SECONDS: i64 = 14 * 86_400;

/// A promoted release and when.
#[derive(Debug, Clone, Serialize)]
pub struct Promotion {
    pub release: Release,
    pub at: i64,
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
    /// Open problems, most critical first.
    pub problems: Vec<Problem>,
    pub sla: SlaReport,
    /// The newest production revision of each distribution (None before the first).
    pub production: Vec<(String, Option<Revision>)>,
    pub inventory: Inventory,
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
            problems,
            sla: self.sla(SLA_PERIOD_SECONDS, None)?,
            production,
            inventory: self.inventory(&InventoryFilter::default())?,
        })
    }
}
