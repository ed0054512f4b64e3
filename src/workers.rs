//! Background work of the daemon: the SLA timer, webhook delivery and e-mail.
//!
//! With several replicas on one PostgreSQL database only the leader (see `Db::try_lead`) runs
//! the timer and the deliveries; every replica retries its own bucket copy.
//!
//! Neither polls in a busy loop: each sleeps until its next deadline or until the service
//! signals a change (`App::wake`), whichever comes first.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::service::mail::Mailer;
use crate::service::notify::{backoff_seconds, sign, RETRY_FOR_SECONDS};
use crate::service::App;

/// Longest sleep when nothing is scheduled: a safety net, not the mechanism.
const IDLE: Duration = Duration::from_secs(300);
/// Seconds between attempts to bring an out-of-sync bucket copy in line.
const MIRROR_RETRY_SECS: i64 = 5;
/// Longest sleep between two looks at the leader lock: how soon a replica takes over from a
/// failed leader, and how soon a leader notices that it lost its lock's connection.
const LEADER_CHECK: Duration = Duration::from_secs(2);

/// Runs the SLA timer and the webhook sender until `shutdown` turns true.
pub async fn run(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("stagerepo/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("building the webhook client");
    let mailer = match Mailer::from_config(&app.config) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "SMTP is not usable; e-mails stay queued");
            None
        }
    };
    // Another replica's publication wakes this loop at once, so that it is served here within
    // milliseconds instead of at the next look.
    let wake = app.wake.clone();
    let listening = app.db.listen(Box::new(move || {
        tracing::info!("another replica announced a publication; catching up");
        wake.notify_one();
    }));
    if listening {
        tracing::info!("listening for other replicas' publications");
    }
    loop {
        // Registered before the work so that a wake during the work is not lost.
        let notified = app.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();

        // Every replica serves what any of them published.
        if app.db.may_be_shared() {
            let a = app.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || a.catch_up()).await {
                tracing::warn!(error = %e, "catching up with another replica's publication failed; retrying");
            }
        }
        let lead_app = app.clone();
        let leader = tokio::task::spawn_blocking(move || lead_app.db.try_lead())
            .await
            .unwrap_or(false);
        let was = app.metrics.leader.swap(leader, std::sync::atomic::Ordering::Relaxed);
        if was != leader {
            tracing::info!(leader, "leadership changed");
        }
        let timer_app = app.clone();
        let next_gate = if !leader {
            None
        } else {
            match tokio::task::spawn_blocking(move || timer_app.run_due()).await {
                Ok(Ok(next)) => next,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "SLA timer failed; retrying");
                    Some(app.clock.now() + 5)
                }
                Err(e) => {
                    tracing::error!(error = %e, "SLA timer panicked; retrying");
                    Some(app.clock.now() + 5)
                }
            }
        };
        // A repository whose bucket copy failed is retried every few seconds until it works.
        let mut next_mirror = None;
        if app.mirror.as_ref().is_some_and(|m| !m.dirty().is_empty()) {
            let a = app.clone();
            match tokio::task::spawn_blocking(move || a.sync_mirror(true)).await {
                Ok(Ok(())) => tracing::info!("the object store is in sync again"),
                _ => {
                    tracing::warn!("the object store is still out of sync; retrying");
                    next_mirror = Some(app.clock.now() + MIRROR_RETRY_SECS);
                }
            }
        }
        let (next_delivery, next_mail) = if leader {
            let delivery = deliver_due(&app, &http).await;
            let mail = match &mailer {
                Some(m) => send_mail_due(&app, m).await,
                None => None,
            };
            (delivery, mail)
        } else {
            (None, None)
        };

        let now = app.clock.now();
        let next = [next_gate, next_delivery, next_mail, next_mirror]
            .into_iter()
            .flatten()
            .min();
        let sleep = next.map_or(IDLE, |t| Duration::from_secs((t - now).max(0) as u64).min(IDLE));
        // Only a database that may be shared needs the lock looked at again.
        let sleep = if app.db.may_be_shared() {
            sleep.min(LEADER_CHECK)
        } else {
            sleep
        };
        // Deadlines are whole seconds; waking a little after guarantees `now >= deadline`.
        let sleep = sleep + Duration::from_millis(50);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = &mut notified => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Attempts every due webhook delivery; returns when the next retry is due.
