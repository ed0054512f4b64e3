//! The e-mail outbox: messages queued with the change they tell of, sent by the mail worker.

use super::sql::{params, Tx};

use super::{Db, DbResult};

/// A message still to be sent.
#[derive(Debug, Clone)]
pub struct PendingMail {
    pub id: i64,
    pub event: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

impl Db {
    /// Queues a message (inside the caller's transaction).
    pub fn queue_mail(
        tx: &Tx<'_>,
        event: &str,
        release_id: Option<i64>,
        recipients: &[String],
        subject: &str,
        body: &str,
        now: i64,
    ) -> DbResult<()> {
        let to = serde_json::to_string(recipients).expect("a list of strings serialises");
        tx.execute(
            "INSERT INTO email_outbox (event, release_id, recipients, subject, body, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![event, release_id, to, subject, body, now],
        )?;
        Ok(())
    }

    /// Messages neither sent nor given up, soonest first.
    pub fn pending_mail(&self) -> DbResult<Vec<PendingMail>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, event, recipients, subject, body, created_at, attempts, next_attempt_at FROM email_outbox
             WHERE sent_at IS NULL AND given_up_at IS NULL ORDER BY next_attempt_at, id",
        )?;
        let rows = stmt.query_map((), |r| {
            let to: String = r.get(2)?;
            Ok(PendingMail {
                id: r.get(0)?,
                event: r.get(1)?,
                recipients: serde_json::from_str(&to).unwrap_or_default(),
                subject: r.get(3)?,
                body: r.get(4)?,
                created_at: r.get(5)?,
                attempts: r.get(6)?,
                next_attempt_at: r.get(7)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Records a sending attempt: sent, retried at `next`, or (no `next`) given up.
    pub fn record_mail_attempt(&self, id: i64, at: i64, error: Option<&str>, next: Option<i64>) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3,
                    sent_at = CASE WHEN CAST(?3 AS TEXT) IS NULL THEN CAST(?4 AS BIGINT) ELSE NULL END,
                    given_up_at = CASE WHEN CAST(?3 AS TEXT) IS NOT NULL AND CAST(?2 AS BIGINT) IS NULL THEN CAST(?4 AS BIGINT) ELSE NULL END
                 WHERE id = ?1",
                params![id, next, error, at],
            )?;
            Ok(())
        })
    }

    /// Sets (or with `None` clears) a site's contact e-mail address.
    pub fn set_site_email(&self, site_id: i64, email: Option<&str>) -> DbResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE sites SET email = ?2 WHERE id = ?1", params![site_id, email])?;
            Ok(())
        })
    }
}

impl Db {
    /// The advisory id of a release, once it has one (inside a transaction or not).
    pub fn advisory_of_release(conn: &Tx<'_>, release_id: i64) -> DbResult<Option<String>> {
        use super::sql::OptionalExtension;
        conn.query_row(
            "SELECT id FROM advisories WHERE release_id = ?1 ORDER BY issued DESC LIMIT 1",
            [release_id],
            |r| r.get(0),
        )
        .optional()
    }
}

impl Db {
    /// (id, year, seq) of a release's advisory, once allocated.
    pub fn advisory_numbers(&self, release_id: i64) -> DbResult<Option<(String, i32, i64)>> {
        use super::sql::OptionalExtension;
        self.lock()
            .query_row(
                "SELECT id, year, seq FROM advisories WHERE release_id = ?1",
                [release_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
    }
}
