//! Base repositories (the OS and EPEL the middleware builds on) registered per distribution.

use serde::Serialize;

use super::sql::{params, Tx};
use super::{Db, DbResult};

/// A base repository as listed.
#[derive(Debug, Clone, Serialize)]
pub struct BaseInfo {
    pub dist: String,
    pub name: String,
    pub source: String,
    pub imported_at: i64,
    pub packages: usize,
}

impl Db {
    /// Base repositories of a distribution.
    pub fn base_repos(&self, dist: &str) -> DbResult<Vec<BaseInfo>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT name, source, imported_at, packages FROM base_repos WHERE dist = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([dist], |r| {
            Ok(BaseInfo {
                dist: dist.to_string(),
                name: r.get(0)?,
                source: r.get(1)?,
                imported_at: r.get(2)?,
                packages: r.get::<_, i64>(3)? as usize,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Records (or refreshes) an imported base repository (inside the caller's transaction).
    pub fn upsert_base_repo(tx: &Tx<'_>, b: &BaseInfo) -> DbResult<()> {
        tx.execute(
            "INSERT INTO base_repos (dist, name, source, imported_at, packages) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(dist, name) DO UPDATE SET source = excluded.source,
                imported_at = excluded.imported_at, packages = excluded.packages",
            params![b.dist, b.name, b.source, b.imported_at, b.packages as i64],
        )?;
        Ok(())
    }

    /// Forgets a base repository (inside the caller's transaction).
    pub fn delete_base_repo(tx: &Tx<'_>, dist: &str, name: &str) -> DbResult<()> {
        tx.execute("DELETE FROM base_repos WHERE dist = ?1 AND name = ?2", [dist, name])?;
        Ok(())
    }
}
