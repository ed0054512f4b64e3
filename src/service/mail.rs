//! E-mail about releases: composed and queued with the state change (see `notify`), sent by
//! the mail worker through the configured SMTP relay.

use std::time::Duration;

use crate::db::Tx;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use super::notify::Notice;
use super::App;
use crate::config::{Config, ConfigError};
use crate::db::{Db, DbResult, PendingMail, Site};
use crate::domain::repo::RepoKind;

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad address {0:?}: {1}")]
    Address(String, String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
}

/// A connected-on-demand SMTP relay and the sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The relay of the configuration, or `None` when `smtp_server` is unset.
    pub fn from_config(config: &Config) -> Result<Option<Mailer>, ConfigError> {
        let Some(server) = &config.smtp_server else {
            return Ok(None);
        };
        let invalid = |message: String| ConfigError::Invalid {
            key: "smtp_server".into(),
            message,
        };
        let mut builder = if config.smtp_starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(server).map_err(|e| invalid(e.to_string()))?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server)
        };
        let port = config.smtp_port.unwrap_or(if config.smtp_starttls { 587 } else { 25 });
        builder = builder.port(port).timeout(Some(Duration::from_secs(20)));
        if let Some(user) = &config.smtp_username {
            let password = config.smtp_password()?.unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let from = config.smtp_from.parse().map_err(|e| ConfigError::Invalid {
            key: "smtp_from".into(),
            message: format!("{e}"),
        })?;
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends one queued message to all its recipients.
    pub async fn send(&self, mail: &PendingMail) -> Result<(), MailError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        for to in &mail.recipients {
            let mbox: Mailbox = to.parse().map_err(|e| MailError::Address(to.clone(), format!("{e}")))?;
            builder = builder.to(mbox);
        }
        let message = builder
            .body(mail.body.clone())
            .map_err(|e| MailError::Build(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Smtp(e.to_string()))
    }
}

/// A package file name without `.rpm`: a NEVRA dnf accepts as a package spec.
fn nevra(filename: &str) -> &str {
    filename.strip_suffix(".rpm").unwrap_or(filename)
}

impl App {
    /// Queues the e-mails of a notice: one per site with a contact address (with its own
    /// deadline), one to `notify_emails` (inside the caller's transaction). Nothing without SMTP.
    pub(super) fn queue_mails(
        &self,
        tx: &Tx<'_>,
        notice: &Notice<'_>,
        advisory: Option<&str>,
        sites: &[(Site, Value)],
        now: i64,
    ) -> DbResult<()> {
        if self.config.smtp_server.is_none() {
            return Ok(());
        }
        let subject = match advisory {
            Some(a) => format!("[stagerepo] {a}: {}", notice.title),
            None => format!("[stagerepo] {}", notice.title),
        };
        for (site, extra) in sites {
            let Some(email) = &site.email else { continue };
            let body = self.mail_body(notice, advisory, &[(site, extra)]);
            Db::queue_mail(
                tx,
                notice.event,
                Some(notice.release.id),
                std::slice::from_ref(email),
                &subject,
                &body,
                now,
            )?;
        }
        if !self.config.notify_emails.is_empty() {
            let all: Vec<(&Site, &Value)> = sites.iter().map(|(s, v)| (s, v)).collect();
            let body = self.mail_body(notice, advisory, &all);
            Db::queue_mail(
                tx,
                notice.event,
                Some(notice.release.id),
                &self.config.notify_emails,
                &subject,
                &body,
                now,
            )?;
        }
        Ok(())
    }

    /// The plain-text body: what happened, the release, its advisory, deadlines, what to run.
    fn mail_body(&self, notice: &Notice<'_>, advisory: Option<&str>, sites: &[(&Site, &Value)]) -> String {
        let r = notice.release;
        let mut b = format!("{}\n\n{}\n\n", notice.title, notice.content);
        b += &format!("Release:  {} ({} {}, {})\n", r.id, r.element, r.version, r.dist);
        b += &format!("Team:     {}\n", r.team);
        b += &format!("State:    {}\n", r.state.as_str());
        b += &format!("Advisory: {}\n", advisory.unwrap_or("none"));
        b += &format!("Type:     {}\n", r.advisory_type);
        b += "Packages:\n";
        for p in &r.packages {
            b += &format!("  {p}\n");
        }
        for (site, extra) in sites {
            if let Some(iso) = extra.get("deadline_iso").and_then(Value::as_str) {
                b += &format!("Deadline: {iso} (site {})\n", site.name);
            }
        }
        let specs: Vec<&str> = r.packages.iter().map(|p| nevra(p)).collect();
        match notice.event {
            "announce" => {
                let what = match advisory {
                    Some(a) => format!("--advisory={a}"),
                    None => specs.join(" "),
                };
                b += &format!(
                    "\nInstall from beta:\n  dnf --refresh --enablerepo=stagerepo-{}-beta upgrade {what}\n",
                    r.dist
                );
                b += &format!(
                    "Beta repository: {}\n\nReport the outcome before the deadline:\n  stagerepo site report {} --ok\n  stagerepo site report {} --problem \"what is wrong\"\n",
                    self.repo_file_url(&r.dist, RepoKind::Beta),
                    r.id,
                    r.id
                );
            }
            "promote" => {
                let how = match advisory {
                    Some(a) => format!("dnf --refresh upgrade --advisory={a}"),
                    None => format!("dnf --refresh upgrade {}", specs.join(" ")),
                };
                b += &format!(
                    "\nInstall from production:\n  {how}\nProduction repository: {}\n",
                    self.repo_file_url(&r.dist, RepoKind::Production)
                );
            }
            _ => {}
        }
        if !r.notes.is_empty() {
            b += &format!("\nNotes:\n{}\n", r.notes);
        }
        b += &format!("\nFeed: {}/feed.atom\n", self.public_base());
        b
    }
}
