//! The operational settings of [`Config`] (timeouts, proxies, TLS, limits) and
//! `stagerepo config check`, which names the line of a bad value.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;

use crate::config::{Config, ConfigError};

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Highest `min_upload_rate`: above it, the floor would cut uploads on any network.
const MAX_MIN_UPLOAD_RATE: u64 = 1024 * 1024 * 1024;

fn positive_duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(value.trim()).map_err(|e| invalid(key, format!("{value:?}: {e}")))?;
    if d.is_zero() {
        return Err(invalid(key, "must be longer than zero"));
    }
    // Bounded so that adding it to an instant can never overflow.
    if d.as_secs() > crate::domain::limits::MAX_SINCE_SECONDS as u64 {
        return Err(invalid(
            key,
            format!(
                "{value:?} is out of range: at most {}s",
                crate::domain::limits::MAX_SINCE_SECONDS
            ),
        ));
    }
    Ok(d)
}

/// Parses one `trusted_proxies` entry: an IP address or a CIDR block.
pub fn parse_proxy(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

impl Config {
    /// `header_timeout` as a duration.
    pub fn header_timeout_duration(&self) -> Result<Duration, ConfigError> {
        positive_duration("header_timeout", &self.header_timeout)
    }

    /// `scrub_interval` as a duration; None when the background scrub is off ("0").
    pub fn scrub_interval_duration(&self) -> Result<Option<Duration>, ConfigError> {
        let value = self.scrub_interval.trim();
        if humantime::parse_duration(value).is_ok_and(|d| d.is_zero()) || value == "0" {
            return Ok(None);
        }
        let d = positive_duration("scrub_interval", value)?;
        // Each run reads the whole store: sub-second periods are a busy loop, surely a typo.
        if d < Duration::from_secs(1) {
            return Err(invalid(
                "scrub_interval",
                "must be 0 (off) or at least 1s; each run reads the whole store, so hours or days are usual",
            ));
        }
        Ok(Some(d))
    }

    /// `presign_ttl` as a duration (1 s to 7 days, S3's limit for presigned URLs).
    pub fn presign_ttl_duration(&self) -> Result<Duration, ConfigError> {
        let d = positive_duration("presign_ttl", &self.presign_ttl)?;
        if d > Duration::from_secs(7 * 24 * 3600) {
            return Err(invalid("presign_ttl", "must be at most 7 days (S3's limit)"));
        }
        Ok(d)
    }

    /// `body_timeout` as a duration.
    pub fn body_timeout_duration(&self) -> Result<Duration, ConfigError> {
        positive_duration("body_timeout", &self.body_timeout)
    }

    /// `upload_rate_grace` as a duration.
    pub fn upload_rate_grace_duration(&self) -> Result<Duration, ConfigError> {
        positive_duration("upload_rate_grace", &self.upload_rate_grace)
    }

    /// `trusted_proxies` as networks.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                parse_proxy(p).ok_or_else(|| invalid("trusted_proxies", format!("{p:?} is not an IP address or CIDR")))
            })
            .collect()
    }

    /// Checks the operational settings; called by [`Config::load`].
    pub(crate) fn validate_operations(&self) -> Result<(), ConfigError> {
        self.header_timeout_duration()?;
        self.body_timeout_duration()?;
        self.scrub_interval_duration()?;
        self.trusted_proxy_nets()?;
        self.presign_ttl_duration()?;
        match (self.storage, &self.s3) {
            (crate::config::StorageKind::S3, None) => {
                return Err(invalid("storage", "\"s3\" needs an [s3] table with at least bucket"))
            }
            (crate::config::StorageKind::S3, Some(s3)) if s3.bucket.trim().is_empty() => {
                return Err(invalid("s3.bucket", "must not be empty"))
            }
            (crate::config::StorageKind::Local, _) if self.redirect_downloads => {
                return Err(invalid(
                    "redirect_downloads",
                    "needs storage = \"s3\" (there is no bucket to redirect to)",
                ))
            }
            _ => {}
        }
        if !(1..=100_000).contains(&self.max_concurrent_uploads) {
            return Err(invalid("max_concurrent_uploads", "must be 1 to 100000"));
        }
        if self.file_cache_mb > 1024 * 1024 {
            return Err(invalid("file_cache_mb", "must be at most 1048576 (1 TiB)"));
        }
        if self.max_upload_size == 0 {
            return Err(invalid("max_upload_size", "must be at least 1"));
        }
        if self.max_temp_bytes != 0 && self.max_temp_bytes < self.max_upload_size {
            return Err(invalid(
                "max_temp_bytes",
                // Named with both values: raising max_upload_size alone (flag, environment)
                // meets the 4 GiB default of max_temp_bytes, which the user never set.
                format!(
                    "is {} but must be 0 (unlimited) or at least max_upload_size ({}), else the largest accepted upload could never be received; raise max_temp_bytes with max_upload_size",
                    self.max_temp_bytes, self.max_upload_size
                ),
            ));
        }
        if self.min_upload_rate > MAX_MIN_UPLOAD_RATE {
            return Err(invalid(
                "min_upload_rate",
                format!("must be at most {MAX_MIN_UPLOAD_RATE} (1 GiB/s) bytes per second"),
            ));
        }
        self.upload_rate_grace_duration()?;
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => Err(invalid("tls_key", "tls_cert is set, so tls_key is needed too")),
            (None, Some(_)) => Err(invalid("tls_cert", "tls_key is set, so tls_cert is needed too")),
            _ => Ok(()),
        }
    }

    /// `stagerepo config check FILE`: parses `path` strictly, validates every value and loads
    /// the TLS certificate and key and the signing key when configured. A bad value's error names its key and line.
    pub fn check_file(path: &Path) -> Result<Config, ConfigError> {
        let config = Config::from_file(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let located = |e: ConfigError| match e {
            ConfigError::Invalid { key, message } => ConfigError::Parse {
                path: path.to_path_buf(),
                message: match key_line(&text, &key) {
                    Some(line) => format!("line {line}: invalid value for {key}: {message}"),
                    None => format!("invalid value for {key}: {message}"),
                },
            },
            other => other,
        };
        config.validate().map_err(located)?;
        if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
            crate::http::tls::load_certified_key(cert, key).map_err(|e| located(invalid("tls_cert", e.to_string())))?;
        }
        if let Some(key) = &config.signing_key {
            crate::signing::RepoSigner::load(key).map_err(|e| located(invalid("signing_key", e.to_string())))?;
        }
        Ok(config)
    }
}

