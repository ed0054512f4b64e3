//! Telling sites: the public feed and signed webhooks, queued in the same transaction as the
//! state change they announce so that none is lost or sent for a change that did not happen.

use crate::db::Tx;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::App;
use crate::db::{Db, DbResult, Site};
use crate::domain::release::Release;
use crate::domain::repo::RepoKind;

/// The `X-Stagerepo-Signature` value of a body: `sha256=<hex HMAC-SHA256 under the secret>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delay before retry number `attempts` (1, 2, ...): doubling from 5 s, at most 10 minutes.
pub fn backoff_seconds(attempts: i64) -> i64 {
    (5i64 << attempts.clamp(0, 12)).min(600)
}

/// What happened to a release, for the feed and the webhooks.
pub(super) struct Notice<'a> {
    /// `announce`, `promote`, `reject`, `withdraw`.
    pub event: &'a str,
    /// The release in its new state.
    pub release: &'a Release,
    pub title: String,
    pub content: String,
}

/// How long a delivery is retried before it is given up.
pub const RETRY_FOR_SECONDS: i64 = 2 * 3600;

impl App {
    /// The base URL clients reach this server at, for links in notifications.
    pub fn public_base(&self) -> String {
        match &self.config.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.config.listen),
        }
    }

    /// The `.repo` URL of one repository.
    pub fn repo_file_url(&self, dist: &str, repo: RepoKind) -> String {
        format!("{}/repo/{dist}/{repo}.repo", self.public_base())
    }

    /// Adds a feed entry and queues one webhook per site (inside the caller's transaction).
    pub(super) fn notify(&self, tx: &Tx<'_>, notice: &Notice<'_>, sites: &[(Site, Value)], now: i64) -> DbResult<()> {
        let Notice {
            event,
            release,
            title,
            content,
        } = notice;
        let (event, title, content) = (*event, title.as_str(), content.as_str());
        let advisory = Db::advisory_of_release(tx, release.id)?;
        let with_advisory;
        let content = match &advisory {
            Some(a) => {
                with_advisory = format!("{content} Advisory {a}.");
                with_advisory.as_str()
            }
            None => content,
        };
        Db::insert_feed_entry(tx, now, event, release.id, title, content)?;
        self.queue_mails(tx, notice, advisory.as_deref(), sites, now)?;
        for (site, extra) in sites {
            let Some(url) = &site.webhook else { continue };
            let mut payload = json!({
                "event": event,
                "release": {
                    "id": release.id,
                    "dist": release.dist,
                    "element": release.element,
                    "version": release.version,
                    "team": release.team,
                    "notes": release.notes,
                    "advisory": advisory,
                },
                "packages": release.packages,
                "advisory": advisory,
                "site": site.name,
                "beta_repo": self.repo_file_url(&release.dist, RepoKind::Beta),
                "production_repo": self.repo_file_url(&release.dist, RepoKind::Production),
                "message": content,
                "at": now,
            });
            if let (Value::Object(p), Value::Object(e)) = (&mut payload, extra) {
                p.extend(e.clone());
            }
            Db::queue_delivery(tx, site.id, event, url, &payload.to_string(), now)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_rfc2104_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(super::backoff_seconds(0), 5);
        assert_eq!(super::backoff_seconds(1), 10);
        assert_eq!(super::backoff_seconds(20), 600);
    }
}
