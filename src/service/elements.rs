//! Elements, sites and rollout assignments: the admin's set-up of the staged rollout.

use serde::Serialize;

use super::auth::{hash_token, new_token, Actor};
use super::limit;
use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, Element, RolloutAssignment, Site};
use crate::domain::limits::{self, check_len};
use crate::domain::names::is_valid_name;

/// A new site with its token and webhook secret (shown once).
#[derive(Debug, Serialize)]
pub struct SiteWithToken {
    pub name: String,
    pub token: String,
    /// Key of the HMAC-SHA256 in `X-Stagerepo-Signature` of this site's webhooks.
    pub webhook_secret: String,
    pub contact: Option<String>,
    pub webhook: Option<String>,
    /// Contact e-mail address that announcements and outcomes are sent to.
    pub email: Option<String>,
}

fn check_name(kind: &str, name: &str) -> ServiceResult<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "{kind} name {name:?} is invalid: use 1-64 letters, digits, '.', '_' or '-'"
        )))
    }
}

impl App {
    /// Creates an element owned by a team.
    pub fn add_element(&self, actor: &Actor, name: &str, team: &str, description: &str) -> ServiceResult<Element> {
        actor.require_admin()?;
        check_name("element", name)?;
        limit(check_len("description", description, limits::MAX_DESCRIPTION))?;
        let team = self
            .db
            .team_by_name(team)?
            .ok_or_else(|| ServiceError::NotFound(format!("no team named {team}")))?;
        if !self.db.elements(Some(name))?.is_empty() {
            return Err(ServiceError::Conflict(format!("element {name} already exists")));
        }
        let now = self.clock.now();
        super::exists_if_conflict(self.db.insert_element(name, team.id, description, now), || {
            format!("element {name} already exists")
        })?;
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "element.add",
                &format!("element:{name}"),
                &format!("owned by {}", team.name),
                None,
            )
        })?;
        self.element(name)
    }

    /// One element by name.
    pub fn element(&self, name: &str) -> ServiceResult<Element> {
        self.db.elements(Some(name))?.pop().ok_or_else(|| no_element(name))
    }

    /// An element by name without its package names, for the calls that need only its id,
    /// team and existence.
    pub fn element_header(&self, name: &str) -> ServiceResult<Element> {
        self.db.element_header(name)?.ok_or_else(|| no_element(name))
    }

    /// All elements.
    pub fn elements(&self) -> ServiceResult<Vec<Element>> {
        Ok(self.db.elements(None)?)
    }

    /// Creates a site and issues its token and webhook secret.
    pub fn add_site(
        &self,
        actor: &Actor,
        name: &str,
        contact: Option<&str>,
        webhook: Option<&str>,
        email: Option<&str>,
    ) -> ServiceResult<SiteWithToken> {
        actor.require_admin()?;
        check_name("site", name)?;
        limit(check_len("contact", contact.unwrap_or_default(), limits::MAX_CONTACT))?;
        limit(check_len("webhook", webhook.unwrap_or_default(), limits::MAX_REFERENCE))?;
        if let Some(e) = email {
            super::sites::check_email(e)?;
        }
        if let Some(url) = webhook {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ServiceError::Invalid(format!("webhook {url:?} is not an http(s) URL")));
            }
        }
        if self.db.site_by_name(name)?.is_some() {
            return Err(ServiceError::Conflict(format!("site {name} already exists")));
        }
        let token = new_token("s");
        let secret = new_token("w");
        let now = self.clock.now();
        let inserted = self.db.insert_site(
            name,
            contact,
            webhook,
            email,
            &hash_token(&token),
            &self.secrets.seal(&secret),
            now,
        );
        super::exists_if_conflict(inserted, || format!("site {name} already exists"))?;
        self.db
            .write(|tx| Db::audit(tx, now, &actor.label(), "site.add", &format!("site:{name}"), "", None))?;
        Ok(SiteWithToken {
            name: name.into(),
            token,
            webhook_secret: secret,
            contact: contact.map(Into::into),
            webhook: webhook.map(Into::into),
            email: email.map(Into::into),
        })
    }

    /// All sites.
    pub fn sites(&self, actor: &Actor) -> ServiceResult<Vec<Site>> {
        actor.require_admin()?;
        Ok(self.db.sites()?)
    }

    pub(super) fn site(&self, name: &str) -> ServiceResult<Site> {
        self.db
            .site_by_name(name)?
            .ok_or_else(|| ServiceError::NotFound(format!("no site named {name}")))
    }

    /// Makes a site a rollout site of an element with an SLA period.
    pub fn add_rollout(
        &self,
        actor: &Actor,
        element: &str,
        site: &str,
        sla_seconds: i64,
    ) -> ServiceResult<RolloutAssignment> {
        actor.require_admin()?;
        limit(limits::check_sla("sla", sla_seconds))?;
        let e = self.element(element)?;
        let s = self.site(site)?;
        let previous = self
            .db
            .rollout_site_ids(e.id)?
            .into_iter()
            .find_map(|(id, sla)| (id == s.id).then_some(sla));
        self.db.upsert_rollout(e.id, s.id, sla_seconds)?;
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "rollout.add",
                &format!("element:{element}"),
                &match previous {
                    Some(old) => format!("site {site}, SLA changed {old}s -> {sla_seconds}s"),
                    None => format!("site {site}, SLA {sla_seconds}s"),
                },
                None,
            )
        })?;
        Ok(RolloutAssignment {
            element: element.into(),
            site: site.into(),
            sla_seconds,
            previous_sla_seconds: previous,
        })
    }

    /// Removes a rollout assignment (releases already announced keep their deadlines).
    pub fn remove_rollout(&self, actor: &Actor, element: &str, site: &str) -> ServiceResult<()> {
        actor.require_admin()?;
        let e = self.element(element)?;
        let s = self.site(site)?;
        if !self.db.delete_rollout(e.id, s.id)? {
            return Err(ServiceError::NotFound(format!(
                "{site} is not a rollout site of {element}"
            )));
        }
        let now = self.clock.now();
        self.db.write(|tx| {
            Db::audit(
                tx,
                now,
                &actor.label(),
                "rollout.remove",
                &format!("element:{element}"),
                &format!("site {site}"),
                None,
            )
        })?;
        Ok(())
    }

    /// Rollout assignments, optionally of one element.
    pub fn rollouts(&self, element: Option<&str>) -> ServiceResult<Vec<RolloutAssignment>> {
        // An unknown element is a 404 (as for the inventory), not an empty list: a typo
        // would otherwise read as "no rollout sites".
        if let Some(name) = element {
            self.element_header(name)?;
        }
        Ok(self.db.rollouts(element)?)
    }

    /// Refuses a package name bound to another team's element (403 naming the owner).
    pub fn check_package_owner(&self, team: &str, package: &str) -> ServiceResult<()> {
        if let Some((element, owner)) = self.db.package_owner(package)? {
            if owner != team {
                return Err(ServiceError::Forbidden(format!(
                    "package name {package} belongs to element {element} of team {owner}"
                )));
            }
        }
        Ok(())
    }
}

/// The answer for an element name nobody added.
fn no_element(name: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "no element named {name}; the admin creates it with `stagerepo admin element add`"
    ))
}
