//! The staged rollout: announce, reports and problems, the gate, promotion and rejection.

use crate::db::Tx;
use serde::Serialize;
use serde_json::json;

use super::auth::Actor;
use super::closure_cache::SetSource;
use super::notify::Notice;
use super::publish::Publication;
use super::sets::SetChange;
use super::{limit, App, ServiceError, ServiceResult};
use crate::db::{Db, DbResult, Report};
use crate::domain::limits::{self, check_len};
use crate::domain::problem::Problem;
use crate::domain::release::{Release, ReleaseEvent, ReleaseState, Transition};
use crate::domain::repo::RepoKind;
use crate::domain::rollout::{self, Assignment, Gate, GateInput, SiteStatus};
use crate::domain::versions::{downgrades, element_version_check, VersionedPackage};

/// A release with everything the admin needs to decide on it.
#[derive(Debug, Serialize)]
pub struct ReleaseDetail {
    #[serde(flatten)]
    pub release: Release,
    /// The gate, for releases in rollout.
    pub gate: Option<Gate>,
    /// In rollout with the gate open, waiting for promotion.
    pub ready: bool,
    /// Every rollout site the release was announced to and where it stands (also after
    /// the rollout ended).
    pub sites: Vec<SiteStatus>,
    /// Sites that must show deployment evidence before silence counts as approval.
    pub min_deployed_sites: u32,
    pub reports: Vec<Report>,
    pub problems: Vec<Problem>,
    pub events: Vec<ReleaseEvent>,
    /// In beta or rollout: what its promotion would fail on now (see `beta_check`).
    pub warnings: Vec<String>,
}

fn to_versioned(p: &crate::db::StoredPackage) -> VersionedPackage {
    VersionedPackage {
        name: p.name.clone(),
        arch: p.arch.clone(),
        evr: crate::domain::evr::Evr::new(p.epoch, &p.version, &p.release),
    }
}

impl App {
    /// A release with its gate, reports, problems and history.
    pub fn release_detail(&self, id: i64) -> ServiceResult<ReleaseDetail> {
        let release = self.release(id)?;
        let gate = self.gate(&release)?;
        let sites = match &gate {
            Some(g) => g.sites.clone(),
            None => self.site_statuses(&release)?,
        };
        Ok(ReleaseDetail {
            ready: gate.as_ref().is_some_and(|g| g.open) && release.state == ReleaseState::Rollout,
            gate,
            sites,
            min_deployed_sites: self.db.min_deployed_sites(id)?,
            reports: self.db.reports(id)?,
            problems: self.db.problems(Some(id), false)?,
            events: self.db.release_events(id)?,
            warnings: self.release_warnings(&release)?,
            release,
        })
    }

    /// The gate of a release in rollout, evaluated now.
    pub fn gate(&self, release: &Release) -> ServiceResult<Option<Gate>> {
        if release.state != ReleaseState::Rollout {
            return Ok(None);
        }
        let failures = self.consistency_failures(release)?;
        self.evaluate_gate(release, &failures)
    }

    /// The rollout sites of an announced release and where each stands, in any state (the
    /// table `admin release show` keeps after promotion).
    pub fn site_statuses(&self, release: &Release) -> ServiceResult<Vec<SiteStatus>> {
        Ok(self.evaluate_gate(release, &[])?.map(|g| g.sites).unwrap_or_default())
    }

    fn evaluate_gate(&self, release: &Release, failures: &[String]) -> ServiceResult<Option<Gate>> {
        let Some(announced_at) = release.announced_at else {
            return Ok(None);
        };
        let mapper = self.mapper()?;
        let now = self.clock.now();
        let mut assignments = Vec::new();
        for row in self.db.release_site_rows(release.id)? {
            let deployed = self.first_deployment(
                &mapper,
                row.site_id,
                &release.element,
                release.id,
                release.created_at,
                now,
            )?;
            assignments.push(Assignment {
                site: row.site,
                sla_seconds: row.sla_seconds,
                grace_seconds: row.grace_seconds,
                deployed,
                declined: row.declined_reason.or(row.declined_at.map(|_| String::new())),
            });
        }
        let reports = self.db.site_reports(release.id)?;
        let problems = self.db.problems(Some(release.id), false)?;
        let input = GateInput {
            announced_at,
            assignments: &assignments,
            reports: &reports,
            problems: &problems,
            consistency_failures: failures,
            fast_track_seconds: release.fast_track_seconds,
            fast_track_reason: release.fast_track_seconds.map(|s| {
                let ids: Vec<String> = release.fixes.iter().map(|p| p.to_string()).collect();
                format!("fixes critical problem {}: SLA shortened to {}s", ids.join(", "), s)
            }),
            min_deployed_sites: self.db.min_deployed_sites(release.id)?,
        };
        Ok(Some(rollout::evaluate(&input, now)))
    }

