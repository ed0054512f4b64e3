//! Configuration: embedded defaults < TOML file < `STAGEREPO_*` environment < command-line flags.
//!
//! The file is parsed strictly: an unknown key is an error, so a typo never silently falls back
//! to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Largest `min_deployed_sites`.
pub const MAX_MIN_DEPLOYED_SITES: u32 = 1000;

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
    /// `postgres://user[:password]@host[:port]/dbname`: keep the control-plane database in
    /// PostgreSQL instead of `<data_dir>/stagerepo.db` (SQLite, the default when unset).
    pub database_url: Option<String>,
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
    /// Name of the per-distribution release package, served as `/repo/<dist>/<name>.noarch.rpm`.
    pub release_package: String,
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
    /// Bytes that uploads in progress may hold in `<data-dir>/tmp` together (0 = unlimited);
    /// an upload that would need more is answered 503 with Retry-After.
    pub max_temp_bytes: u64,
    /// Slowest accepted upload body, in bytes per second, measured over each period of
    /// `upload_rate_grace`; a slower upload is cut with 408. 0 turns the floor off.
    pub min_upload_rate: u64,
    /// The period over which `min_upload_rate` is measured; the first one is the grace of a
    /// slow start.
    pub upload_rate_grace: String,
    /// Memory (MiB) for the contents of repository files served from memory (repodata,
    /// small packages); 0 serves every file from disk.
    pub file_cache_mb: u64,
    /// A publication whose new repodata files add up to at least this many MiB is served
    /// from memory at once and written to disk behind (0: always; large: never).
    pub write_behind_mb: u64,
    /// How often a background thread re-reads every stored package and repodata file
    /// (like `stagerepo admin verify`) at idle I/O priority; "0" (the default) never does.
    pub scrub_interval: String,
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
    /// Rollout sites that must show deployment evidence (a host running the release before
    /// the deadline, or an `ok` report) before silence counts as approval; per element in
    /// `[element.NAME]`.
    pub min_deployed_sites: u32,
    /// Time added to every site's SLA period before its clock starts (e.g. the .repo files'
    /// `metadata_expire`); per element in `[element.NAME]`.
    pub sla_grace: String,
    /// Per-element rollout settings, by element name.
    pub element: BTreeMap<String, ElementConfig>,
    /// Where packages and published repositories are kept besides the data directory:
    /// `local` (only there) or `s3` (also in the bucket of `[s3]`).
    pub storage: StorageKind,
    /// The S3-compatible bucket, with `storage = "s3"`.
    pub s3: Option<S3Config>,
    /// With `storage = "s3"`: answer package downloads with a 302 to a presigned URL of the
    /// bucket, so the bytes flow from the object store and not through the daemon.
    pub redirect_downloads: bool,
    /// How long a presigned download URL stays valid.
    pub presign_ttl: String,
}

/// Where the package store and the published repositories live.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// The data directory only.
    #[default]
    Local,
    /// The data directory (the publisher's working copy) and an S3-compatible bucket.
    S3,
}

/// An S3-compatible bucket. Credentials unset here come from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), as AWS tools read them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The endpoint URL, e.g. `https://s3.example.org` or `http://127.0.0.1:8333`; unset is AWS.
    pub endpoint: Option<String>,
    /// The bucket's name.
    pub bucket: String,
    /// The region (`us-east-1` when unset).
    pub region: Option<String>,
    /// Key prefix inside the bucket (e.g. `stagerepo/`); empty by default.
    #[serde(default)]
    pub prefix: String,
    /// Access key id (else `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret access key (else `AWS_SECRET_ACCESS_KEY`; prefer the environment or a file).
    pub secret_access_key: Option<String>,
}

/// Rollout settings of one element; unset keys fall back to the top-level defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ElementConfig {
    pub min_deployed_sites: Option<u32>,
    pub sla_grace: Option<String>,
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
            database_url: None,
            public_url: None,
            max_upload_size: 2 * 1024 * 1024 * 1024,
            keep_generations: 2,
            auto_announce: false,
            auto_promote: true,
            fast_track_sla: "1d".into(),
            advisory_prefix: "STAGE".into(),
            release_package: "stagerepo-release".into(),
            signing_key: None,
            dist: BTreeMap::from([("el9".to_string(), DistConfig::default())]),
            log_format: LogFormat::Text,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            header_timeout: "10s".into(),
            body_timeout: "30s".into(),
            max_concurrent_uploads: 8,
            max_temp_bytes: 4 * 1024 * 1024 * 1024,
            min_upload_rate: 4096,
            upload_rate_grace: "10s".into(),
            file_cache_mb: 128,
            write_behind_mb: 4,
            scrub_interval: "0".into(),
            min_deployed_sites: 1,
            sla_grace: "0s".into(),
            element: BTreeMap::new(),
            smtp_server: None,
            smtp_port: None,
            smtp_starttls: false,
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
            smtp_from: "stagerepo@localhost".into(),
            notify_emails: Vec::new(),
            storage: StorageKind::Local,
            s3: None,
            redirect_downloads: false,
            presign_ttl: "15m".into(),
        }
    }
}

