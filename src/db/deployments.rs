//! Deployment reports: what each host of a site runs, with history.

use super::sql::{params, Row};
use serde::Serialize;

use super::{Db, DbError, DbResult};
use crate::domain::inventory::InstalledPackage;
use crate::domain::release::ReleaseState;

/// One host's report as listed (without its packages).
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentReport {
    pub id: i64,
    pub site: String,
    pub host: String,
    pub at: i64,
    /// How many packages the host reported.
    pub packages: i64,
}

/// One reported package bound to an element, with the report it came from.
#[derive(Debug, Clone)]
pub struct HostPackageRow {
    pub report: i64,
    pub site: String,
    pub host: String,
    pub at: i64,
    pub element: String,
    pub package: InstalledPackage,
}

/// A release with its packages' identities, for mapping hosts to releases.
#[derive(Debug, Clone)]
pub struct ReleaseRow {
    pub id: i64,
    pub dist: String,
    pub element: String,
    pub version: String,
    pub state: ReleaseState,
    pub packages: Vec<InstalledPackage>,
}

fn report_row(r: &Row<'_>) -> DbResult<DeploymentReport> {
    Ok(DeploymentReport {
        id: r.get(0)?,
        site: r.get(1)?,
        host: r.get(2)?,
        at: r.get(3)?,
        packages: r.get(4)?,
    })
}

fn host_package_row(r: &Row<'_>) -> DbResult<HostPackageRow> {
    Ok(HostPackageRow {
        report: r.get(0)?,
        site: r.get(1)?,
        host: r.get(2)?,
        at: r.get(3)?,
        element: r.get(4)?,
        package: InstalledPackage {
            name: r.get(5)?,
            epoch: r.get::<_, i64>(6)? as u64,
            version: r.get(7)?,
            release: r.get(8)?,
            arch: r.get(9)?,
        },
    })
}

/// Reports, packages bound to elements, and their elements; callers add a WHERE clause.
const HOST_PACKAGES: &str =
    "SELECT dr.id, s.name, dr.host, dr.at, e.name, dp.name, dp.epoch, dp.version, dp.release, dp.arch
     FROM deployment_reports dr JOIN sites s ON s.id = dr.site_id
     JOIN deployment_packages dp ON dp.report_id = dr.id
     JOIN element_packages ep ON ep.name = dp.name
     JOIN elements e ON e.id = ep.element_id";

impl Db {
    /// Records what a host of a site runs now; returns the report's id.
    pub fn insert_deployment(&self, site_id: i64, host: &str, at: i64, packages: &[InstalledPackage]) -> DbResult<i64> {
        self.write(|tx| {
            let id: i64 = tx.query_row(
                "INSERT INTO deployment_reports (site_id, host, at, package_count) VALUES (?1, ?2, ?3, ?4)
                 RETURNING id",
                params![site_id, host, at, packages.len() as i64],
                |r| r.get(0),
            )?;
            let mut stmt = tx.prepare_cached(
                "INSERT INTO deployment_packages (report_id, name, epoch, version, release, arch)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?;
            for p in packages {
                stmt.execute(params![id, p.name, p.epoch as i64, p.version, p.release, p.arch])?;
            }
            Ok(id)
        })
    }

    /// Reports, newest first, optionally of one site and/or host.
    pub fn deployment_history(
        &self,
        site: Option<&str>,
        host: Option<&str>,
        limit: i64,
    ) -> DbResult<Vec<DeploymentReport>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT dr.id, s.name, dr.host, dr.at, dr.package_count FROM deployment_reports dr
             JOIN sites s ON s.id = dr.site_id
             WHERE (CAST(?1 AS TEXT) IS NULL OR s.name = ?1) AND (CAST(?2 AS TEXT) IS NULL OR dr.host = ?2)
             ORDER BY dr.id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![site, host, limit], report_row)?;
        rows.collect::<Result<_, _>>()
    }

    /// The newest report of every host, by site and host.
    pub fn current_deployments(&self) -> DbResult<Vec<DeploymentReport>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT dr.id, s.name, dr.host, dr.at, dr.package_count FROM deployment_reports dr
             JOIN sites s ON s.id = dr.site_id
             WHERE dr.id IN (SELECT MAX(id) FROM deployment_reports GROUP BY site_id, host)
             ORDER BY s.name, dr.host",
        )?;
        let rows = stmt.query_map((), report_row)?;
        rows.collect::<Result<_, _>>()
    }

    /// The packages bound to elements in the newest report of every host.
    pub fn current_element_packages(&self) -> DbResult<Vec<HostPackageRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "{HOST_PACKAGES} WHERE dr.id IN (SELECT MAX(id) FROM deployment_reports GROUP BY site_id, host)"
        ))?;
        let rows = stmt.query_map((), host_package_row)?;
        rows.collect::<Result<_, _>>()
    }

    /// The packages of `element` in the reports a site sent between `from` and `to` (inclusive).
    pub fn site_element_packages_between(
        &self,
        site_id: i64,
        element: &str,
        from: i64,
        to: i64,
    ) -> DbResult<Vec<HostPackageRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "{HOST_PACKAGES} WHERE dr.site_id = ?1 AND e.name = ?2 AND dr.at >= ?3 AND dr.at <= ?4 ORDER BY dr.at, dr.id"
        ))?;
        let rows = stmt.query_map(params![site_id, element, from, to], host_package_row)?;
        rows.collect::<Result<_, _>>()
    }

    /// Every release with its packages' identities, oldest first.
    pub fn release_rows(&self) -> DbResult<Vec<ReleaseRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT r.id, r.dist, r.element, r.version, r.state, p.name, p.epoch, p.version, p.release, p.arch
             FROM releases r JOIN release_packages rp ON rp.release_id = r.id
             JOIN packages p ON p.sha256 = rp.sha256 ORDER BY r.id",
        )?;
        let rows = stmt.query_map((), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                InstalledPackage {
                    name: r.get(5)?,
                    epoch: r.get::<_, i64>(6)? as u64,
                    version: r.get(7)?,
                    release: r.get(8)?,
                    arch: r.get(9)?,
                },
            ))
        })?;
        let mut out: Vec<ReleaseRow> = Vec::new();
        for row in rows {
            let (id, dist, element, version, state, package) = row?;
            match out.last_mut() {
                Some(last) if last.id == id => last.packages.push(package),
                _ => out.push(ReleaseRow {
                    id,
                    dist,
                    element,
                    version,
                    state: ReleaseState::parse(&state)
                        .ok_or_else(|| DbError::Corrupt(format!("release state {state}")))?,
                    packages: vec![package],
                }),
            }
        }
        Ok(out)
    }
}
