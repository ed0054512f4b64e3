//! Product teams' OpenPGP public keys.

use super::sql::params;
use serde::Serialize;

use super::{Db, DbResult};

/// A team key as listed.
#[derive(Debug, Clone, Serialize)]
pub struct TeamKey {
    pub team: String,
    pub fingerprint: String,
    pub key_ids: Vec<String>,
    pub added_at: i64,
    #[serde(skip)]
    pub armored: String,
}

impl Db {
    /// Adds a key to a team.
    pub fn insert_team_key(
        &self,
        team_id: i64,
        fingerprint: &str,
        key_ids: &[String],
        armored: &str,
        now: i64,
    ) -> DbResult<()> {
        self.lock().execute(
            "INSERT INTO team_keys (team_id, fingerprint, key_ids, armored, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![team_id, fingerprint, key_ids.join(" "), armored, now],
        )?;
        Ok(())
    }

    /// Keys, of one team or all.
    pub fn team_keys(&self, team: Option<&str>) -> DbResult<Vec<TeamKey>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT t.name, k.fingerprint, k.key_ids, k.added_at, k.armored FROM team_keys k
             JOIN teams t ON t.id = k.team_id WHERE CAST(?1 AS TEXT) IS NULL OR t.name = ?1 ORDER BY t.name, k.id",
        )?;
        let rows = stmt.query_map([team], |r| {
            let ids: String = r.get(2)?;
            Ok(TeamKey {
                team: r.get(0)?,
                fingerprint: r.get(1)?,
                key_ids: ids.split_whitespace().map(str::to_string).collect(),
                added_at: r.get(3)?,
                armored: r.get(4)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Removes a team's key by fingerprint (or key id); false when none matched.
    pub fn delete_team_key(&self, team_id: i64, key: &str) -> DbResult<bool> {
        let n = self.lock().execute(
            "DELETE FROM team_keys WHERE team_id = ?1 AND (fingerprint = ?2 OR (' ' || key_ids || ' ') LIKE ('% ' || ?2 || ' %'))",
            params![team_id, key.to_ascii_lowercase()],
        )?;
        Ok(n > 0)
    }
}
