//! Releases: submission into beta, listing, and (until the staged rollout) direct publication
//! into production.

use serde::Deserialize;

use super::auth::Actor;
use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, NewRelease};
use crate::domain::names::is_valid_name;
use crate::domain::release::{Release, ReleaseState};
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
        let (team_id, _) = actor.require_team()?;
        self.require_dist(&req.dist)?;
        if !is_valid_name(&req.element) {
            return Err(ServiceError::Invalid(format!(
                "element name {:?} is invalid: use 1-64 letters, digits, '.', '_' or '-'",
                req.element
            )));
        }
        semver::Version::parse(&req.version).map_err(|e| {
            ServiceError::Invalid(format!(
                "version {:?} is not semantic versioning (like 3.12.0): {e}",
                req.version
            ))
        })?;
        if req.packages.is_empty() {
            return Err(ServiceError::Invalid(
                "a release needs at least one package".into(),
            ));
        }
        let mut shas = Vec::with_capacity(req.packages.len());
        let mut missing = Vec::new();
        for filename in &req.packages {
            match self.db.package_by_filename(filename)? {
                Some(p) => shas.push(p.sha256),
                None => missing.push(filename.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(ServiceError::Invalid(format!(
                "not uploaded yet: {}",
                missing.join(", ")
            )));
        }
        shas.sort();
        if shas.windows(2).any(|w| w[0] == w[1]) {
            return Err(ServiceError::Invalid("a package is listed twice".into()));
        }
        if let Some(id) = self
            .db
            .release_exists(&req.dist, &req.element, &req.version)?
        {
            return Err(ServiceError::Conflict(format!(
                "{} {} already exists in {} as release {id}",
                req.element, req.version, req.dist
            )));
        }
        let now = self.clock.now();
        let reason = format!("release of {} {}", req.element, req.version);
        let (id, _) = self.publish_with(
            &req.dist,
            RepoKind::Beta,
            &actor.label(),
            &reason,
            |current| Ok(current.iter().chain(&shas).cloned().collect()),
            |tx| {
                Db::insert_release(
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
                )
            },
        )?;
        tracing::info!(release = id, dist = %req.dist, element = %req.element, version = %req.version, actor = %actor.label(), "release submitted");
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

    /// Publishes a beta release into production directly (admin only; the staged rollout
    /// replaces this shortcut).
    pub fn publish_to_production(
        &self,
        actor: &Actor,
        dist: &str,
        id: i64,
    ) -> ServiceResult<Release> {
        actor.require_admin()?;
        let release = self.release(id)?;
        if release.dist != dist {
            return Err(ServiceError::Invalid(format!(
                "release {id} belongs to {}, not {dist}",
                release.dist
            )));
        }
        if release.state != ReleaseState::Beta {
            return Err(ServiceError::Conflict(format!(
                "release {id} is {}, not beta",
                release.state.as_str()
            )));
        }
        let shas = self.db.release_package_shas(id)?;
        let reason = format!(
            "publication of release {id} ({} {})",
            release.element, release.version
        );
        self.publish_with(
            dist,
            RepoKind::Production,
            &actor.label(),
            &reason,
            |current| Ok(current.iter().chain(&shas).cloned().collect()),
            |tx| Db::set_release_state(tx, id, ReleaseState::Promoted),
        )?;
        self.release(id)
    }
}
