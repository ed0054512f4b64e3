//! Webhook deliveries and every attempt at them.

use super::sql::{params, Tx};
use serde::Serialize;

use super::{Db, DbResult};

/// A delivery still to be attempted.
#[derive(Debug, Clone, Serialize)]
pub struct PendingDelivery {
    pub id: i64,
    pub site_id: i64,
    pub event: String,
    pub url: String,
    pub payload: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

/// One delivery attempt, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryAttempt {
    pub delivery: i64,
    pub site: String,
    pub event: String,
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
}

impl Db {
    /// Queues a delivery (inside the caller's transaction).
    pub fn queue_delivery(tx: &Tx<'_>, site_id: i64, event: &str, url: &str, payload: &str, now: i64) -> DbResult<()> {
        tx.execute(
            "INSERT INTO webhook_deliveries (site_id, event, url, payload, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![site_id, event, url, payload, now],
        )?;
        Ok(())
    }

    /// Deliveries not yet delivered nor given up, soonest first.
    pub fn pending_deliveries(&self) -> DbResult<Vec<PendingDelivery>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, site_id, event, url, payload, created_at, attempts, next_attempt_at FROM webhook_deliveries
             WHERE delivered_at IS NULL AND given_up_at IS NULL ORDER BY next_attempt_at, id",
        )?;
        let rows = stmt.query_map((), |r| {
            Ok(PendingDelivery {
                id: r.get(0)?,
                site_id: r.get(1)?,
                event: r.get(2)?,
                url: r.get(3)?,
                payload: r.get(4)?,
                created_at: r.get(5)?,
                attempts: r.get(6)?,
                next_attempt_at: r.get(7)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Records an attempt and what follows: delivered, retried at `next`, or given up.
    pub fn record_attempt(
        &self,
        id: i64,
        at: i64,
        status: Option<u16>,
        error: Option<&str>,
        delivered: bool,
        next: Option<i64>,
    ) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO webhook_attempts (delivery_id, at, status, error) VALUES (?1, ?2, ?3, ?4)",
                params![id, at, status, error],
            )?;
            tx.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?2,
                    delivered_at = CASE WHEN ?3 THEN CAST(?4 AS BIGINT) ELSE NULL END,
                    given_up_at = CASE WHEN NOT ?3 AND CAST(?2 AS BIGINT) IS NULL THEN CAST(?4 AS BIGINT) ELSE NULL END
                 WHERE id = ?1",
                params![id, next, delivered, at],
            )?;
            Ok(())
        })
    }

    /// Every attempt, newest first.
    pub fn delivery_attempts(&self, limit: i64) -> DbResult<Vec<DeliveryAttempt>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT a.delivery_id, s.name, d.event, a.at, a.status, a.error FROM webhook_attempts a
             JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN sites s ON s.id = d.site_id
             ORDER BY a.id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(DeliveryAttempt {
                delivery: r.get(0)?,
                site: r.get(1)?,
                event: r.get(2)?,
                at: r.get(3)?,
                status: r.get(4)?,
                error: r.get(5)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }
}
