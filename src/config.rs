//! Configuration: embedded defaults < TOML file < `STAGEREPO_*` environment < command-line flags.
//!
//! The file is parsed strictly: an unknown key is an error, so a typo never silently falls back
//! to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {key}: {message}")]
    Invalid { key: String, message: String },
}

/// Settings of one distribution (e.g. `el9`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistConfig {
    /// Refuse uploads and releases not signed by a key of the uploading team.
    #[serde(default)]
    pub require_signed: bool,
}

/// The daemon's whole configuration, with every default filled in.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where the database, package store and repositories live.
    pub data_dir: PathBuf,
    /// Base URL written into `.repo` files; derived from the request's Host when unset.
    pub public_url: Option<String>,
    /// Largest accepted upload, in bytes.
    pub max_upload_size: u64,
    /// How many earlier generations of metadata files stay servable after a publication.
    pub keep_generations: usize,
    /// Announce every new release to its rollout sites at once.
    pub auto_announce: bool,
    /// Promote a release as soon as its gate opens.
    pub auto_promote: bool,
    /// SLA period replacing each site's for a release that fixes a critical problem.
    pub fast_track_sla: String,
    /// ASCII-armoured OpenPGP secret key (unprotected) that signs every repomd.xml.
    pub signing_key: Option<PathBuf>,
    /// Prefix of advisory ids: `<PREFIX>-<YEAR>-<NNNN>`.
    pub advisory_prefix: String,
    /// Distributions served, by name.
    pub dist: BTreeMap<String, DistConfig>,
    /// Log lines as human-readable text (`text`) or one JSON object per line (`json`).
    pub log_format: LogFormat,
    /// PEM certificate chain; with `tls_key`, the server speaks HTTPS only (reloaded on SIGHUP).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies (IP addresses or CIDRs) whose `X-Forwarded-For`, `-Proto` and `-Host`
    /// headers are believed; empty (the default) believes nobody.
    pub trusted_proxies: Vec<String>,
    /// Longest wait for a request's headers, and for the next request on an idle connection.
    pub header_timeout: String,
    /// Longest silence while a request body is being received.
    pub body_timeout: String,
    /// Uploads received at once; more are answered 503 with Retry-After.
    pub max_concurrent_uploads: usize,
    /// SMTP relay that announcements and outcomes are e-mailed through; unset sends no mail.
    pub smtp_server: Option<String>,
    /// Port of `smtp_server`: 587 with `smtp_starttls`, else 25, when unset.
    pub smtp_port: Option<u16>,
    /// Upgrade the SMTP connection with STARTTLS (required when set).
    pub smtp_starttls: bool,
    /// SMTP AUTH user name; authentication is used only when set.
    pub smtp_username: Option<String>,
    /// SMTP AUTH password (prefer `smtp_password_file`).
    pub smtp_password: Option<String>,
    /// File holding the SMTP AUTH password (trailing newline ignored).
    pub smtp_password_file: Option<PathBuf>,
    /// Sender address of the e-mails.
    pub smtp_from: String,
    /// Addresses (e.g. the release manager's) that receive every e-mail sent to sites too.
    pub notify_emails: Vec<String>,
}

/// How the daemon writes its log.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./stagerepo-data"),
            public_url: None,
            max_upload_size: 2 * 1024 * 1024 * 1024,
            keep_generations: 2,
            auto_announce: false,
            auto_promote: true,
            fast_track_sla: "1d".into(),
            advisory_prefix: "STAGE".into(),
            signing_key: None,
            dist: BTreeMap::from([("el9".to_string(), DistConfig::default())]),
            log_format: LogFormat::Text,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            header_timeout: "10s".into(),
            body_timeout: "30s".into(),
            max_concurrent_uploads: 8,
            smtp_server: None,
            smtp_port: None,
            smtp_starttls: false,
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
            smtp_from: "stagerepo@localhost".into(),
            notify_emails: Vec::new(),
        }
    }
}

/// Values given on the command line or in the environment; `None` leaves the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    pub max_upload_size: Option<u64>,
}

impl Config {
    /// Reads `file` (if any) over the defaults, then applies the overrides.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        if let Some(v) = overrides.listen {
            config.listen = v;
        }
        if let Some(v) = overrides.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = overrides.public_url {
            config.public_url = Some(v);
        }
        if let Some(v) = overrides.max_upload_size {
            config.max_upload_size = v;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML file strictly.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses TOML text; the error names the bad key and its line.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// `fast_track_sla` in seconds.
    pub fn fast_track_seconds(&self) -> Result<i64, ConfigError> {
        humantime::parse_duration(&self.fast_track_sla)
            .map(|d| d.as_secs() as i64)
            .map_err(|e| ConfigError::Invalid {
                key: "fast_track_sla".into(),
                message: e.to_string(),
            })
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.validate_operations()?;
        if self.dist.is_empty() {
            return Err(ConfigError::Invalid {
                key: "dist".into(),
                message: "at least one distribution is needed".into(),
            });
        }
        for name in self.dist.keys() {
            if !crate::domain::names::is_valid_name(name) {
                return Err(ConfigError::Invalid {
                    key: format!("dist.{name}"),
                    message: "distribution names use letters, digits, '.', '_' and '-'".into(),
                });
            }
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    key: "public_url".into(),
                    message: format!("{url:?} is not an http(s) URL"),
                });
            }
        }
        self.fast_track_seconds()?;
        if self.advisory_prefix.is_empty() || !self.advisory_prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::Invalid {
                key: "advisory_prefix".into(),
                message: "use letters and digits only".into(),
            });
        }
        self.validate_mail()?;
        if self.keep_generations == 0 {
            return Err(ConfigError::Invalid {
                key: "keep_generations".into(),
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

impl Config {
    fn validate_mail(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.into(),
            message,
        };
        self.smtp_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| invalid("smtp_from", format!("{:?}: {e}", self.smtp_from)))?;
        for a in &self.notify_emails {
            a.parse::<lettre::Address>()
                .map_err(|e| invalid("notify_emails", format!("{a:?}: {e}")))?;
        }
        if self.smtp_password.is_some() && self.smtp_password_file.is_some() {
            return Err(invalid(
                "smtp_password_file",
                "set smtp_password or smtp_password_file, not both".into(),
            ));
        }
        if (self.smtp_password.is_some() || self.smtp_password_file.is_some()) && self.smtp_username.is_none() {
            return Err(invalid("smtp_username", "a password is set but no user name".into()));
        }
        if let Some(s) = &self.smtp_server {
            if s.is_empty() || s.contains(['/', ' ']) {
                return Err(invalid("smtp_server", format!("{s:?} is not a host name")));
            }
        }
        Ok(())
    }

    /// The SMTP password, read from `smtp_password_file` when that is set.
    pub fn smtp_password(&self) -> Result<Option<String>, ConfigError> {
        match &self.smtp_password_file {
            Some(path) => std::fs::read_to_string(path)
                .map(|p| Some(p.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                }),
            None => Ok(self.smtp_password.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_embedded() {
        let c = Config::load(None, Overrides::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./stagerepo-data"));
        assert!(c.dist.contains_key("el9"));
    }

    #[test]
    fn unknown_keys_are_errors_with_line() {
        let err = Config::from_toml("listen = \"127.0.0.1:9000\"\nlisten_adress = 1\n").unwrap_err();
        assert!(err.contains("listen_adress"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn file_then_overrides() {
        let c = Config::from_toml("listen = \"127.0.0.1:9000\"\n[dist.el8]\n[dist.el9]\n").unwrap();
        assert_eq!(c.dist.len(), 2);
        assert_eq!(c.listen.port(), 9000);
    }
}
