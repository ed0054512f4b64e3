//! The admin's upkeep of sites, teams and elements: a site's e-mail address, token rotation,
//! and removal, refused while anything still refers to the thing removed.

use serde::Serialize;

use super::auth::{hash_token, new_token, Actor};
use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, Site};

/// A site's new token (shown once).
#[derive(Debug, Serialize)]
pub struct SiteToken {
    pub name: String,
    pub token: String,
}

/// Refuses anything but a plain `user@domain` address.
pub(super) fn check_email(email: &str) -> ServiceResult<()> {
    email
        .parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| ServiceError::Invalid(format!("e-mail address {email:?} is invalid: {e}")))
}

/// The 409 naming what still depends on `what`.
fn refuse(what: &str, deps: &[(&str, i64)], hint: &str) -> ServiceError {
    let list: Vec<String> = deps.iter().map(|(d, n)| format!("{n} {d}")).collect();
    ServiceError::Conflict(format!(
        "{what} cannot be removed: {} still refer to it{hint}",
        list.join(", ")
    ))
}

impl App {
    /// Sets (or, with an empty string, clears) a site's contact e-mail address.
    pub fn set_site_email(&self, actor: &Actor, name: &str, email: &str) -> ServiceResult<Site> {
        actor.require_admin()?;
        let site = self.site(name)?;
        let email = email.trim();
        if !email.is_empty() {
            check_email(email)?;
        }
        let value = (!email.is_empty()).then_some(email);
        self.db.set_site_email(site.id, value)?;
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "site.set",
                &format!("site:{name}"),
                &format!("email {}", value.unwrap_or("(none)")),
                None,
            )
        })?;
        self.site(name)
    }

    /// Replaces a site's token; the old one stops working at once.
    pub fn rotate_site_token(&self, actor: &Actor, name: &str) -> ServiceResult<SiteToken> {
        actor.require_admin()?;
        let site = self.site(name)?;
        let token = new_token("s");
        self.db.set_site_token(site.id, &hash_token(&token))?;
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "site.token-rotate",
                &format!("site:{name}"),
                "",
                None,
            )
        })?;
        tracing::info!(site = name, actor = %actor.label(), "site token rotated");
        Ok(SiteToken {
            name: name.into(),
            token,
        })
    }

    /// Removes a site nothing refers to (409 naming what does).
    pub fn remove_site(&self, actor: &Actor, name: &str) -> ServiceResult<()> {
        actor.require_admin()?;
        let site = self.site(name)?;
        let deps = self.db.site_dependents(site.id)?;
        if !deps.is_empty() {
            let hint = if deps.len() == 1 && deps[0].0 == "rollout assignments" {
                "; remove them first with `stagerepo admin rollout remove`"
            } else {
                "; a site with a history stays, rotate its token to lock it out"
            };
            return Err(refuse(&format!("site {name}"), &deps, hint));
        }
        self.db.delete_site(site.id)?;
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "site.remove",
                &format!("site:{name}"),
                "",
                None,
            )
        })?;
        Ok(())
    }

    /// Removes a team nothing refers to, with its signing keys (409 naming what does).
    pub fn remove_team(&self, actor: &Actor, name: &str) -> ServiceResult<()> {
        actor.require_admin()?;
        let team = self
            .db
            .team_by_name(name)?
            .ok_or_else(|| ServiceError::NotFound(format!("no team named {name}")))?;
        let deps = self.db.team_dependents(team.id)?;
        if !deps.is_empty() {
            return Err(refuse(&format!("team {name}"), &deps, ""));
        }
        self.db.delete_team(team.id)?;
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "team.remove",
                &format!("team:{name}"),
                "",
                None,
            )
        })?;
        Ok(())
    }

    /// Removes an element nothing refers to (409 naming what does).
    pub fn remove_element(&self, actor: &Actor, name: &str) -> ServiceResult<()> {
        actor.require_admin()?;
        let element = self.element(name)?;
        let deps = self.db.element_dependents(element.id, name)?;
        if !deps.is_empty() {
            let hint = if deps.iter().all(|(d, _)| *d == "rollout assignments") {
                "; remove them first with `stagerepo admin rollout remove`"
            } else {
                ""
            };
            return Err(refuse(&format!("element {name}"), &deps, hint));
        }
        self.db.delete_element(element.id)?;
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "element.remove",
                &format!("element:{name}"),
                "",
                None,
            )
        })?;
        Ok(())
    }
}
