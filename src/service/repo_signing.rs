//! Repository signatures follow the configuration from the start: turning `signing_key` on
//! for an existing data directory must not leave `repo_gpgcheck=1` clients facing a missing
//! `repomd.xml.asc` until the next publication, a changed key must not leave signatures of
//! the old one, and turning signing off must not leave a stale signature behind.

use super::{App, ServiceError, ServiceResult};

impl App {
    /// Signs every repository whose repomd.xml lacks a valid signature by the configured key
    /// (or removes the signatures when none is configured). Run at start, after the
    /// repositories are reconciled with the database.
    pub(super) fn ensure_signatures(&self) -> ServiceResult<()> {
        let sign = |data: &[u8]| -> Result<String, String> {
            self.signer
                .as_ref()
                .expect("only called when configured")
                .sign(data)
                .map_err(|e| e.to_string())
        };
        let valid = |data: &[u8], sig: &str| self.signer.as_ref().is_some_and(|s| s.verifies(data, sig));
        for ((dist, repo), lock) in &self.publishers {
            let _publisher = lock.lock().unwrap_or_else(|p| p.into_inner());
            let dir = self.repos_dir.join(dist).join(repo.as_str());
            let signer: Option<(&crate::repodata::Signer<'_>, &crate::repodata::SignatureCheck<'_>)> =
                self.signer.as_ref().map(|_| (&sign as _, &valid as _));
            let changed = crate::repodata::resign(&dir, signer).map_err(ServiceError::from)?;
            if changed {
                let what = if self.signer.is_some() {
                    "signed repomd.xml with the configured key"
                } else {
                    "removed the signatures (no signing_key)"
                };
                tracing::info!(dist, %repo, "{what}");
            }
        }
        Ok(())
    }
}
