//! Releases: submission into beta and listing.

use serde::Deserialize;

use super::auth::Actor;
use super::beta_check::Submitted;
use super::publish::Publication;
use super::sets::SetChange;
use super::{limit, App, ServiceError, ServiceResult};
use crate::db::{Db, NewRelease};
use crate::domain::limits::{self, check_count, check_len};
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
    /// Problems (ids) this release fixes; fixing a critical one puts it on the fast track.
    #[serde(default)]
    pub fixes: Vec<i64>,
    /// Advisory type: `bugfix`, `enhancement` (default) or `security`.
    #[serde(default = "default_type", rename = "type")]
    pub advisory_type: String,
    /// Advisory severity: `low`, `moderate`, `important` or `critical`.
    #[serde(default)]
    pub severity: Option<String>,
    /// CVE ids and URLs (CVE records, bugs, GGUS tickets) for the advisory's references.
    #[serde(default)]
    pub references: Vec<String>,
}

fn default_type() -> String {
    "enhancement".into()
}

/// The advisory types updateinfo knows.
pub const ADVISORY_TYPES: [&str; 3] = ["bugfix", "enhancement", "security"];
/// The advisory severities, least to most severe.
pub const SEVERITIES: [&str; 4] = ["low", "moderate", "important", "critical"];

impl App {
    /// Validates a submission, records the release and publishes its packages into beta,
    /// all or nothing.
    pub fn submit_release(&self, actor: &Actor, req: &SubmitRelease) -> ServiceResult<Submitted> {
        let (team_id, team) = actor.require_team()?;
        limit(check_len("version", &req.version, limits::MAX_VERSION))?;
        limit(check_len("notes", &req.notes, limits::MAX_NOTES))?;
        limit(check_count(
            "packages",
            req.packages.len(),
            limits::MAX_RELEASE_PACKAGES,
        ))?;
        for f in &req.packages {
            limit(check_len("packages entry", f, limits::MAX_FILENAME))?;
        }
        limit(check_len("type", &req.advisory_type, limits::MAX_KEYWORD))?;
        limit(check_len(
            "severity",
            req.severity.as_deref().unwrap_or_default(),
            limits::MAX_KEYWORD,
        ))?;
        limit(check_count("fixes", req.fixes.len(), limits::MAX_FIXES))?;
        for pid in &req.fixes {
            limit(limits::check_id("fixes: problem", *pid))?;
        }
        self.require_dist(&req.dist)?;
        let element = self.element_header(&req.element)?;
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
        if !ADVISORY_TYPES.contains(&req.advisory_type.as_str()) {
            return Err(ServiceError::Invalid(format!(
                "type {:?} is not one of {}",
                req.advisory_type,
                ADVISORY_TYPES.join(", ")
            )));
        }
        if let Some(sev) = &req.severity {
            if !SEVERITIES.contains(&sev.as_str()) {
                return Err(ServiceError::Invalid(format!(
                    "severity {sev:?} is not one of {}",
                    SEVERITIES.join(", ")
                )));
            }
        }
        for pid in &req.fixes {
            let problem = self
                .problem(*pid)
                .map_err(|_| ServiceError::Invalid(format!("fixes: no problem {pid}")))?;
            let about = self.release(problem.release)?;
            if about.element != req.element || about.dist != req.dist {
                return Err(ServiceError::Invalid(format!(
                    "fixes: problem {pid} is about {} in {}, not {} in {}",
                    about.element, about.dist, req.element, req.dist
                )));
            }
        }
        for r in &req.references {
            crate::domain::advisory::classify_reference(r).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        }
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
        let file_shas: Vec<String> = packages.iter().map(|p| p.sha256.clone()).collect();
        let file_names: Vec<String> = packages.iter().map(|p| p.filename.clone()).collect();
        self.check_release_signatures(&req.dist, team, &file_shas, &file_names)?;
        let mut shas = file_shas;
        let mut names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        shas.sort();
        names.sort();
        names.dedup();
        if shas.windows(2).any(|w| w[0] == w[1]) {
            return Err(ServiceError::Invalid("a package is listed twice".into()));
        }
        let now = self.clock.now();
        let label = actor.label();
        let reason = format!("release of {} {}", req.element, req.version);
        let exists = |id: i64| {
            ServiceError::Conflict(format!(
                "{} {} already exists in {} as release {id}",
                req.element, req.version, req.dist
            ))
        };
        if let Some(id) = self.db.release_exists(&req.dist, &req.element, &req.version)? {
            return Err(exists(id));
        }
        let advisory = self.submission_advisory(req, team, &shas, now)?;
        let published = self.publish_with(
            Publication {
                dist: &req.dist,
                repo: RepoKind::Beta,
                actor: &label,
                reason: &reason,
                advisory: Some(&advisory.0),
            },
            |_| Ok(SetChange::Add(shas.clone())),
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
                        fixes: &req.fixes,
                        advisory_type: &req.advisory_type,
                        severity: req.severity.as_deref(),
                        references: &req.references,
                    },
                )?;
                let (mut a, year, seq) = advisory.clone();
                a.release = id;
                Db::insert_advisory(tx, &a, year, seq)?;
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
        );
        // The loser of two submissions of one version at once trips the unique index; it gets
        // the same answer as a submission after the first.
        let (id, _) = match published {
            Err(ServiceError::Conflict(why)) => {
                return Err(match self.db.release_exists(&req.dist, &req.element, &req.version)? {
                    Some(id) => exists(id),
                    None => ServiceError::Conflict(why),
                })
            }
            other => other?,
        };
        tracing::info!(release = id, dist = %req.dist, element = %req.element, version = %req.version, actor = %label, "release submitted");
        let release = self.release(id)?;
        let warnings = self.release_warnings(&release)?;
        for w in &warnings {
            tracing::warn!(release = id, warning = %w, "submitted release fails a promotion check");
        }
        if self.config.auto_announce && !self.db.rollout_site_ids(element.id)?.is_empty() {
            // A release that could never be promoted waits for an admin's forced announce.
            match self.announce(&Actor::System, id) {
                Ok(_) | Err(ServiceError::Refused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Submitted {
            release: self.release(id)?,
            warnings,
        })
    }

    /// The advisory a submission publishes into beta, with a newly allocated id.
    fn submission_advisory(
        &self,
        req: &SubmitRelease,
        team: &str,
        shas: &[String],
        now: i64,
    ) -> ServiceResult<(crate::domain::advisory::Advisory, i32, i64)> {
        let (id, year, seq) = self.allocate_advisory_id(now)?;
        let draft = Release {
            id: 0,
            dist: req.dist.clone(),
            element: req.element.clone(),
            version: req.version.clone(),
            team: team.to_string(),
            notes: req.notes.clone(),
            state: ReleaseState::Beta,
            created_at: now,
            announced_at: None,
            forced: false,
            fixes: req.fixes.clone(),
            advisory_type: req.advisory_type.clone(),
            severity: req.severity.clone(),
            fast_track_seconds: None,
            packages: Vec::new(),
            advisory: Some(id.clone()),
            references: req.references.clone(),
        };
        Ok((self.advisory_with(&draft, shas, id, now, now)?, year, seq))
    }

    /// One release.
    pub fn release(&self, id: i64) -> ServiceResult<Release> {
        limit(limits::check_id("release", id))?;
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
