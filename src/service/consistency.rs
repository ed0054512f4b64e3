//! The consistency checks that guard production: dependency closure of production (plus a
//! release) against itself and the distribution's base repositories, and conflicts/obsoletes
//! between elements. Base repositories are imported once and kept indexed in memory, so a
//! check never refetches or rescans them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::auth::Actor;
use super::closure_cache::SetSource;
use super::{App, ServiceError, ServiceResult};
use crate::base::BaseRepo;
use crate::db::{BaseInfo, Db};
use crate::domain::closure::{check_conflicts_owned_by, DepPackage, ProviderIndex, Unmet};

/// A base repository's name and index.
type NamedIndex = (String, Arc<ProviderIndex>);

/// Base repositories of every distribution, indexed, and the dependency data of packages.
#[derive(Default)]
pub struct ClosureState {
    bases: RwLock<HashMap<String, Vec<NamedIndex>>>,
    deps: RwLock<HashMap<String, Arc<DepPackage>>>,
    snapshots: super::closure_cache::Snapshots,
}

impl ClosureState {
    /// The base repositories of `dist`, indexed.
    pub(super) fn bases_of(&self, dist: &str) -> Vec<NamedIndex> {
        self.bases
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(dist)
            .cloned()
            .unwrap_or_default()
    }

    /// The package sets checked last.
    pub(super) fn snapshots(&self) -> &super::closure_cache::Snapshots {
        &self.snapshots
    }
}

/// The verdict of `stagerepo admin check`.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub dist: String,
    pub release: Option<i64>,
    pub packages: usize,
    pub bases: Vec<String>,
    pub ok: bool,
    pub failures: Vec<String>,
    pub millis: f64,
}

impl App {
    fn base_dir(&self, dist: &str) -> std::path::PathBuf {
        self.config.data_dir.join("base").join(dist)
    }

    /// Loads every saved base repository into memory (at start).
    pub(super) fn load_bases(&self) -> ServiceResult<()> {
        for dist in self.config.dist.keys() {
            let dir = self.base_dir(dist);
            let names = if dir.exists() {
                BaseRepo::list(&dir).map_err(internal)?
            } else {
                Vec::new()
            };
            let mut loaded = Vec::new();
            for name in names {
                let repo = BaseRepo::load(&dir, &name).map_err(internal)?;
                loaded.push((name, Arc::new(repo.into_index())));
            }
            self.closure
                .bases
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(dist.clone(), loaded);
        }
        Ok(())
    }

    /// Imports (or re-imports) a base repository for a distribution.
    pub fn add_base(&self, actor: &Actor, dist: &str, name: &str, source: &str) -> ServiceResult<BaseInfo> {
        actor.require_admin()?;
        self.require_dist(dist)?;
        super::limit(crate::domain::limits::check_len(
            "source",
            source,
            crate::domain::limits::MAX_REFERENCE,
        ))?;
        let now = self.clock.now();
        let repo = BaseRepo::import(name, source, now).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let dir = self.base_dir(dist);
        std::fs::create_dir_all(&dir)?;
        repo.save(&dir).map_err(internal)?;
        let info = BaseInfo {
            dist: dist.into(),
            name: name.into(),
            source: source.into(),
            imported_at: now,
            packages: repo.packages.len(),
        };
        self.db.write(|tx| {
            Db::upsert_base_repo(tx, &info)?;
            Db::audit(
                tx,
                now,
                &actor.label(),
                "base.import",
                &format!("base:{dist}/{name}"),
                source,
                None,
            )
        })?;
        let index = Arc::new(repo.into_index());
        let mut bases = self.closure.bases.write().unwrap_or_else(|p| p.into_inner());
        let list = bases.entry(dist.to_string()).or_default();
        list.retain(|(n, _)| n != name);
        list.push((name.to_string(), index));
        Ok(info)
    }

