//! Elements (products), the package names bound to them, and their rollout sites.

use super::sql::{params, OptionalExtension, Tx};
use serde::Serialize;

use super::{Db, DbResult};

/// An element as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Element {
    pub id: i64,
    pub name: String,
    pub team: String,
    pub team_id: i64,
    pub description: String,
    pub created_at: i64,
    /// Package names bound to it.
    pub packages: Vec<String>,
}

/// A rollout assignment as listed.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutAssignment {
    pub element: String,
    pub site: String,
    pub sla_seconds: i64,
    /// The SLA this assignment had before it was re-added (set by `add_rollout` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_sla_seconds: Option<i64>,
}

impl Db {
    /// Creates an element owned by a team.
    pub fn insert_element(&self, name: &str, team_id: i64, description: &str, now: i64) -> DbResult<i64> {
        let conn = self.lock();
        conn.query_row(
            "INSERT INTO elements (name, team_id, description, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            params![name, team_id, description, now],
            |r| r.get(0),
        )
    }

    /// All elements, or one by name.
    pub fn elements(&self, name: Option<&str>) -> DbResult<Vec<Element>> {
        self.elements_with(name, true)
    }

    /// One element by name without its package names (an element that has released for years
    /// owns thousands, and a submission needs only its id and team).
    pub fn element_header(&self, name: &str) -> DbResult<Option<Element>> {
        Ok(self.elements_with(Some(name), false)?.pop())
    }

    fn elements_with(&self, name: Option<&str>, with_packages: bool) -> DbResult<Vec<Element>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT e.id, e.name, t.name, e.team_id, e.description, e.created_at
             FROM elements e JOIN teams t ON t.id = e.team_id
             WHERE CAST(?1 AS TEXT) IS NULL OR e.name = ?1 ORDER BY e.name",
        )?;
        let rows = stmt.query_map([name], |r| {
            Ok(Element {
                id: r.get(0)?,
                name: r.get(1)?,
                team: r.get(2)?,
                team_id: r.get(3)?,
                description: r.get(4)?,
                created_at: r.get(5)?,
                packages: Vec::new(),
            })
        })?;
        let mut out: Vec<Element> = rows.collect::<Result<_, _>>()?;
        if !with_packages {
            return Ok(out);
        }
        let mut pk = conn.prepare_cached("SELECT name FROM element_packages WHERE element_id = ?1 ORDER BY name")?;
        for e in &mut out {
            e.packages = pk.query_map([e.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        }
        Ok(out)
    }

    /// The element a package name is bound to: (element name, owning team name).
    pub fn package_owner(&self, package: &str) -> DbResult<Option<(String, String)>> {
        self.lock()
            .query_row(
                "SELECT e.name, t.name FROM element_packages ep JOIN elements e ON e.id = ep.element_id
                 JOIN teams t ON t.id = e.team_id WHERE ep.name = ?1",
                [package],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
    }

    /// Binds package names to an element (inside the caller's transaction); known ones stay.
    pub fn bind_packages(tx: &Tx<'_>, element_id: i64, names: &[String]) -> DbResult<()> {
        for n in names {
            tx.execute(
                "INSERT INTO element_packages (name, element_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![n, element_id],
            )?;
        }
        Ok(())
    }

    /// Makes a site a rollout site of an element (or changes its SLA).
    pub fn upsert_rollout(&self, element_id: i64, site_id: i64, sla_seconds: i64) -> DbResult<()> {
        self.lock().execute(
            "INSERT INTO rollouts (element_id, site_id, sla_seconds) VALUES (?1, ?2, ?3)
             ON CONFLICT(element_id, site_id) DO UPDATE SET sla_seconds = excluded.sla_seconds",
            params![element_id, site_id, sla_seconds],
        )?;
        Ok(())
    }

    /// Removes a rollout assignment; false when there was none.
    pub fn delete_rollout(&self, element_id: i64, site_id: i64) -> DbResult<bool> {
        let n = self.lock().execute(
            "DELETE FROM rollouts WHERE element_id = ?1 AND site_id = ?2",
            params![element_id, site_id],
        )?;
        Ok(n == 1)
    }

    /// Rollout assignments, optionally of one element.
    pub fn rollouts(&self, element: Option<&str>) -> DbResult<Vec<RolloutAssignment>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT e.name, s.name, r.sla_seconds FROM rollouts r
             JOIN elements e ON e.id = r.element_id JOIN sites s ON s.id = r.site_id
             WHERE CAST(?1 AS TEXT) IS NULL OR e.name = ?1 ORDER BY e.name, s.name",
        )?;
        let rows = stmt.query_map([element], |r| {
            Ok(RolloutAssignment {
                element: r.get(0)?,
                site: r.get(1)?,
                sla_seconds: r.get(2)?,
                previous_sla_seconds: None,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// (site id, SLA) of an element's rollout sites.
    pub fn rollout_site_ids(&self, element_id: i64) -> DbResult<Vec<(i64, i64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT site_id, sla_seconds FROM rollouts WHERE element_id = ?1")?;
        let rows = stmt.query_map([element_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()
    }
}