async fn deliver_due(app: &Arc<App>, http: &reqwest::Client) -> Option<i64> {
    let pending = {
        let a = app.clone();
        match tokio::task::spawn_blocking(move || a.db.pending_deliveries()).await {
            Ok(Ok(p)) => p,
            _ => return Some(app.clock.now() + 30),
        }
    };
    let mut next: Option<i64> = None;
    for d in pending {
        let now = app.clock.now();
        if d.next_attempt_at > now {
            next = Some(next.map_or(d.next_attempt_at, |n| n.min(d.next_attempt_at)));
            continue;
        }
        let secret = {
            let a = app.clone();
            let site = d.site_id;
            tokio::task::spawn_blocking(move || a.db.site_by_id(site))
                .await
                .ok()
                .and_then(|r| r.ok())
                .flatten()
        };
        let Some(site) = secret else { continue };
        // An unreadable secret (secret.key replaced) is a failed attempt like any other: it is
        // listed by `stagerepo admin webhooks` and given up after the retry period.
        let (status, error) = match app.secrets.reveal(&site.webhook_secret) {
            Err(e) => (None, Some(format!("not sent: {e}"))),
            Ok(key) => {
                let result = http
                    .post(&d.url)
                    .header("Content-Type", "application/json")
                    .header("X-Stagerepo-Event", &d.event)
                    .header("X-Stagerepo-Delivery", d.id.to_string())
                    .header("X-Stagerepo-Signature", sign(&key, d.payload.as_bytes()))
                    .body(d.payload.clone())
                    .send()
                    .await;
                match result {
                    Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
                    Ok(r) => (Some(r.status().as_u16()), Some(format!("answered {}", r.status()))),
                    Err(e) => (None, Some(e.to_string())),
                }
            }
        };
        let delivered = error.is_none();
        let retry_at = now + backoff_seconds(d.attempts);
        let next_attempt = (!delivered && retry_at <= d.created_at + RETRY_FOR_SECONDS).then_some(retry_at);
        if let Some(t) = next_attempt {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        if let Some(e) = &error {
            tracing::warn!(site = %site.name, event = %d.event, attempt = d.attempts + 1, error = %e, "webhook delivery failed");
        }
        let a = app.clone();
        let err = error.clone();
        let recorded = tokio::task::spawn_blocking(move || {
            a.db.record_attempt(d.id, now, status, err.as_deref(), delivered, next_attempt)
        })
        .await;
        if let Ok(Err(e)) = recorded {
            // Not recorded, the delivery stays due: it is tried again (receivers dedupe by
            // X-Stagerepo-Delivery).
            tracing::error!(delivery = d.id, error = %e, "cannot record a webhook delivery attempt");
        }
    }
    next
}

/// How long an e-mail is retried before it is given up: relays may be down for hours.
const MAIL_RETRY_FOR_SECONDS: i64 = 24 * 3600;

/// Sends every due queued e-mail; returns when the next retry is due.
async fn send_mail_due(app: &Arc<App>, mailer: &Mailer) -> Option<i64> {
    let pending = {
        let a = app.clone();
        match tokio::task::spawn_blocking(move || a.db.pending_mail()).await {
            Ok(Ok(p)) => p,
            _ => return Some(app.clock.now() + 30),
        }
    };
    let mut next: Option<i64> = None;
    for m in pending {
        let now = app.clock.now();
        if m.next_attempt_at > now {
            next = Some(next.map_or(m.next_attempt_at, |n| n.min(m.next_attempt_at)));
            continue;
        }
        let error = mailer.send(&m).await.err().map(|e| e.to_string());
        let retry_at = now + backoff_seconds(m.attempts);
        let next_attempt = (error.is_some() && retry_at <= m.created_at + MAIL_RETRY_FOR_SECONDS).then_some(retry_at);
        if let Some(t) = next_attempt {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        match &error {
            Some(e) => {
                tracing::warn!(mail = m.id, event = %m.event, attempt = m.attempts + 1, error = %e, "e-mail not sent")
            }
            None => tracing::info!(mail = m.id, event = %m.event, to = ?m.recipients, "e-mail sent"),
        }
        let a = app.clone();
        let recorded =
            tokio::task::spawn_blocking(move || a.db.record_mail_attempt(m.id, now, error.as_deref(), next_attempt))
                .await;
        if let Ok(Err(e)) = recorded {
            tracing::error!(mail = m.id, error = %e, "cannot record an e-mail attempt");
        }
    }
    next
}