    /// Why production plus this release would not be consistent; empty when it would.
    pub fn consistency_failures(&self, release: &Release) -> ServiceResult<Vec<String>> {
        let prod_number = self
            .db
            .latest_revision(&release.dist, RepoKind::Production)?
            .map_or(0, |r| r.number);
        let production = self
            .db
            .revision_packages_shared(&release.dist, RepoKind::Production, prod_number)?;
        let in_production = |sha: &str| production.binary_search_by(|s| s.as_str().cmp(sha)).is_ok();
        let shas = self.db.release_package_shas(release.id)?;
        let mine = self.db.packages_by_sha(&shas)?;
        // Only production's versions of the release's names can be downgraded: read those, not
        // every production package.
        let mut names: Vec<&str> = mine.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut same_names = Vec::new();
        for name in names {
            same_names.extend(
                self.db
                    .packages_named(name)?
                    .into_iter()
                    .filter(|p| in_production(&p.sha256) && !shas.contains(&p.sha256)),
            );
        }
        let production_versions: Vec<VersionedPackage> = same_names.iter().map(to_versioned).collect();
        let mut failures = downgrades(&mine.iter().map(to_versioned).collect::<Vec<_>>(), &production_versions);
        let latest = self.latest_promoted_version(&release.dist, &release.element, release.id)?;
        failures.extend(element_version_check(&release.version, latest.as_deref()));
        let mut set: Vec<String> = production.iter().chain(&shas).cloned().collect();
        set.sort();
        set.dedup();
        let source = SetSource {
            revisions: vec![(RepoKind::Production, prod_number)],
            extra: shas.clone(),
        };
        failures.extend(self.closure_failures_from(
            &release.dist,
            &set,
            Some(&source),
            Some((&release.element, &shas)),
        )?);
        Ok(failures)
    }

    fn latest_promoted_version(&self, dist: &str, element: &str, except: i64) -> ServiceResult<Option<String>> {
        Ok(self
            .db
            .element_releases(dist, element)?
            .into_iter()
            .filter(|(id, _, st)| *id != except && *st == ReleaseState::Promoted)
            .filter_map(|(_, v, _)| semver::Version::parse(&v).ok())
            .max()
            .map(|v| v.to_string()))
    }