/// The settings that differ between the running configuration and a re-read one. None of them
/// changes while the server runs (the TLS files are re-read on SIGHUP, but not their paths).
pub fn restart_needed(running: &Config, fresh: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! compare {
        ($($field:ident),*) => {
            $(if running.$field != fresh.$field {
                changed.push(stringify!($field));
            })*
        };
    }
    compare!(
        listen,
        data_dir,
        database_url,
        public_url,
        max_upload_size,
        keep_generations,
        auto_announce,
        auto_promote,
        fast_track_sla,
        advisory_prefix,
        dist,
        log_format,
        tls_cert,
        tls_key,
        trusted_proxies,
        header_timeout,
        body_timeout,
        max_concurrent_uploads,
        max_temp_bytes,
        min_upload_rate,
        upload_rate_grace,
        file_cache_mb,
        write_behind_mb,
        scrub_interval,
        smtp_server,
        smtp_port,
        smtp_starttls,
        smtp_username,
        smtp_password,
        smtp_password_file,
        smtp_from,
        notify_emails,
        storage,
        s3,
        redirect_downloads,
        presign_ttl
    );
    if changed.is_empty() && running != fresh {
        changed.push("(other settings)");
    }
    changed
}

/// The 1-based line where `key` (dotted for tables, e.g. `dist.el9`) is set in TOML `text`.
pub fn key_line(text: &str, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    for part in key.split('.') {
        item = item.get(part)?;
    }
    let span = match item {
        toml_edit::Item::Table(t) => t.span(),
        other => other.span(),
    }?;
    Some(text[..span.start].matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_accept_addresses_and_networks() {
        assert_eq!(parse_proxy("10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        assert_eq!(parse_proxy("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_proxy("::1").unwrap().to_string(), "::1/128");
        assert!(parse_proxy("proxy.example.org").is_none());
    }

    #[test]
    fn key_lines() {
        let text = "listen = \"127.0.0.1:1\"\n\n# c\nheader_timeout = \"x\"\n[dist.el9]\n";
        assert_eq!(key_line(text, "header_timeout"), Some(4));
        assert_eq!(key_line(text, "listen"), Some(1));
        assert_eq!(key_line(text, "dist.el9"), Some(5));
        assert_eq!(key_line(text, "nope"), None);
    }

    #[test]
    fn check_names_key_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nbody_timeout = \"soon\"\n").unwrap();
        let err = Config::check_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("body_timeout"), "{err}");
        std::fs::write(&path, "trusted_proxies = [\"10.0.0.0/8\", \"nope\"]\n").unwrap();
        let err = Config::check_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("nope"), "{err}");
        std::fs::write(&path, "tls_cert = \"/nonexistent.pem\"\n").unwrap();
        let err = Config::check_file(&path).unwrap_err().to_string();
        assert!(err.contains("tls_key"), "{err}");
    }

    /// Every key `Config` accepts, read from the strict parser's own error message.
    fn config_keys() -> Vec<String> {
        let err = Config::from_toml("no_such_key_at_all = 1\n").unwrap_err();
        let expected = err.split("expected one of").nth(1).expect("serde lists the fields");
        expected
            .split(',')
            .map(|k| k.trim().trim_matches('`').to_string())
            .filter(|k| !k.is_empty())
            .collect()
    }

    #[test]
    fn scrub_and_evidence_settings_are_bounded() {
        let check = |toml: &str| {
            let c = Config::from_toml(toml).unwrap();
            c.validate().map_err(|e| e.to_string())
        };
        assert!(check("scrub_interval = \"1ms\"\n").unwrap_err().contains("at least 1s"));
        check("scrub_interval = \"12h\"\n").unwrap();
        assert!(check("min_deployed_sites = 100000\n")
            .unwrap_err()
            .contains("min_deployed_sites"));
        let e = check("[element.fts]\nmin_deployed_sites = 5000\n").unwrap_err();
        assert!(e.contains("element.fts.min_deployed_sites"), "{e}");
        check("min_deployed_sites = 3\n").unwrap();
    }

    #[test]
    fn object_storage_needs_its_bucket() {
        let check = |toml: &str| {
            Config::from_toml(toml)
                .unwrap()
                .validate_operations()
                .map_err(|e| e.to_string())
        };
        assert!(check("storage = \"s3\"\n").unwrap_err().contains("needs an [s3] table"));
        assert!(check("storage = \"s3\"\n[s3]\nbucket = \" \"\n")
            .unwrap_err()
            .contains("s3.bucket"));
        assert!(check("redirect_downloads = true\n")
            .unwrap_err()
            .contains("storage = \"s3\""));
        assert!(check("presign_ttl = \"30d\"\n").unwrap_err().contains("7 days"));
        check("storage = \"s3\"\nredirect_downloads = true\n[s3]\nbucket = \"b\"\n").unwrap();
        assert!(Config::from_toml("storage = \"nfs\"\n").is_err());
    }

    #[test]
    fn packaged_example_documents_every_option_with_its_default() {
        let text = include_str!("../../packaging/stagerepo.toml");
        let example = Config::from_toml(text).unwrap();
        // The example leaves public_url, tls_cert, tls_key and signing_key commented out (their
        // default is unset) and shows every other option with its default value.
        assert_eq!(example, Config::default());
        let keys = config_keys();
        assert!(
            keys.len() >= 17 && keys.contains(&"max_concurrent_uploads".to_string()),
            "{keys:?}"
        );
        for key in keys {
            let set = text.lines().any(|l| l.starts_with(&format!("{key} = ")));
            let commented = text.lines().any(|l| l.starts_with(&format!("# {key} = ")));
            let table = text
                .lines()
                .any(|l| l.starts_with(&format!("[{key}.")) || l == format!("# [{key}]"));
            assert!(
                set || commented || table,
                "packaging/stagerepo.toml does not document {key}"
            );
        }
        // The commented examples are valid values too.
        let uncommented: String = text
            .lines()
            .map(|l| {
                ["public_url", "tls_cert", "tls_key", "signing_key"]
                    .iter()
                    .find(|k| l.starts_with(&format!("# {k} = ")))
                    .map_or(l, |_| &l[2..])
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = Config::from_toml(&uncommented).unwrap();
        c.validate().unwrap();
        assert!(c.public_url.is_some() && c.tls_cert.is_some() && c.tls_key.is_some() && c.signing_key.is_some());
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::default();
        c.validate_operations().unwrap();
        assert_eq!(c.header_timeout_duration().unwrap(), Duration::from_secs(10));
        assert!(c.trusted_proxy_nets().unwrap().is_empty());
        assert_eq!(c.upload_rate_grace_duration().unwrap(), Duration::from_secs(10));
    }

    #[test]
    fn upload_limits_are_checked() {
        let bad = |toml: &str, key: &str| {
            let err = Config::from_toml(toml).unwrap().validate().unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        };
        bad("max_temp_bytes = 1000\n", "max_temp_bytes");
        bad("upload_rate_grace = \"0s\"\n", "upload_rate_grace");
        bad("upload_rate_grace = \"soon\"\n", "upload_rate_grace");
        bad("min_upload_rate = 2000000000\n", "min_upload_rate");
        let ok = Config::from_toml("max_upload_size = 1000\nmax_temp_bytes = 1000\nmin_upload_rate = 0\n").unwrap();
        ok.validate().unwrap();
        Config::from_toml("max_temp_bytes = 0\n").unwrap().validate().unwrap();
    }
}
