//! Repository history: revisions, diffs, withdrawal of a release and roll-back to a revision.
//!
//! Both withdrawal and roll-back go through the same consistency checks as a promotion, so
//! production is never left with a broken dependency.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::json;

use super::auth::Actor;
use super::notify::Notice;
use super::publish::Publication;
use super::sets::SetChange;
use super::undo::Undo;
use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, StoredPackage};
use crate::domain::evr::Evr;
use crate::domain::limits;
use crate::domain::release::{Release, ReleaseState, Transition};
use crate::domain::repo::{RepoKind, Revision};

/// What changed between two revisions of a repository.
#[derive(Debug, Serialize)]
pub struct RevisionDiff {
    pub from: i64,
    pub to: i64,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// `name.arch: old -> new`.
    pub upgraded: Vec<String>,
    pub downgraded: Vec<String>,
}

fn nevra(p: &StoredPackage) -> String {
    format!("{}-{}.{}", p.name, Evr::new(p.epoch, &p.version, &p.release), p.arch)
}

/// The newest EVR of each name.arch in a set.
fn newest(set: &[StoredPackage]) -> BTreeMap<(String, String), &StoredPackage> {
    let mut out: BTreeMap<(String, String), &StoredPackage> = BTreeMap::new();
    for p in set {
        let evr = Evr::new(p.epoch, &p.version, &p.release);
        let e = out.entry((p.name.clone(), p.arch.clone())).or_insert(p);
        if evr > Evr::new(e.epoch, &e.version, &e.release) {
            *e = p;
        }
    }
    out
}

impl App {
    /// Revisions of a repository, newest first.
    pub fn repo_history(&self, dist: &str, repo: RepoKind, limit: i64) -> ServiceResult<Vec<Revision>> {
        self.require_dist(dist)?;
        super::limit(limits::check_list_limit(limit))?;
        Ok(self.db.revisions(dist, repo, limit)?)
    }

    fn revision_rows(&self, dist: &str, repo: RepoKind, number: i64) -> ServiceResult<Vec<StoredPackage>> {
        let latest = self.db.latest_revision(dist, repo)?.map_or(0, |r| r.number);
        if number < 1 || number > latest {
            return Err(ServiceError::NotFound(format!(
                "{dist}/{repo} has revisions 1 to {latest}, not {number}"
            )));
        }
        Ok(self.db.revision_package_rows(dist, repo, number)?)
    }

    /// Packages added, removed, upgraded and downgraded from revision `from` to `to`.
    pub fn repo_diff(&self, dist: &str, repo: RepoKind, from: i64, to: i64) -> ServiceResult<RevisionDiff> {
        self.require_dist(dist)?;
        super::limit(limits::check_id("from", from))?;
        super::limit(limits::check_id("to", to))?;
        let a = self.revision_rows(dist, repo, from)?;
        let b = self.revision_rows(dist, repo, to)?;
        let a_shas: HashSet<&str> = a.iter().map(|p| p.sha256.as_str()).collect();
        let b_shas: HashSet<&str> = b.iter().map(|p| p.sha256.as_str()).collect();
        let mut added: Vec<String> = b
            .iter()
            .filter(|p| !a_shas.contains(p.sha256.as_str()))
            .map(nevra)
            .collect();
        let mut removed: Vec<String> = a
            .iter()
            .filter(|p| !b_shas.contains(p.sha256.as_str()))
            .map(nevra)
            .collect();
        added.sort();
        removed.sort();
        let (na, nb) = (newest(&a), newest(&b));
        let (mut upgraded, mut downgraded) = (Vec::new(), Vec::new());
        for (key, old) in &na {
            if let Some(new) = nb.get(key) {
                let (eo, en) = (
                    Evr::new(old.epoch, &old.version, &old.release),
                    Evr::new(new.epoch, &new.version, &new.release),
                );
                let line = format!("{}.{}: {eo} -> {en}", key.0, key.1);
                match en.cmp(&eo) {
                    std::cmp::Ordering::Greater => upgraded.push(line),
                    std::cmp::Ordering::Less => downgraded.push(line),
                    std::cmp::Ordering::Equal => {}
                }
            }
        }
        Ok(RevisionDiff {
            from,
            to,
            added,
            removed,
            upgraded,
            downgraded,
        })
    }