    /// Records a transition with its audit entry (inside the caller's transaction).
    pub(super) fn record_transition(
        tx: &Tx<'_>,
        release: &Release,
        t: Transition,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> DbResult<()> {
        let to = release.state.apply(t).expect("checked by the caller");
        Db::transition_release(
            tx,
            release.id,
            &ReleaseEvent {
                at: now,
                actor: actor.into(),
                from: Some(release.state),
                to,
                reason: reason.into(),
            },
        )?;
        Db::audit(
            tx,
            now,
            actor,
            &format!("release.{}", to.as_str()),
            &format!("release:{}", release.id),
            reason,
            Some(release.id),
        )
    }

    pub(super) fn check_transition(release: &Release, t: Transition) -> ServiceResult<()> {
        release
            .state
            .apply(t)
            .map(|_| ())
            .map_err(|e| ServiceError::Conflict(format!("release {}: {e}", release.id)))
    }

    /// Announces a beta release to its element's rollout sites; their SLA clocks start now.
    pub fn announce(&self, actor: &Actor, id: i64) -> ServiceResult<ReleaseDetail> {
        self.announce_with(actor, id, false, "")
    }

    /// [`App::announce`], `force`d with a reason past failing promotion checks.
    pub fn announce_with(&self, actor: &Actor, id: i64, force: bool, reason: &str) -> ServiceResult<ReleaseDetail> {
        if *actor != Actor::System {
            actor.require_admin()?;
        }
        let release = self.release(id)?;
        Self::check_transition(&release, Transition::Announce)?;
        let overridden = self.check_announceable(&release, force, reason)?;
        let warnings = self.release_warnings(&release)?;
        let element = self.element_header(&release.element)?;
        let sites = self.db.rollout_site_ids(element.id)?;
        if sites.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "element {} has no rollout site: add one with `stagerepo admin rollout add --element {} --site SITE --sla 5d`",
                element.name, element.name
            )));
        }
        let now = self.clock.now();
        let (min_deployed_sites, grace) = self
            .config
            .rollout_policy(&element.name)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let fixes_critical = release.fixes.iter().any(|pid| {
            matches!(self.db.problem(*pid), Ok(Some(p)) if p.criticality == Some(crate::domain::problem::Criticality::Critical))
        });
        let fast_track = if fixes_critical {
            Some(
                self.config
                    .fast_track_seconds()
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
            )
        } else {
            None
        };
        let sites: Vec<(i64, i64)> = sites
            .into_iter()
            .map(|(s, sla)| (s, fast_track.map_or(sla, |f| f.min(sla))))
            .collect();
        let mut notified = Vec::new();
        for (site_id, sla) in &sites {
            let site = self
                .db
                .site_by_id(*site_id)?
                .ok_or_else(|| ServiceError::Internal(format!("site {site_id} vanished")))?;
            // A period stored before the limit existed must not wrap the deadline.
            let deadline = limits::check_sla("sla", *sla)
                .ok()
                .and_then(|_| now.checked_add(grace).and_then(|t| t.checked_add(*sla)))
                .ok_or_else(|| {
                    ServiceError::Conflict(format!(
                        "the SLA of rollout site {} ({sla}s) is out of range: at most {}s; set it again with `stagerepo admin rollout add`",
                        site.name,
                        limits::MAX_SLA_SECONDS
                    ))
                })?;
            let iso = chrono::DateTime::from_timestamp(deadline, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            notified.push((
                site,
                json!({ "deadline": deadline, "deadline_iso": iso, "sla_seconds": sla, "grace_seconds": grace, "warnings": warnings }),
            ));
        }
        let names: Vec<&str> = notified.iter().map(|(s, _)| s.name.as_str()).collect();
        let title = format!(
            "{} {} ({}) announced for rollout",
            release.element, release.version, release.dist
        );
        let mut content = format!(
            "Release {} of {} {} is in {}/beta for its staged rollout. Rollout sites: {}. Install from beta: {}",
            release.id,
            release.element,
            release.version,
            release.dist,
            names.join(", "),
            self.repo_file_url(&release.dist, RepoKind::Beta)
        );
        if !warnings.is_empty() {
            content.push_str(&format!("\nWarnings: {}", warnings.join("; ")));
        }
        let transition_reason = if overridden.is_empty() {
            "announced to the rollout sites".to_string()
        } else {
            format!(
                "announced to the rollout sites, forced past {} failing check(s): {reason}",
                overridden.len()
            )
        };
        self.db.write(|tx| {
            Db::set_announced(tx, id, now, &sites)?;
            Db::set_rollout_policy(tx, id, min_deployed_sites, grace)?;
            if let Some(f) = fast_track {
                Db::set_fast_track(tx, id, f)?;
            }
            Self::record_transition(
                tx,
                &release,
                Transition::Announce,
                &actor.label(),
                &transition_reason,
                now,
            )?;
            let mut announced = release.clone();
            announced.state = ReleaseState::Rollout;
            self.notify(
                tx,
                &Notice {
                    event: "announce",
                    release: &announced,
                    title: title.clone(),
                    content: content.clone(),
                },
                &notified,
                now,
            )
        })?;
        self.wake();
        tracing::info!(release = id, sites = ?names, "release announced");
        self.release_detail(id)
    }

    /// Promotes a release into production: through the open gate, or `force`d before it
    /// opens (never past a failing consistency check).
    pub fn promote(&self, actor: &Actor, id: i64, force: bool, reason: &str) -> ServiceResult<ReleaseDetail> {
        if *actor != Actor::System {
            actor.require_admin()?;
        }
        limit(check_len("reason", reason, limits::MAX_REASON))?;
        let release = self.release(id)?;
        Self::check_transition(&release, Transition::Promote)?;
        if force {
            if reason.trim().is_empty() {
                return Err(ServiceError::Invalid("a forced promotion needs --reason".into()));
            }
        } else {
            match self.gate(&release)? {
                None => {
                    return Err(ServiceError::Conflict(format!(
                        "release {id} is {}: announce it first, or force the promotion with a reason",
                        release.state.as_str()
                    )))
                }
                Some(g) if !g.open => {
                    let why: Vec<String> = g
                        .conditions
                        .iter()
                        .filter(|c| !c.passed)
                        .map(|c| format!("{}: {}", c.name, c.detail))
                        .collect();
                    return Err(ServiceError::Conflict(format!(
                        "the gate of release {id} is closed: {}",
                        why.join("; ")
                    )));
                }
                Some(_) => {}
            }
        }
        let shas = self.db.release_package_shas(id)?;
        let label = actor.label();
        let now = self.clock.now();
        let older: Vec<Release> = self
            .db
            .element_releases(&release.dist, &release.element)?
            .into_iter()
            .filter(|(rid, v, st)| {
                *rid != id
                    && matches!(st, ReleaseState::Beta | ReleaseState::Rollout | ReleaseState::Promoted)
                    && matches!((semver::Version::parse(v), semver::Version::parse(&release.version)), (Ok(a), Ok(b)) if a < b)
            })
            .map(|(rid, _, _)| self.release(rid))
            .collect::<ServiceResult<_>>()?;
        let all_sites: Vec<_> = self.db.sites()?.into_iter().map(|s| (s, json!({}))).collect();
        // The problems this release fixes close with it: production now carries the fix.
        let mut fixed = Vec::new();
        for pid in &release.fixes {
            if self.problem(*pid).map(|p| p.open).unwrap_or(false) {
                fixed.push(*pid);
            }
        }
        let why = if force {
            format!("forced: {reason}")
        } else if reason.is_empty() {
            "the gate is open".to_string()
        } else {
            reason.to_string()
        };
        let title = format!(
            "{} {} ({}) promoted to production",
            release.element, release.version, release.dist
        );
        let content = format!(
            "Release {} of {} {} is in {}/production{}. Update with `dnf upgrade` ({}).",
            release.id,
            release.element,
            release.version,
            release.dist,
            if force {
                " (forced before the end of its rollout)"
            } else {
                ""
            },
            self.repo_file_url(&release.dist, RepoKind::Production)
        );
        let (advisory, year, seq) = self.new_advisory(&release, now)?;
        // The consistency check runs under the production lock, on the set being published.
        self.publish_with(
            Publication {
                dist: &release.dist,
                repo: RepoKind::Production,
                actor: &label,
                reason: &format!("promotion of release {id} ({} {})", release.element, release.version),
                advisory: Some(&advisory),
            },
            |_| {
                let failures = self.consistency_failures(&release)?;
                if !failures.is_empty() {
                    return Err(ServiceError::Conflict(format!(
                        "release {id} fails the consistency checks{}: {}",
                        if force {
                            " (a forced promotion never passes them)"
                        } else {
                            ""
                        },
                        failures.join("; ")
                    )));
                }
                Ok(SetChange::Add(shas.clone()))
            },
            |tx| {
                Self::record_transition(tx, &release, Transition::Promote, &label, &why, now)?;
                Db::insert_advisory(tx, &advisory, year, seq)?;
                if force {
                    Db::set_forced(tx, id)?;
                }
                for pid in &fixed {
                    let note = format!(
                        "fixed by release {id} ({} {}), promoted to production",
                        release.element, release.version
                    );
                    Db::close_problem(tx, *pid, &note, now)?;
                    Db::audit(
                        tx,
                        now,
                        &label,
                        "problem.close",
                        &format!("problem:{pid}"),
                        &note,
                        Some(id),
                    )?;
                }
                for old in &older {
                    Self::record_transition(
                        tx,
                        old,
                        Transition::Supersede,
                        &label,
                        &format!("{} {} was promoted", release.element, release.version),
                        now,
                    )?;
                }
                let mut promoted = release.clone();
                promoted.state = ReleaseState::Promoted;
                self.notify(
                    tx,
                    &Notice {
                        event: "promote",
                        release: &promoted,
                        title: title.clone(),
                        content: content.clone(),
                    },
                    &all_sites,
                    now,
                )
            },
        )?;
        // The worker sends the queued webhooks and e-mails now rather than at its next deadline.
        self.wake();
        tracing::info!(release = id, forced = force, "release promoted");
        self.release_detail(id)
    }

    /// Takes a release out of beta and tells its rollout sites.
    pub fn reject(&self, actor: &Actor, id: i64, reason: &str) -> ServiceResult<ReleaseDetail> {
        actor.require_admin()?;
        if reason.trim().is_empty() {
            return Err(ServiceError::Invalid("a rejection needs --reason".into()));
        }
        limit(check_len("reason", reason, limits::MAX_REASON))?;
        let release = self.release(id)?;
        Self::check_transition(&release, Transition::Reject)?;
        let shas = self.db.release_package_shas(id)?;
        // Packages another release still in beta also ships stay.
        let mut still_needed = std::collections::HashSet::new();
        for other in self.db.release_ids(Some(&release.dist))? {
            if other != id && self.release(other)?.state.in_beta() {
                still_needed.extend(self.db.release_package_shas(other)?);
            }
        }
        let rollout_sites: Vec<_> = self
            .db
            .release_sites(id)?
            .into_iter()
            .filter_map(|(name, _)| self.db.site_by_name(&name).ok().flatten())
            .map(|s| (s, json!({ "reason": reason })))
            .collect();
        let label = actor.label();
        let now = self.clock.now();
        let title = format!("{} {} ({}) rejected", release.element, release.version, release.dist);
        let content = format!(
            "Release {} of {} {} was taken out of {}/beta: {reason}. Hosts that installed it from beta should return to production's version (`dnf distro-sync`).",
            release.id, release.element, release.version, release.dist
        );
        self.publish_with(
            Publication {
                dist: &release.dist,
                repo: RepoKind::Beta,
                actor: &label,
                reason: &format!("rejection of release {id}"),
                advisory: None,
            },
            |_| {
                Ok(SetChange::Remove(
                    shas.iter().filter(|s| !still_needed.contains(*s)).cloned().collect(),
                ))
            },
            |tx| {
                Self::record_transition(tx, &release, Transition::Reject, &label, reason, now)?;
                let mut rejected = release.clone();
                rejected.state = ReleaseState::Rejected;
                self.notify(
                    tx,
                    &Notice {
                        event: "reject",
                        release: &rejected,
                        title: title.clone(),
                        content: content.clone(),
                    },
                    &rollout_sites,
                    now,
                )
            },
        )?;
        self.wake();
        self.release_detail(id)
    }

    /// The SLA timer's work: promotes every release in rollout whose gate is open (when
    /// `auto_promote` is on); returns the next deadline worth waking up for.
    pub fn run_due(&self) -> ServiceResult<Option<i64>> {
        let mut next: Option<i64> = None;
        for id in self.db.releases_in_state(ReleaseState::Rollout)? {
            let release = self.release(id)?;
            let Some(gate) = self.gate(&release)? else {
                continue;
            };
            if gate.open && self.config.auto_promote {
                match self.promote(&Actor::System, id, false, "") {
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(release = id, error = %e, "automatic promotion failed")
                    }
                }
            } else if let Some(d) = gate.next_deadline {
                next = Some(next.map_or(d, |n: i64| n.min(d)));
            }
        }
        Ok(next)
    }

    /// Wakes the SLA timer to re-evaluate now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
