//! Removing teams, elements and sites, and what still depends on them.

use super::sql::params;

use super::{Db, DbResult};

/// What refers to one row: (what, how many), only the non-zero ones.
pub type Dependents = Vec<(&'static str, i64)>;

impl Db {
    fn count_dependents(
        &self,
        queries: &[(&'static str, &str)],
        key: &dyn super::sql::ToValue,
    ) -> DbResult<Dependents> {
        let conn = self.lock();
        let mut out = Vec::new();
        for (what, sql) in queries {
            let n: i64 = conn.query_row(sql, [key], |r| r.get(0))?;
            if n > 0 {
                out.push((*what, n));
            }
        }
        Ok(out)
    }

    /// What refers to a site.
    pub fn site_dependents(&self, site_id: i64) -> DbResult<Dependents> {
        self.count_dependents(
            &[
                (
                    "rollout assignments",
                    "SELECT COUNT(*) FROM rollouts WHERE site_id = ?1",
                ),
                (
                    "release announcements",
                    "SELECT COUNT(*) FROM release_sites WHERE site_id = ?1",
                ),
                ("reports", "SELECT COUNT(*) FROM reports WHERE site_id = ?1"),
                ("problems", "SELECT COUNT(*) FROM problems WHERE site_id = ?1"),
                (
                    "deployment reports",
                    "SELECT COUNT(*) FROM deployment_reports WHERE site_id = ?1",
                ),
                (
                    "webhook deliveries",
                    "SELECT COUNT(*) FROM webhook_deliveries WHERE site_id = ?1",
                ),
            ],
            &site_id,
        )
    }

    /// What refers to a team.
    pub fn team_dependents(&self, team_id: i64) -> DbResult<Dependents> {
        self.count_dependents(
            &[
                ("elements", "SELECT COUNT(*) FROM elements WHERE team_id = ?1"),
                ("releases", "SELECT COUNT(*) FROM releases WHERE team_id = ?1"),
                (
                    "uploaded packages",
                    "SELECT COUNT(*) FROM packages WHERE uploaded_by = ?1",
                ),
            ],
            &team_id,
        )
    }

    /// What refers to an element.
    pub fn element_dependents(&self, element_id: i64, name: &str) -> DbResult<Dependents> {
        let mut d = self.count_dependents(
            &[(
                "rollout assignments",
                "SELECT COUNT(*) FROM rollouts WHERE element_id = ?1",
            )],
            &element_id,
        )?;
        d.extend(self.count_dependents(
            &[("releases", "SELECT COUNT(*) FROM releases WHERE element = ?1")],
            &name,
        )?);
        Ok(d)
    }

    /// Deletes a site that nothing refers to.
    pub fn delete_site(&self, site_id: i64) -> DbResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM sites WHERE id = ?1", params![site_id])?;
            Ok(())
        })
    }

    /// Deletes a team that nothing refers to, with its signing keys.
    pub fn delete_team(&self, team_id: i64) -> DbResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM team_keys WHERE team_id = ?1", params![team_id])?;
            tx.execute("DELETE FROM teams WHERE id = ?1", params![team_id])?;
            Ok(())
        })
    }

    /// Deletes an element that nothing refers to, with its package-name bindings.
    pub fn delete_element(&self, element_id: i64) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM element_packages WHERE element_id = ?1",
                params![element_id],
            )?;
            tx.execute("DELETE FROM elements WHERE id = ?1", params![element_id])?;
            Ok(())
        })
    }

    /// Replaces a site's token; the old one stops working at once.
    pub fn set_site_token(&self, site_id: i64, token_hash: &str) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sites SET token_hash = ?2 WHERE id = ?1",
                params![site_id, token_hash],
            )?;
            Ok(())
        })
    }
}