    /// Releases whose packages are all in `set`, by state, for state bookkeeping after a
    /// withdrawal or roll-back.
    fn releases_fully_in(&self, dist: &str, set: &HashSet<String>) -> ServiceResult<Vec<(Release, bool)>> {
        let mut out = Vec::new();
        for id in self.db.release_ids(Some(dist))? {
            let r = self.release(id)?;
            let shas = self.db.release_package_shas(id)?;
            out.push((r, shas.iter().all(|s| set.contains(s))));
        }
        Ok(out)
    }

    /// Republishes production as `new_set` after the consistency checks, and brings release
    /// states in line: promoted releases that lost packages become withdrawn, and for each
    /// element the newest superseded release that is complete again is restored.
    fn replace_production(
        &self,
        actor: &Actor,
        dist: &str,
        reason: &str,
        new_set: Vec<String>,
        event: &str,
        subject: Option<&Release>,
    ) -> ServiceResult<Option<i64>> {
        let set: HashSet<String> = new_set.iter().cloned().collect();
        let releases = self.releases_fully_in(dist, &set)?;
        let label = actor.label();
        let now = self.clock.now();
        let mut withdrawn = Vec::new();
        let mut restored: BTreeMap<String, Release> = BTreeMap::new();
        for (r, complete) in &releases {
            if r.state == ReleaseState::Promoted && !complete {
                withdrawn.push(r.clone());
            }
        }
        let withdrawn_elements: HashSet<&str> = withdrawn.iter().map(|r| r.element.as_str()).collect();
        for (r, complete) in &releases {
            if r.state == ReleaseState::Superseded && *complete && withdrawn_elements.contains(r.element.as_str()) {
                let newer = restored
                    .get(&r.element)
                    .is_some_and(|o| semver::Version::parse(&o.version).ok() > semver::Version::parse(&r.version).ok());
                if !newer {
                    restored.insert(r.element.clone(), r.clone());
                }
            }
        }
        let mut names_of = std::collections::HashMap::new();
        for r in &withdrawn {
            let shas = self.db.release_package_shas(r.id)?;
            let mut names: Vec<String> = self.db.packages_by_sha(&shas)?.into_iter().map(|p| p.name).collect();
            names.sort();
            names.dedup();
            names_of.insert(r.id, names);
        }
        let all_sites: Vec<_> = self
            .db
            .sites()?
            .into_iter()
            .map(|s| (s, json!({ "reason": reason })))
            .collect();
        let (_, outcome) = self.publish_with(
            Publication { dist, repo: RepoKind::Production, actor: &label, reason, advisory: None },
            |_| {
                let failures = self.closure_failures(dist, &new_set, None)?;
                if !failures.is_empty() {
                    return Err(ServiceError::Conflict(format!("refused: production would break: {}", failures.join("; "))));
                }
                Ok(SetChange::Whole(new_set.clone()))
            },
            |tx| {
                for r in &withdrawn {
                    Self::record_transition(tx, r, Transition::Withdraw, &label, reason, now)?;
                    let previous = restored
                        .get(&r.element)
                        .map(|p| format!(" The previous version, {} {}, is the newest again.", p.element, p.version))
                        .unwrap_or_default();
                    let names = names_of.get(&r.id).map(|n| n.join(" ")).unwrap_or_default();
                    let content = format!(
                        "Release {} of {} {} was withdrawn from {dist}/production: {reason}.{previous} \
                         Return hosts to the previous version with `dnf distro-sync {names}` (or `dnf downgrade {names}`).",
                        r.id, r.element, r.version
                    );
                    let mut w = r.clone();
                    w.state = ReleaseState::Withdrawn;
                    self.notify(tx, &Notice { event, release: &w, title: format!("{} {} ({dist}) withdrawn", r.element, r.version), content }, &all_sites, now)?;
                }
                for r in restored.values() {
                    Self::record_transition(tx, r, Transition::Restore, &label, &format!("newest again after: {reason}"), now)?;
                }
                if let Some(s) = subject {
                    if !withdrawn.iter().any(|w| w.id == s.id) {
                        Db::audit(tx, now, &label, event, &format!("release:{}", s.id), reason, Some(s.id))?;
                    }
                }
                Ok(())
            },
        )?;
        self.wake();
        Ok(outcome.revision)
    }

