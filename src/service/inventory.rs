//! Who deploys what: hosts' deployment reports, the inventory per element, and SLA metrics.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::auth::Actor;
use super::{App, ServiceError, ServiceResult};
use crate::db::{DeploymentReport, HostPackageRow, ReleaseRow};
use crate::domain::inventory::{check_host, parse_entries, resolve, InstalledPackage, ReleasePackages, Resolution};
use crate::domain::problem::Criticality;
use crate::domain::release::ReleaseState;
use crate::domain::rollout::Deployment;
use crate::domain::sla::{summarize, SiteSla, SlaAssignment};

/// Most packages one report may list.
pub const MAX_PACKAGES: usize = crate::domain::limits::MAX_DEPLOYMENT_PACKAGES;

/// Body of `POST /api/v1/deployments`: what one host of the calling site runs now.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRequest {
    pub host: String,
    /// `name-epoch:version-release.arch` (the epoch may be left out when 0).
    pub packages: Vec<String>,
}

/// The release of one element a host runs.
#[derive(Debug, Clone, Serialize)]
pub struct HostRun {
    pub element: String,
    pub release: Option<i64>,
    pub version: Option<String>,
    pub dist: Option<String>,
    pub state: Option<ReleaseState>,
    /// False when the host has a mix of releases' packages (`release` is the closest).
    pub exact: bool,
    /// The element's packages the host has.
    pub packages: Vec<String>,
}

/// What a deployment report recorded.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentRecorded {
    pub id: i64,
    pub site: String,
    pub host: String,
    pub at: i64,
    pub packages: usize,
    /// The elements' releases the host runs, by element.
    pub runs: Vec<HostRun>,
}

/// Filters of the inventory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryFilter {
    pub element: Option<String>,
    pub site: Option<String>,
    pub dist: Option<String>,
}

/// One host of a site running an element.
#[derive(Debug, Clone, Serialize)]
pub struct HostEntry {
    pub host: String,
    pub reported_at: i64,
    #[serde(flatten)]
    pub run: HostRun,
}

/// How many hosts of a site run one release.
#[derive(Debug, Clone, Serialize)]
pub struct SiteRelease {
    pub release: Option<i64>,
    pub version: Option<String>,
    pub hosts: usize,
}

/// The hosts of one site running an element.
#[derive(Debug, Clone, Serialize)]
pub struct SiteInventory {
    pub site: String,
    /// Which releases the site runs, newest first, with host counts.
    pub releases: Vec<SiteRelease>,
    pub hosts: Vec<HostEntry>,
}

/// One release with the hosts that run it.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseCount {
    pub release: i64,
    pub dist: String,
    pub version: String,
    pub state: ReleaseState,
    pub hosts: usize,
    pub sites: Vec<String>,
    /// Why sites running it must be told, when they must.
    pub warning: Option<String>,
}

/// A host running a release its site must be told about.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub site: String,
    pub host: String,
    pub release: i64,
    pub version: String,
    pub reason: String,
}

/// The inventory of one element.
#[derive(Debug, Clone, Serialize)]
pub struct ElementInventory {
    pub element: String,
    pub releases: Vec<ReleaseCount>,
    pub sites: Vec<SiteInventory>,
    pub alerts: Vec<Alert>,
}

/// The answer of `GET /api/v1/inventory`.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub generated_at: i64,
    /// Hosts whose newest report is counted (all sites, before the filters).
    pub hosts_reporting: usize,
    pub elements: Vec<ElementInventory>,
}

/// The answer of `GET /api/v1/sla`.
#[derive(Debug, Clone, Serialize)]
pub struct SlaReport {
    pub since: i64,
    pub now: i64,
    pub sites: Vec<SiteSla>,
}

/// Releases grouped for mapping hosts' packages to them.
pub(super) struct Mapper {
    by_element: HashMap<String, Vec<ReleasePackages>>,
    rows: HashMap<i64, ReleaseRow>,
}

