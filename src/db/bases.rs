//! Base repositories (the OS and EPEL the middleware builds on) registered per distribution.

use serde::Serialize;

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
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
