//! Team signing keys, and the signature policy of uploads and releases.

use std::path::Path;

use super::auth::Actor;
use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, TeamKey};
use crate::signing::{package_signers, package_verifies, public_key_info};

/// What the signature check found on an upload.
#[derive(Debug, Default)]
pub struct SignatureCheck {
    pub signers: Vec<String>,
    pub signed_by_team: bool,
}

impl App {
    /// Imports an armoured public key for a team.
    pub fn add_team_key(&self, actor: &Actor, team: &str, armored: &str) -> ServiceResult<Vec<TeamKey>> {
        actor.require_admin()?;
        let t = self
            .db
            .team_by_name(team)?
            .ok_or_else(|| ServiceError::NotFound(format!("no team named {team}")))?;
        if armored.len() > crate::domain::limits::MAX_ARMORED_KEY {
            return Err(ServiceError::Invalid(format!(
                "key is {} bytes long; the limit is {}",
                armored.len(),
                crate::domain::limits::MAX_ARMORED_KEY
            )));
        }
        let infos = public_key_info(armored).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let now = self.clock.now();
        for info in &infos {
            self.db
                .insert_team_key(t.id, &info.fingerprint, &info.key_ids, armored, now)?;
        }
        let fps: Vec<&str> = infos.iter().map(|i| i.fingerprint.as_str()).collect();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "team.key-add",
                &format!("team:{team}"),
                &fps.join(", "),
                None,
            )
        })?;
        Ok(self
            .db
            .team_keys(Some(team))?
            .into_iter()
            .filter(|k| fps.contains(&k.fingerprint.as_str()))
            .collect())
    }

    /// Keys of one team or of all.
    pub fn team_keys(&self, actor: &Actor, team: Option<&str>) -> ServiceResult<Vec<TeamKey>> {
        actor.require_admin()?;
        // An unknown team is a 404, not an empty list (a typo would read as "no keys").
        if let Some(name) = team {
            self.db
                .team_by_name(name)?
                .ok_or_else(|| ServiceError::NotFound(format!("no team named {name}")))?;
        }
        Ok(self.db.team_keys(team)?)
    }

    /// Removes a team key by fingerprint or key id.
    pub fn remove_team_key(&self, actor: &Actor, team: &str, key: &str) -> ServiceResult<()> {
        actor.require_admin()?;
        let t = self
            .db
            .team_by_name(team)?
            .ok_or_else(|| ServiceError::NotFound(format!("no team named {team}")))?;
        if !self.db.delete_team_key(t.id, key)? {
            return Err(ServiceError::NotFound(format!("team {team} has no key {key}")));
        }
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "team.key-remove",
                &format!("team:{team}"),
                key,
                None,
            )
        })?;
        Ok(())
    }

    /// Whether any distribution requires signed packages.
    pub fn any_dist_requires_signed(&self) -> bool {
        self.config.dist.values().any(|d| d.require_signed)
    }

    /// Reads the signatures of an upload and checks them against the team's keys (only when a
    /// key or the policy makes it matter, since it reads the header a second time).
    pub fn check_upload_signature(&self, team: &str, path: &Path) -> ServiceResult<SignatureCheck> {
        let keys = self.db.team_keys(Some(team))?;
        if keys.is_empty() && !self.any_dist_requires_signed() {
            return Ok(SignatureCheck::default());
        }
        let signers = package_signers(path).map_err(|e| ServiceError::InvalidPackage(e.to_string()))?;
        let armored: Vec<String> = keys.iter().map(|k| k.armored.clone()).collect();
        let signed_by_team = !signers.is_empty() && package_verifies(path, &armored);
        if self.any_dist_requires_signed() && !signed_by_team {
            return Err(ServiceError::Invalid(unsigned_message(team, &signers)));
        }
        Ok(SignatureCheck {
            signers,
            signed_by_team,
        })
    }

    /// Refuses a release into a `require_signed` distribution with a package not signed by
    /// its team.
    pub fn check_release_signatures(
        &self,
        dist: &str,
        team: &str,
        shas: &[String],
        names: &[String],
    ) -> ServiceResult<()> {
        if !self.config.dist.get(dist).is_some_and(|d| d.require_signed) {
            return Ok(());
        }
        for (sha, name) in shas.iter().zip(names) {
            let (signers, ok) = self.db.package_signature(sha)?;
            if !ok {
                return Err(ServiceError::Invalid(format!(
                    "{name}: {}",
                    unsigned_message(team, &signers)
                )));
            }
        }
        Ok(())
    }
}

fn unsigned_message(team: &str, signers: &[String]) -> String {
    if signers.is_empty() {
        format!(
            "the package carries no signature; this distribution requires packages signed with a key of team {team}"
        )
    } else {
        format!(
            "the package is signed with key {}, which is not a key of team {team}; add it with `stagerepo admin team key add {team} KEY.asc`",
            signers.join(", ")
        )
    }
}