impl Mapper {
    fn run(&self, element: &str, mut packages: Vec<InstalledPackage>) -> HostRun {
        packages.sort();
        let Resolution { release, exact } = self.by_element.get(element).map_or(
            Resolution {
                release: None,
                exact: false,
            },
            |r| resolve(&packages, r),
        );
        let row = release.and_then(|id| self.rows.get(&id));
        HostRun {
            element: element.to_string(),
            release,
            version: row.map(|r| r.version.clone()),
            dist: row.map(|r| r.dist.clone()),
            state: row.map(|r| r.state),
            exact,
            packages: packages.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Groups rows by report, then by element: report id -> (site, host, at, element -> packages).
type Grouped = BTreeMap<i64, (String, String, i64, BTreeMap<String, Vec<InstalledPackage>>)>;

fn group(rows: Vec<HostPackageRow>) -> Grouped {
    let mut out: Grouped = BTreeMap::new();
    for r in rows {
        out.entry(r.report)
            .or_insert_with(|| (r.site, r.host, r.at, BTreeMap::new()))
            .3
            .entry(r.element)
            .or_default()
            .push(r.package);
    }
    out
}

impl App {
    /// The first host of a site seen running `release` (exact NEVRAs) in its reports between
    /// `from` and `to`.
    pub(super) fn first_deployment(
        &self,
        mapper: &Mapper,
        site_id: i64,
        element: &str,
        release: i64,
        from: i64,
        to: i64,
    ) -> ServiceResult<Option<Deployment>> {
        let reports = self.db.site_element_packages_between(site_id, element, from, to)?;
        Ok(group(reports).into_values().find_map(|(_, host, at, mut elements)| {
            let pkgs = elements.remove(element)?;
            let run = mapper.run(element, pkgs);
            (run.exact && run.release == Some(release)).then_some(Deployment { host, at })
        }))
    }

    pub(super) fn mapper(&self) -> ServiceResult<Mapper> {
        let mut by_element: HashMap<String, Vec<ReleasePackages>> = HashMap::new();
        let mut rows = HashMap::new();
        for r in self.db.release_rows()? {
            by_element.entry(r.element.clone()).or_default().push(ReleasePackages {
                id: r.id,
                packages: r.packages.clone(),
            });
            rows.insert(r.id, r);
        }
        Ok(Mapper { by_element, rows })
    }

    /// Records what one host of the calling site runs; every bad entry is named in the refusal.
    pub fn record_deployment(&self, actor: &Actor, req: &DeploymentRequest) -> ServiceResult<DeploymentRecorded> {
        let (site_id, site) = actor.require_site()?;
        check_host(&req.host).map_err(ServiceError::Invalid)?;
        if req.packages.len() > MAX_PACKAGES {
            return Err(ServiceError::Invalid(format!(
                "packages has {} entries in one report; the limit is {MAX_PACKAGES} per host",
                req.packages.len()
            )));
        }
        for p in &req.packages {
            super::limit(crate::domain::limits::check_len(
                "packages entry",
                p,
                crate::domain::limits::MAX_PACKAGE_ENTRY,
            ))?;
        }
        let packages = parse_entries(&req.packages).map_err(|bad| {
            let list: Vec<String> = bad.iter().map(ToString::to_string).collect();
            ServiceError::Invalid(format!(
                "bad entries: {}; expected name-epoch:version-release.arch",
                list.join(", ")
            ))
        })?;
        let now = self.clock.now();
        let id = self.db.insert_deployment(site_id, &req.host, now, &packages)?;
        let bound: HashMap<String, String> = self
            .db
            .elements(None)?
            .into_iter()
            .flat_map(|e| e.packages.into_iter().map(move |p| (p, e.name.clone())))
            .collect();
        let mapper = self.mapper()?;
        let runs = crate::domain::inventory::by_element(&packages, &bound)
            .into_iter()
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .map(|(element, pkgs)| mapper.run(&element, pkgs))
            .collect();
        tracing::info!(site, host = %req.host, packages = packages.len(), "deployment report");
        // A deployment is evidence for the gate: let the timer look again now.
        self.wake();
        Ok(DeploymentRecorded {
            id,
            site: site.to_string(),
            host: req.host.clone(),
            at: now,
            packages: packages.len(),
            runs,
        })
    }

    /// Deployment reports, newest first: the admin sees all, a site its own.
    pub fn deployment_history(
        &self,
        actor: &Actor,
        site: Option<&str>,
        host: Option<&str>,
        limit: i64,
    ) -> ServiceResult<Vec<DeploymentReport>> {
        let site = match actor {
            Actor::Admin => site,
            Actor::Site { name, .. } => {
                if site.is_some_and(|s| s != name) {
                    return Err(ServiceError::Forbidden(format!(
                        "site {name} may only read its own deployment reports"
                    )));
                }
                Some(name.as_str())
            }
            other => {
                return Err(ServiceError::Forbidden(format!(
                    "{} may not read deployment reports: admin or site token required",
                    other.label()
                )))
            }
        };
        super::limit(crate::domain::limits::check_list_limit(limit))?;
        Ok(self.db.deployment_history(site, host, limit)?)
    }

    /// Which release of each element every host runs (newest report per host), with counts and
    /// the hosts that run a withdrawn or rejected release or one with an open critical problem.
    pub fn inventory(&self, filter: &InventoryFilter) -> ServiceResult<Inventory> {
        if let Some(d) = &filter.dist {
            self.require_dist(d)?;
        }
        if let Some(e) = &filter.element {
            self.element_header(e)?;
        }
        if let Some(s) = &filter.site {
            self.db
                .site_by_name(s)?
                .ok_or_else(|| ServiceError::NotFound(format!("no site named {s}")))?;
        }
        let hosts_reporting = self.db.current_deployments()?.len();
        let mapper = self.mapper()?;
        let mut critical: HashMap<i64, Vec<i64>> = HashMap::new();
        for p in self.db.problems(None, true)? {
            if p.criticality == Some(Criticality::Critical) {
                critical.entry(p.release).or_default().push(p.id);
            }
        }
        let warning = |row: &ReleaseRow| -> Option<String> {
            let mut why = Vec::new();
            if matches!(row.state, ReleaseState::Withdrawn | ReleaseState::Rejected) {
                why.push(row.state.as_str().to_string());
            }
            if let Some(ids) = critical.get(&row.id) {
                let ids: Vec<String> = ids.iter().rev().map(|i| i.to_string()).collect();
                why.push(format!("open critical problem {}", ids.join(", ")));
            }
            (!why.is_empty()).then(|| why.join("; "))
        };
        // element -> site -> hosts
        let mut tree: BTreeMap<String, BTreeMap<String, Vec<HostEntry>>> = BTreeMap::new();
        for (_, (site, host, at, elements)) in group(self.db.current_element_packages()?) {
            for (element, pkgs) in elements {
                let run = mapper.run(&element, pkgs);
                let keep = filter.element.as_ref().is_none_or(|e| *e == element)
                    && filter.site.as_ref().is_none_or(|s| *s == site)
                    && filter.dist.as_ref().is_none_or(|d| run.dist.as_ref() == Some(d));
                if keep {
                    tree.entry(element)
                        .or_default()
                        .entry(site.clone())
                        .or_default()
                        .push(HostEntry {
                            host: host.clone(),
                            reported_at: at,
                            run,
                        });
                }
            }
        }
        let mut elements = Vec::new();
        for (element, sites) in tree {
            let mut counts: BTreeMap<i64, (usize, BTreeSet<String>)> = BTreeMap::new();
            let mut alerts = Vec::new();
            let mut site_list = Vec::new();
            for (site, mut hosts) in sites {
                hosts.sort_by(|a, b| a.host.cmp(&b.host));
                let mut per_release: BTreeMap<Option<i64>, (Option<String>, usize)> = BTreeMap::new();
                for h in &hosts {
                    let e = per_release.entry(h.run.release).or_insert((h.run.version.clone(), 0));
                    e.1 += 1;
                    let Some(id) = h.run.release else { continue };
                    let c = counts.entry(id).or_default();
                    c.0 += 1;
                    c.1.insert(site.clone());
                    if let Some(reason) = mapper.rows.get(&id).and_then(&warning) {
                        alerts.push(Alert {
                            site: site.clone(),
                            host: h.host.clone(),
                            release: id,
                            version: h.run.version.clone().unwrap_or_default(),
                            reason,
                        });
                    }
                }
                site_list.push(SiteInventory {
                    site,
                    releases: per_release
                        .into_iter()
                        .rev()
                        .map(|(release, (version, hosts))| SiteRelease {
                            release,
                            version,
                            hosts,
                        })
                        .collect(),
                    hosts,
                });
            }
            let releases = counts
                .into_iter()
                .rev()
                .filter_map(|(id, (hosts, sites))| {
                    let row = mapper.rows.get(&id)?;
                    Some(ReleaseCount {
                        release: id,
                        dist: row.dist.clone(),
                        version: row.version.clone(),
                        state: row.state,
                        hosts,
                        sites: sites.into_iter().collect(),
                        warning: warning(row),
                    })
                })
                .collect();
            elements.push(ElementInventory {
                element,
                releases,
                sites: site_list,
                alerts,
            });
        }
        Ok(Inventory {
            generated_at: self.clock.now(),
            hosts_reporting,
            elements,
        })
    }

    /// SLA metrics of every rollout site (or one) over releases announced in the last
    /// `since_seconds`.
    pub fn sla(&self, since_seconds: i64, site: Option<&str>) -> ServiceResult<SlaReport> {
        if since_seconds <= 0 {
            return Err(ServiceError::Invalid("the period must be longer than 0s".into()));
        }
        if let Some(s) = site {
            self.db
                .site_by_name(s)?
                .ok_or_else(|| ServiceError::NotFound(format!("no site named {s}")))?;
        }
        let now = self.clock.now();
        let since = now - since_seconds;
        let mapper = self.mapper()?;
        let mut per_site: BTreeMap<String, Vec<SlaAssignment>> = BTreeMap::new();
        for name in self.db.rollout_site_names()? {
            if site.is_none_or(|s| s == name) {
                per_site.insert(name, Vec::new());
            }
        }
        for row in self.db.sla_rows(since, site)? {
            let deadline = row
                .announced_at
                .saturating_add(row.grace_seconds)
                .saturating_add(row.sla_seconds);
            let first_deployed_at = self
                .first_deployment(
                    &mapper,
                    row.site_id,
                    &row.element,
                    row.release,
                    row.created_at,
                    deadline,
                )?
                .map(|d| d.at);
            per_site.entry(row.site.clone()).or_default().push(SlaAssignment {
                release: row.release,
                announced_at: row.announced_at,
                sla_seconds: row.sla_seconds,
                grace_seconds: row.grace_seconds,
                declined_at: row.declined_at,
                left_rollout_at: row.left_rollout_at,
                first_report_at: row.first_report_at,
                first_deployed_at,
            });
        }
        Ok(SlaReport {
            since,
            now,
            sites: per_site
                .into_iter()
                .map(|(name, list)| summarize(&name, &list, now))
                .collect(),
        })
    }
}
