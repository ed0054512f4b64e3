//! The per-distribution release package: one `dnf install URL` gives a host the production
//! repository (and beta, disabled) and the key that signs them, as EPEL's and every
//! distribution's `*-release` packages do.

use super::{App, ServiceError, ServiceResult};
use crate::domain::repo::RepoKind;

/// Where the package puts the repository key; the `.repo` file points `gpgkey` at it.
pub const KEY_PATH: &str = "/etc/pki/rpm-gpg/RPM-GPG-KEY-stagerepo";

impl App {
    /// The file name the release package of every distribution is served under.
    pub fn release_rpm_file(&self) -> String {
        format!("{}.noarch.rpm", self.config.release_package)
    }

    /// The `.repo` file the release package installs: production enabled, beta disabled
    /// (sites enable it with `--enablerepo` for a rollout), both checked against the
    /// installed key when the server signs.
    pub fn release_repo_file(&self, base: &str, dist: &str) -> String {
        let signed = self.signer.is_some();
        let mut text = format!(
            "# Installed by {}: the stagerepo repositories of {dist}.\n",
            self.config.release_package
        );
        for repo in RepoKind::ALL {
            let mut stanza = crate::domain::repo::repo_definition(base, dist, repo, signed);
            if repo == RepoKind::Beta {
                stanza = stanza.replace("enabled=1\n", "enabled=0\n");
            }
            let remote_key = format!("gpgkey={base}/repo/{dist}/RPM-GPG-KEY-stagerepo\n");
            text.push('\n');
            text.push_str(&stanza.replace(&remote_key, &format!("gpgkey=file://{KEY_PATH}\n")));
        }
        text
    }

    /// Builds the release package of `dist` for clients reaching the server at `base`.
    /// Built per request rather than cached: it is small (a few ms), fetched once per host,
    /// and must follow `public_url` and key changes without a restart.
    pub fn release_rpm(&self, dist: &str, base: &str) -> ServiceResult<Vec<u8>> {
        self.require_dist(dist)?;
        let name = &self.config.release_package;
        let internal = |e: rpm::Error| ServiceError::Internal(format!("building {name}: {e}"));
        let repo_file = self.release_repo_file(base, dist);
        let mut builder = rpm::PackageBuilder::new(
            name,
            env!("CARGO_PKG_VERSION"),
            "MIT",
            "noarch",
            &format!("stagerepo repository configuration for {dist}"),
        );
        builder
            .release("1")
            .url(base)
            .description(format!(
                "The yum/dnf repository definitions of the stagerepo server at {base} for {dist}: \
                 production (enabled) and beta (disabled, for staged rollouts){}.",
                if self.signer.is_some() {
                    ", and the key that signs their metadata"
                } else {
                    ""
                }
            ))
            .with_file_contents(
                repo_file.into_bytes(),
                rpm::FileOptions::new(format!("/etc/yum.repos.d/stagerepo-{dist}.repo"))
                    .permissions(0o644)
                    .config()
                    .noreplace(),
            )
            .map_err(internal)?;
        let package = match &self.signer {
            Some(signer) => {
                builder
                    .with_file_contents(
                        signer.public_armored.clone().into_bytes(),
                        rpm::FileOptions::new(KEY_PATH).permissions(0o644),
                    )
                    .map_err(internal)?;
                let rpm_signer = signer.rpm_signer().map_err(|e| ServiceError::Internal(e.to_string()))?;
                builder.build_and_sign(rpm_signer).map_err(internal)?
            }
            None => builder.build().map_err(internal)?,
        };
        let mut out = Vec::new();
        package.write(&mut out).map_err(internal)?;
        Ok(out)
    }
}