    /// Takes a promoted release out of production; refused if anything left needs it. With
    /// `dry_run`, only says what would leave production.
    pub fn withdraw(&self, actor: &Actor, id: i64, reason: &str, dry_run: bool) -> ServiceResult<Undo> {
        actor.require_admin()?;
        if reason.trim().is_empty() {
            return Err(ServiceError::Invalid("a withdrawal needs --reason".into()));
        }
        super::limit(limits::check_len("reason", reason, limits::MAX_REASON))?;
        let release = self.release(id)?;
        Self::check_transition(&release, Transition::Withdraw)?;
        let shas: HashSet<String> = self.db.release_package_shas(id)?.into_iter().collect();
        // Packages another promoted release also ships stay.
        let mut keep = HashSet::new();
        for other in self.db.releases_in_state(ReleaseState::Promoted)? {
            if other != id {
                keep.extend(self.db.release_package_shas(other)?);
            }
        }
        let current = self.production_set(&release.dist)?;
        let new_set: Vec<String> = current
            .into_iter()
            .filter(|s| !shas.contains(s) || keep.contains(s))
            .collect();
        let leaving = self.leaving(&release.dist, &new_set)?;
        let dist = release.dist.clone();
        if dry_run {
            return Ok(Undo {
                dry_run,
                dist,
                revision: None,
                leaving,
                release: Some(release),
            });
        }
        let why = format!("withdrawal of release {id}: {reason}");
        let revision = self.replace_production(actor, &dist, &why, new_set, "withdraw", Some(&release))?;
        tracing::info!(release = id, leaving = %leaving.describe(), "release withdrawn");
        Ok(Undo {
            dry_run,
            dist,
            revision,
            leaving,
            release: Some(self.release(id)?),
        })
    }

    /// Republishes production revision `to` as a new revision, after the same checks; one
    /// that removes a security advisory needs `force`. With `dry_run`, only says what would
    /// leave production.
    pub fn rollback(
        &self,
        actor: &Actor,
        dist: &str,
        to: i64,
        reason: &str,
        force: bool,
        dry_run: bool,
    ) -> ServiceResult<Undo> {
        actor.require_admin()?;
        self.require_dist(dist)?;
        if reason.trim().is_empty() {
            return Err(ServiceError::Invalid("a roll-back needs --reason".into()));
        }
        super::limit(limits::check_len("reason", reason, limits::MAX_REASON))?;
        super::limit(limits::check_id("to", to))?;
        let set: Vec<String> = self
            .revision_rows(dist, RepoKind::Production, to)?
            .into_iter()
            .map(|p| p.sha256)
            .collect();
        let leaving = self.leaving(dist, &set)?;
        if dry_run {
            return Ok(Undo {
                dry_run,
                dist: dist.into(),
                revision: None,
                leaving,
                release: None,
            });
        }
        Self::check_security_leaving(&leaving, force)?;
        let why = format!("roll-back to revision {to}: {reason}");
        let revision = self.replace_production(actor, dist, &why, set, "withdraw", None)?;
        let now = self.clock.now();
        let detail = format!("{why} (leaving production: {})", leaving.describe());
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "repo.rollback",
                &format!("repo:{dist}/production"),
                &detail,
                None,
            )
        })?;
        Ok(Undo {
            dry_run,
            dist: dist.into(),
            revision,
            leaving,
            release: None,
        })
    }

    /// The current production package set (sha256 sums).
    pub fn production_set(&self, dist: &str) -> ServiceResult<Vec<String>> {
        let n = self
            .db
            .latest_revision(dist, RepoKind::Production)?
            .map_or(0, |r| r.number);
        Ok(self.db.revision_packages(dist, RepoKind::Production, n)?)
    }
}
