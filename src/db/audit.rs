//! The append-only audit log and the announcement feed.

use super::sql::{params, Tx};
use serde::Serialize;

use super::{Db, DbResult};

/// One audit record.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<i64>,
}

/// One feed entry (announcement, promotion, rejection...).
#[derive(Debug, Clone, Serialize)]
pub struct FeedEntry {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub release: i64,
    pub title: String,
    pub content: String,
}

impl Db {
    /// Appends to the audit log (inside the caller's transaction).
    pub fn audit(
        tx: &Tx<'_>,
        at: i64,
        actor: &str,
        action: &str,
        object: &str,
        reason: &str,
        release: Option<i64>,
    ) -> DbResult<()> {
        tx.execute(
            "INSERT INTO audit (at, actor, action, object, reason, release_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at, actor, action, object, reason, release],
        )?;
        Ok(())
    }

    /// Audit records, oldest first, optionally of one release and since a time.
    pub fn audit_entries(&self, release: Option<i64>, since: Option<i64>) -> DbResult<Vec<AuditEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, actor, action, object, reason, release_id FROM audit
             WHERE (CAST(?1 AS BIGINT) IS NULL OR release_id = ?1) AND (CAST(?2 AS BIGINT) IS NULL OR at >= ?2) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![release, since], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                object: r.get(4)?,
                reason: r.get(5)?,
                release: r.get(6)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Adds a feed entry (inside the caller's transaction).
    pub fn insert_feed_entry(
        tx: &Tx<'_>,
        at: i64,
        kind: &str,
        release: i64,
        title: &str,
        content: &str,
    ) -> DbResult<()> {
        tx.execute(
            "INSERT INTO feed_entries (at, kind, release_id, title, content) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![at, kind, release, title, content],
        )?;
        Ok(())
    }

    /// The newest `limit` feed entries, newest first.
    pub fn feed_entries(&self, limit: i64) -> DbResult<Vec<FeedEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, kind, release_id, title, content FROM feed_entries ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(FeedEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                release: r.get(3)?,
                title: r.get(4)?,
                content: r.get(5)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }
}