/// Values given on the command line or in the environment; `None` leaves the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub max_upload_size: Option<u64>,
}

impl Config {
    /// `file_cache_mb` in bytes.
    pub fn file_cache_bytes(&self) -> u64 {
        self.file_cache_mb.saturating_mul(1024 * 1024)
    }

    /// `write_behind_mb` in bytes.
    pub fn write_behind_bytes(&self) -> u64 {
        self.write_behind_mb.saturating_mul(1024 * 1024)
    }

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
        if let Some(v) = overrides.database_url {
            config.database_url = Some(v);
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

    /// `fast_track_sla` in seconds (1s to a year, like every SLA period).
    pub fn fast_track_seconds(&self) -> Result<i64, ConfigError> {
        use crate::domain::limits;
        let invalid = |message| ConfigError::Invalid {
            key: "fast_track_sla".into(),
            message,
        };
        let s =
            limits::parse_duration("fast_track_sla", &self.fast_track_sla, limits::MAX_SLA_SECONDS).map_err(invalid)?;
        limits::check_sla("fast_track_sla", s).map_err(invalid)?;
        Ok(s)
    }

    /// The deployment evidence and SLA grace (seconds) an element's releases need.
    pub fn rollout_policy(&self, element: &str) -> Result<(u32, i64), ConfigError> {
        let e = self.element.get(element);
        let min = e.and_then(|e| e.min_deployed_sites).unwrap_or(self.min_deployed_sites);
        let (key, grace) = match e.and_then(|e| e.sla_grace.as_deref()) {
            Some(g) => (format!("element.{element}.sla_grace"), g),
            None => ("sla_grace".to_string(), self.sla_grace.as_str()),
        };
        let grace = humantime::parse_duration(grace.trim())
            .map_err(|e| e.to_string())
            .and_then(|d| {
                i64::try_from(d.as_secs())
                    .ok()
                    .filter(|s| *s <= crate::domain::limits::MAX_SLA_SECONDS)
                    .ok_or_else(|| format!("at most {}s", crate::domain::limits::MAX_SLA_SECONDS))
            })
            .map_err(|message| ConfigError::Invalid { key, message })?;
        Ok((min, grace))
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.validate_operations()?;
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::Invalid {
                    key: "database_url".into(),
                    message: "expected a postgres:// URL (leave it unset for SQLite in data_dir)".into(),
                });
            }
        }
        // More sites than any grid has rollout sites for one element could never be met:
        // every release would need --force.
        let sites = std::iter::once(("min_deployed_sites".to_string(), self.min_deployed_sites)).chain(
            self.element.iter().filter_map(|(name, e)| {
                e.min_deployed_sites
                    .map(|m| (format!("element.{name}.min_deployed_sites"), m))
            }),
        );
        for (key, value) in sites {
            if value > MAX_MIN_DEPLOYED_SITES {
                return Err(ConfigError::Invalid {
                    key,
                    message: format!("{value} is more than {MAX_MIN_DEPLOYED_SITES} sites"),
                });
            }
        }
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
        self.rollout_policy("")?;
        for name in self.element.keys() {
            self.rollout_policy(name)?;
        }
        if self.advisory_prefix.is_empty() || !self.advisory_prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::Invalid {
                key: "advisory_prefix".into(),
                message: "use letters and digits only".into(),
            });
        }
        let name_ok = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
        if self.release_package.is_empty()
            || self.release_package.len() > 64
            || !self.release_package.chars().all(name_ok)
        {
            return Err(ConfigError::Invalid {
                key: "release_package".into(),
                message: "a package name: letters, digits and ._+- only, at most 64 characters".into(),
            });
        }
        self.validate_mail()?;
        if !(1..=1000).contains(&self.keep_generations) {
            return Err(ConfigError::Invalid {
                key: "keep_generations".into(),
                message: "must be 1 to 1000".into(),
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
    fn element_rollout_policy_falls_back_to_the_defaults() {
        let c = Config::from_toml("min_deployed_sites = 2\n[element.fts]\nsla_grace = \"5m\"\n").unwrap();
        assert_eq!(c.rollout_policy("fts").unwrap(), (2, 300));
        assert_eq!(c.rollout_policy("other").unwrap(), (2, 0));
        assert_eq!(Config::default().rollout_policy("x").unwrap(), (1, 0));
        let bad = Config::from_toml("[element.fts]\nsla_grace = \"soon\"\n").unwrap();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn file_then_overrides() {
        let c = Config::from_toml("listen = \"127.0.0.1:9000\"\n[dist.el8]\n[dist.el9]\n").unwrap();
        assert_eq!(c.dist.len(), 2);
        assert_eq!(c.listen.port(), 9000);
    }
}
