//! Product teams and their token hashes.

use super::sql::{params, OptionalExtension};

use super::{Db, DbResult};

/// A product team as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

impl Db {
    /// Creates a team with the hash of its first token.
    pub fn insert_team(&self, name: &str, token_hash: &str, now: i64) -> DbResult<Team> {
        let conn = self.lock();
        let id: i64 = conn.query_row(
            "INSERT INTO teams (name, token_hash, created_at) VALUES (?1, ?2, ?3) RETURNING id",
            params![name, token_hash, now],
            |r| r.get(0),
        )?;
        Ok(Team {
            id,
            name: name.to_string(),
            created_at: now,
        })
    }

    /// All teams, by name.
    pub fn teams(&self) -> DbResult<Vec<Team>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, name, created_at FROM teams ORDER BY name")?;
        let rows = stmt.query_map((), |r| {
            Ok(Team {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// The team whose token hashes to `token_hash`.
    pub fn team_by_token_hash(&self, token_hash: &str) -> DbResult<Option<Team>> {
        self.lock()
            .query_row(
                "SELECT id, name, created_at FROM teams WHERE token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(Team {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
            .optional()
    }

    /// The team called `name`.
    pub fn team_by_name(&self, name: &str) -> DbResult<Option<Team>> {
        self.lock()
            .query_row("SELECT id, name, created_at FROM teams WHERE name = ?1", [name], |r| {
                Ok(Team {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })
            .optional()
    }

    /// Replaces a team's token hash; false when there is no such team.
    pub fn set_team_token(&self, name: &str, token_hash: &str) -> DbResult<bool> {
        let n = self.lock().execute(
            "UPDATE teams SET token_hash = ?2 WHERE name = ?1",
            params![name, token_hash],
        )?;
        Ok(n == 1)
    }
}
