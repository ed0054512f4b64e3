//! Releases: submission into beta and listing.

use serde::Deserialize;

use super::auth::Actor;
use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, NewRelease};
use crate::domain::release::{Release, ReleaseEvent, ReleaseState};
use crate::domain::repo::RepoKind;

/// A team's request to release packages as a version of an element.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRelease {
    pub dist: String,
    pub element: String,
    pub version: String,
    /// File names of uploaded packages.
    pub packages: Vec<String>,
    #[serde(default)]
    pub notes: String,
}

impl App {
    /// Validates a submission, records the release and publishes its packages into beta,
    /// all or nothing.
    pub fn submit_release(&self, actor: &Actor, req: &SubmitRelease) -> ServiceResult<Release> {
        let (team_id, team) = actor.require_team()?;
        self.require_dist(&req.dist)?;
        let element = self.element(&req.element)?;
        if element.team_id != team_id {
            return Err(ServiceError::Forbidden(format!(
                "element {} belongs to team {}, not {team}",
                element.name, element.team
            )));
        }
        semver::Version::parse(&req.version).map_err(|e| {
            ServiceError::Invalid(format!(
                "version {:?} is not semantic versioning (like 3.12.0): {e}",
                req.version
            ))
        })?;
        if req.packages.is_empty() {
            return Err(ServiceError::Invalid("a release needs at least one package".into()));
        }
        let mut packages = Vec::with_capacity(req.packages.len());
        let mut missing = Vec::new();
        for filename in &req.packages {
            match self.db.package_by_filename(filename)? {
                Some(p) => packages.push(p),
                None => missing.push(filename.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(ServiceError::Invalid(format!(
                "not uploaded yet: {}",
                missing.join(", ")
            )));
        }
        for p in &packages {
            if let Some((owner_element, owner_team)) = self.db.package_owner(&p.name)? {
                if owner_element != element.name {
                    return Err(ServiceError::Forbidden(format!(
                        "package name {} belongs to element {owner_element} of team {owner_team}",
                        p.name
                    )));
                }
            }
        }
        let mut shas: Vec<String> = packages.iter().map(|p| p.sha256.clone()).collect();
        let mut names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        shas.sort();
        names.sort();
        names.dedup();
        if shas.windows(2).any(|w| w[0] == w[1]) {
            return Err(ServiceError::Invalid("a package is listed twice".into()));
        }
        if let Some(id) = self.db.release_exists(&req.dist, &req.element, &req.version)? {
            return Err(ServiceError::Conflict(format!(
                "{} {} already exists in {} as release {id}",
                req.element, req.version, req.dist
            )));
        }
        let now = self.clock.now();
        let label = actor.label();
        let reason = format!("release of {} {}", req.element, req.version);
        let (id, _) = self.publish_with(
            &req.dist,
            RepoKind::Beta,
            &label,
            &reason,
            |current| Ok(current.iter().chain(&shas).cloned().collect()),
            |tx| {
                let id = Db::insert_release(
                    tx,
                    &NewRelease {
                        dist: &req.dist,
                        element: &req.element,
                        version: &req.version,
                        team_id,
                        notes: &req.notes,
                        state: ReleaseState::Beta,
                        now,
                        packages: &shas,
                    },
                )?;
                Db::bind_packages(tx, element.id, &names)?;
                let event = ReleaseEvent {
                    at: now,
                    actor: label.clone(),
                    from: None,
                    to: ReleaseState::Beta,
                    reason: "submitted".into(),
                };
                Db::transition_release(tx, id, &event)?;
                Db::audit(
                    tx,
                    now,
                    &label,
                    "release.submit",
                    &format!("release:{id}"),
                    &reason,
                    Some(id),
                )?;
                Ok(id)
            },
        )?;
        tracing::info!(release = id, dist = %req.dist, element = %req.element, version = %req.version, actor = %label, "release submitted");
        if self.config.auto_announce && !self.db.rollout_site_ids(element.id)?.is_empty() {
            self.announce(&Actor::System, id)?;
        }
        self.release(id)
    }

    /// One release.
    pub fn release(&self, id: i64) -> ServiceResult<Release> {
        self.db
            .release(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("no release {id}")))
    }

    /// All releases, newest first.
    pub fn releases(&self, dist: Option<&str>) -> ServiceResult<Vec<Release>> {
        let ids = self.db.release_ids(dist)?;
        ids.into_iter().map(|id| self.release(id)).collect()
    }
}