    /// Re-imports a base from the source it was added from.
    pub fn refresh_base(&self, actor: &Actor, dist: &str, name: &str) -> ServiceResult<BaseInfo> {
        let source = self
            .bases(dist)?
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| ServiceError::NotFound(format!("no base repository {name} in {dist}")))?
            .source;
        self.add_base(actor, dist, name, &source)
    }

    /// Removes a base repository.
    pub fn remove_base(&self, actor: &Actor, dist: &str, name: &str) -> ServiceResult<()> {
        actor.require_admin()?;
        self.require_dist(dist)?;
        if !BaseRepo::remove(&self.base_dir(dist), name).map_err(internal)? {
            return Err(ServiceError::NotFound(format!("no base repository {name} in {dist}")));
        }
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::delete_base_repo(tx, dist, name)?;
            Db::audit(
                tx,
                now,
                &actor.label(),
                "base.remove",
                &format!("base:{dist}/{name}"),
                "",
                None,
            )
        })?;
        if let Some(list) = self
            .closure
            .bases
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(dist)
        {
            list.retain(|(n, _)| n != name);
        }
        Ok(())
    }

    /// Base repositories of a distribution.
    pub fn bases(&self, dist: &str) -> ServiceResult<Vec<BaseInfo>> {
        self.require_dist(dist)?;
        Ok(self.db.base_repos(dist)?)
    }

    /// The dependency data of a stored package, cached.
    pub(super) fn dep_package(&self, sha: &str) -> ServiceResult<Arc<DepPackage>> {
        if let Some(d) = self.closure.deps.read().unwrap_or_else(|p| p.into_inner()).get(sha) {
            return Ok(d.clone());
        }
        let dep = Arc::new(DepPackage::from(&self.db.package_meta(sha)?));
        self.closure
            .deps
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sha.to_string(), dep.clone());
        Ok(dep)
    }

    /// Why `set` (sha256 sums) would not be a consistent production for `dist`;
    /// empty when it would. With `new` (the element being promoted and its packages),
    /// conflicts and obsoletes against other elements' packages are checked too.
    pub fn closure_failures(
        &self,
        dist: &str,
        set: &[String],
        new: Option<(&str, &[String])>,
    ) -> ServiceResult<Vec<String>> {
        self.closure_failures_from(dist, set, None, new)
    }

    /// [`App::closure_failures`] of a set whose source is known (see [`SetSource`]).
    pub(super) fn closure_failures_from(
        &self,
        dist: &str,
        set: &[String],
        source: Option<&SetSource>,
        new: Option<(&str, &[String])>,
    ) -> ServiceResult<Vec<String>> {
        let mut names: Vec<&str> = set.iter().map(String::as_str).collect();
        // Sorted input (the usual case) costs one pass.
        names.sort_unstable();
        names.dedup();
        let Some((element, new_shas)) = new else {
            let unmet = self.closure_unmet(dist, &names)?;
            return Ok(unmet.iter().map(|u| u.to_string()).collect());
        };
        let new_pkgs: Vec<Arc<DepPackage>> = new_shas
            .iter()
            .map(|s| self.dep_package(s))
            .collect::<ServiceResult<_>>()?;
        let new_refs: Vec<&DepPackage> = new_pkgs.iter().map(|p| p.as_ref()).collect();
        let (unmet, candidates) = self.newest_unmet_and_conflict_candidates(dist, &names, source, &new_refs)?;
        let mut failures: Vec<String> = unmet.iter().map(|u| u.to_string()).collect();
        let existing: Vec<&DepPackage> = candidates.iter().map(|p| p.as_ref()).collect();
        // Owners are asked for only where a conflict or obsolete shows up.
        let mut lookup_failed = None;
        let mut owner_of = |i: usize| match self.db.package_owner(&existing[i].name) {
            Ok(owner) => owner.map(|(e, _)| e).unwrap_or_default(),
            Err(e) => {
                lookup_failed = Some(e);
                String::new()
            }
        };
        let problems = check_conflicts_owned_by(&new_refs, &existing, &mut owner_of, element);
        if let Some(e) = lookup_failed {
            return Err(e.into());
        }
        failures.extend(problems);
        Ok(failures)
    }

    /// The unmet requirements of the newest set of `set` (sha256 sums, sorted and unique)
    /// against the bases of `dist`, each lost provider's replacement named with its release.
    pub(super) fn closure_unmet(&self, dist: &str, set: &[&str]) -> ServiceResult<Vec<Unmet>> {
        self.newest_unmet(dist, set, &|_| true)
    }

    /// `stagerepo admin check`: the closure of production, optionally plus a release.
    pub fn check(&self, dist: &str, release: Option<i64>) -> ServiceResult<CheckReport> {
        self.require_dist(dist)?;
        let started = std::time::Instant::now();
        let mut set = self.production_set(dist)?;
        let mut failures = Vec::new();
        match release {
            Some(id) => {
                let r = self.release(id)?;
                if r.dist != dist {
                    return Err(ServiceError::Invalid(format!(
                        "release {id} belongs to {}, not {dist}",
                        r.dist
                    )));
                }
                failures = self.consistency_failures(&r)?;
                set.extend(self.db.release_package_shas(id)?);
                set.sort();
                set.dedup();
            }
            None => failures.extend(self.closure_failures(dist, &set, None)?),
        }
        let bases = self.bases(dist)?.into_iter().map(|b| b.name).collect();
        Ok(CheckReport {
            dist: dist.into(),
            release,
            packages: set.len(),
            bases,
            ok: failures.is_empty(),
            failures,
            millis: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

/// The highest EVR of each (name, architecture).
fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(e.to_string())
}
