//! Tokens and the actors they identify. Tokens are random and stored only as sha256 hashes.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{App, ServiceError, ServiceResult};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The release manager.
    Admin,
    /// A product team.
    Team { id: i64, name: String },
    /// A grid site.
    Site { id: i64, name: String },
    /// The daemon itself (the SLA timer).
    System,
}

impl Actor {
    /// How the actor appears in logs and records (never the token).
    pub fn label(&self) -> String {
        match self {
            Actor::Admin => "admin".to_string(),
            Actor::Team { name, .. } => format!("team:{name}"),
            Actor::Site { name, .. } => format!("site:{name}"),
            Actor::System => "stagerepo".to_string(),
        }
    }

    /// Refuses anyone but the admin.
    pub fn require_admin(&self) -> ServiceResult<()> {
        match self {
            Actor::Admin => Ok(()),
            other => Err(ServiceError::Forbidden(format!(
                "{} may not do this: admin token required",
                other.label()
            ))),
        }
    }

    /// The team behind a team token, or a refusal for other actors.
    pub fn require_team(&self) -> ServiceResult<(i64, &str)> {
        match self {
            Actor::Team { id, name } => Ok((*id, name)),
            other => Err(ServiceError::Forbidden(format!(
                "{} may not do this: a product team's token is required",
                other.label()
            ))),
        }
    }

    /// The site behind a site token, or a refusal for other actors.
    pub fn require_site(&self) -> ServiceResult<(i64, &str)> {
        match self {
            Actor::Site { id, name } => Ok((*id, name)),
            other => Err(ServiceError::Forbidden(format!(
                "{} may not do this: a site's token is required",
                other.label()
            ))),
        }
    }
}

/// A new random token with a prefix telling what it is for.
pub fn new_token(kind: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("sr{kind}_{}", hex::encode(bytes))
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Where the actor of the request being served is noted for the access log (its label only,
/// never the token). [`ActorSink::collect`] makes it the sink of the current thread.
#[derive(Debug, Clone, Default)]
pub struct ActorSink(Arc<Mutex<Option<String>>>);

thread_local! {
    static ACTOR_SINK: RefCell<Option<ActorSink>> = const { RefCell::new(None) };
}

impl ActorSink {
    /// The label of the actor authenticated last, if any.
    pub fn label(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs `f` with this sink receiving what `App::authenticate` resolves on this thread.
    pub fn collect<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<ActorSink>);
        impl Drop for Restore {
            fn drop(&mut self) {
                ACTOR_SINK.with_borrow_mut(|s| *s = self.0.take());
            }
        }
        let _restore = Restore(ACTOR_SINK.with_borrow_mut(|s| s.replace(self.clone())));
        f()
    }
}

fn note_actor(actor: &Actor) {
    ACTOR_SINK.with_borrow(|sink| {
        if let Some(sink) = sink {
            *sink.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(actor.label());
        }
    });
}

impl App {
    /// Resolves a bearer token to an actor.
    pub fn authenticate(&self, token: Option<&str>) -> ServiceResult<Actor> {
        let actor = self.actor_of_token(token)?;
        note_actor(&actor);
        Ok(actor)
    }

    fn actor_of_token(&self, token: Option<&str>) -> ServiceResult<Actor> {
        let token = token.ok_or(ServiceError::Unauthenticated)?;
        let hash = hash_token(token);
        if hash == self.admin_token_hash {
            return Ok(Actor::Admin);
        }
        if let Some(team) = self.db.team_by_token_hash(&hash)? {
            return Ok(Actor::Team {
                id: team.id,
                name: team.name,
            });
        }
        if let Some(site) = self.db.site_by_token_hash(&hash)? {
            return Ok(Actor::Site {
                id: site.id,
                name: site.name,
            });
        }
        Err(ServiceError::Unauthenticated)
    }
}
