//! Sites: every grid site that reports problems and deployments.

use super::sql::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{Db, DbResult};

/// A site as stored (never with its token).
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub id: i64,
    pub name: String,
    pub contact: Option<String>,
    pub webhook: Option<String>,
    /// Contact e-mail address that announcements and outcomes are sent to.
    pub email: Option<String>,
    #[serde(skip)]
    pub webhook_secret: String,
    pub created_at: i64,
}

fn row(r: &Row<'_>) -> DbResult<Site> {
    Ok(Site {
        id: r.get(0)?,
        name: r.get(1)?,
        contact: r.get(2)?,
        webhook: r.get(3)?,
        webhook_secret: r.get(4)?,
        created_at: r.get(5)?,
        email: r.get(6)?,
    })
}

const COLUMNS: &str = "id, name, contact, webhook, webhook_secret, created_at, email";

impl Db {
    /// Creates a site.
    #[allow(clippy::too_many_arguments)] // one argument per column of the row
    pub fn insert_site(
        &self,
        name: &str,
        contact: Option<&str>,
        webhook: Option<&str>,
        email: Option<&str>,
        token_hash: &str,
        secret: &str,
        now: i64,
    ) -> DbResult<Site> {
        let conn = self.lock();
        let id: i64 = conn.query_row(
            "INSERT INTO sites (name, contact, webhook, token_hash, webhook_secret, created_at, email)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            params![name, contact, webhook, token_hash, secret, now, email],
            |r| r.get(0),
        )?;
        Ok(Site {
            id,
            name: name.into(),
            contact: contact.map(Into::into),
            webhook: webhook.map(Into::into),
            email: email.map(Into::into),
            webhook_secret: secret.into(),
            created_at: now,
        })
    }

    /// All sites.
    pub fn sites(&self) -> DbResult<Vec<Site>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sites ORDER BY name"))?;
        let rows = stmt.query_map((), row)?;
        rows.collect::<Result<_, _>>()
    }

    /// A site by name.
    pub fn site_by_name(&self, name: &str) -> DbResult<Option<Site>> {
        self.lock()
            .query_row(&format!("SELECT {COLUMNS} FROM sites WHERE name = ?1"), [name], row)
            .optional()
    }

    /// A site by id.
    pub fn site_by_id(&self, id: i64) -> DbResult<Option<Site>> {
        self.lock()
            .query_row(&format!("SELECT {COLUMNS} FROM sites WHERE id = ?1"), [id], row)
            .optional()
    }

    /// Every site's stored webhook secret, as (id, stored value).
    pub fn site_secrets(&self) -> DbResult<Vec<(i64, String)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, webhook_secret FROM sites")?;
        let rows = stmt.query_map((), |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()
    }

    /// Replaces a site's stored webhook secret (with its sealed form).
    pub fn set_site_secret(&self, id: i64, stored: &str) -> DbResult<()> {
        self.lock().execute(
            "UPDATE sites SET webhook_secret = ?2 WHERE id = ?1",
            params![id, stored],
        )?;
        Ok(())
    }

    /// The site holding a token.
    pub fn site_by_token_hash(&self, hash: &str) -> DbResult<Option<Site>> {
        self.lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM sites WHERE token_hash = ?1"),
                [hash],
                row,
            )
            .optional()
    }
}
