//! Product teams: creation, listing, token rotation (admin only).

use serde::Serialize;

use super::auth::{hash_token, new_token, Actor};
use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, Team};
use crate::domain::names::is_valid_name;

/// A team with its freshly issued token (shown once).
#[derive(Debug, Serialize)]
pub struct TeamWithToken {
    pub name: String,
    pub token: String,
}

impl App {
    /// Creates a team and issues its token.
    pub fn add_team(&self, actor: &Actor, name: &str) -> ServiceResult<TeamWithToken> {
        actor.require_admin()?;
        if !is_valid_name(name) {
            return Err(ServiceError::Invalid(format!(
                "team name {name:?} is invalid: use 1-64 letters, digits, '.', '_' or '-'"
            )));
        }
        if self.db.team_by_name(name)?.is_some() {
            return Err(ServiceError::Conflict(format!("team {name} already exists")));
        }
        let token = new_token("t");
        let now = self.clock.now();
        super::exists_if_conflict(self.db.insert_team(name, &hash_token(&token), now), || {
            format!("team {name} already exists")
        })?;
        self.db
            .write(|tx| Db::audit(tx, now, &actor.label(), "team.add", &format!("team:{name}"), "", None))?;
        tracing::info!(team = name, actor = %actor.label(), "team created");
        Ok(TeamWithToken {
            name: name.to_string(),
            token,
        })
    }

    /// All teams.
    pub fn teams(&self, actor: &Actor) -> ServiceResult<Vec<Team>> {
        actor.require_admin()?;
        Ok(self.db.teams()?)
    }

    /// Replaces a team's token; the old one stops working at once.
    pub fn rotate_team_token(&self, actor: &Actor, name: &str) -> ServiceResult<TeamWithToken> {
        actor.require_admin()?;
        let token = new_token("t");
        if !self.db.set_team_token(name, &hash_token(&token))? {
            return Err(ServiceError::NotFound(format!("no team named {name}")));
        }
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "team.token-rotate",
                &format!("team:{name}"),
                "",
                None,
            )
        })?;
        tracing::info!(team = name, actor = %actor.label(), "team token rotated");
        Ok(TeamWithToken {
            name: name.to_string(),
            token,
        })
    }
}
