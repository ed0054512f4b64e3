//! Uploads: validate a streamed RPM, then make it part of the store. Never visible before that.

use serde::Serialize;
use tempfile::NamedTempFile;

use super::auth::Actor;
use super::{App, ServiceError, ServiceResult};
use crate::db::NewPackage;
use crate::rpmhdr::{read_package, HeaderError};

/// The answer to an upload.
#[derive(Debug, Clone, Serialize)]
pub struct UploadOutcome {
    /// false when identical bytes were already stored under this name (an idempotent retry).
    #[serde(skip)]
    pub created: bool,
    pub filename: String,
    pub nevra: String,
    pub sha256: String,
    pub size: u64,
}

/// Refuses names that are not a plain `*.rpm` file name, before any byte is read.
pub fn check_upload_filename(filename: &str) -> ServiceResult<()> {
    let ok = filename.ends_with(".rpm")
        && filename.len() <= 255
        && !filename.starts_with('.')
        && !filename.contains("..")
        && filename
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~' | '^'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "file name {filename:?} is not acceptable: expected name-version-release.arch.rpm without '/' or '..'"
        )))
    }
}

/// Checks an `X-Checksum-Sha256` value's form.
pub fn check_sha256_hex(value: &str) -> ServiceResult<String> {
    let v = value.trim().to_ascii_lowercase();
    if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(v)
    } else {
        Err(ServiceError::Invalid(format!(
            "X-Checksum-Sha256 {value:?} is not a hex sha256"
        )))
    }
}

/// An upload as the HTTP layer received it.
pub struct Received {
    /// The bytes, in the store's temporary directory.
    pub temp: NamedTempFile,
    /// Their sha256 and size, computed while they arrived.
    pub sha256: String,
    pub size: u64,
    /// The sha256 the client said they have (`X-Checksum-Sha256`).
    pub expected_sha256: Option<String>,
    /// Their copy on its way into the bucket, when there is one.
    pub staged: Option<super::mirror::StagedUpload>,
}

impl App {
    /// Validates an upload as received (see [`Received`]) and stores it. On any refusal its
    /// temporary file is dropped, which deletes it, and its staged copy is abandoned.
    pub fn finish_upload(&self, actor: &Actor, filename: &str, received: Received) -> ServiceResult<UploadOutcome> {
        let Received {
            temp,
            sha256,
            size,
            expected_sha256,
            staged,
        } = received;
        let (sha256, expected_sha256) = (sha256.as_str(), expected_sha256.as_deref());
        let (team_id, team) = actor.require_team()?;
        check_upload_filename(filename)?;
        if let Some(expected) = expected_sha256 {
            if expected != sha256 {
                return Err(ServiceError::Invalid(format!(
                    "checksum mismatch: X-Checksum-Sha256 says {expected}, the received {size} bytes have {sha256}"
                )));
            }
        }
        if let Some(existing) = self.db.package_by_filename(filename)? {
            return if existing.sha256 == sha256 {
                // The same bytes again: the way to repair a stored copy found corrupt.
                if self.package_is_corrupt(sha256) {
                    self.repair_package(temp, sha256)?;
                }
                Ok(UploadOutcome {
                    created: false,
                    filename: existing.filename.clone(),
                    nevra: nevra_of(&existing),
                    sha256: existing.sha256,
                    size: existing.size,
                })
            } else {
                Err(ServiceError::Conflict(format!(
                    "{filename} is already stored with sha256 {}; uploaded packages are immutable, bump the release to change it",
                    existing.sha256
                )))
            };
        }
        let now = self.clock.now();
        let meta = read_package(temp.path(), sha256, now).map_err(|e| match e {
            HeaderError::Io(io) => ServiceError::from(io),
            other => ServiceError::InvalidPackage(other.to_string()),
        })?;
        self.check_package_owner(team, &meta.name)?;
        let canonical = meta.canonical_filename();
        if canonical != filename {
            return Err(ServiceError::Invalid(format!(
                "file name {filename} does not match the package header, which says {canonical}"
            )));
        }
        if let Some(existing) = self.db.package_by_nevra(&meta)? {
            return Err(ServiceError::Conflict(format!(
                "{} is already stored as {} with sha256 {}; uploaded packages are immutable",
                meta.nevra(),
                existing.filename,
                existing.sha256
            )));
        }
        let signature = self.check_upload_signature(team, temp.path())?;
        let xml = crate::repodata::render(&meta, &format!("Packages/{filename}"));
        let stored = self.store.commit(temp, sha256)?;
        // Into the bucket before the package exists for anyone: a refused upload never gets
        // there (its staged copy is abandoned when `staged` is dropped on the way out).
        if let Some(mirror) = &self.mirror {
            match staged {
                Some(staged) => mirror.commit_staged(staged, sha256, &stored)?,
                None => mirror.package(sha256, &stored)?,
            }
        }
        match self.db.insert_package(&NewPackage {
            meta: &meta,
            xml: &xml,
            filename,
            team_id: Some(team_id),
            now,
            signers: &signature.signers,
            signed_by_team: signature.signed_by_team,
        }) {
            Ok(()) => {}
            // A concurrent identical upload won the race: same answer as a retry.
            Err(crate::db::DbError::Conflict(_)) => {
                if let Some(existing) = self.db.package_by_filename(filename)? {
                    if existing.sha256 == sha256 {
                        return Ok(UploadOutcome {
                            created: false,
                            filename: filename.to_string(),
                            nevra: meta.nevra().to_string(),
                            sha256: sha256.to_string(),
                            size,
                        });
                    }
                }
                return Err(ServiceError::Conflict(format!(
                    "{} was stored concurrently with other bytes",
                    meta.nevra()
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(filename, sha256, size, actor = %actor.label(), "package uploaded");
        Ok(UploadOutcome {
            created: true,
            filename: filename.to_string(),
            nevra: meta.nevra().to_string(),
            sha256: sha256.to_string(),
            size,
        })
    }
}

/// The NEVRA of a stored package.
pub(super) fn nevra_of(p: &crate::db::StoredPackage) -> String {
    crate::domain::evr::Nevra {
        name: p.name.clone(),
        evr: crate::domain::evr::Evr::new(p.epoch, &p.version, &p.release),
        arch: p.arch.clone(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames() {
        assert!(check_upload_filename("foo-1.0-1.el9.x86_64.rpm").is_ok());
        assert!(check_upload_filename("../foo-1.0-1.x86_64.rpm").is_err());
        assert!(check_upload_filename("a/b.rpm").is_err());
        assert!(check_upload_filename("foo.txt").is_err());
        assert!(check_upload_filename(".rpm").is_err());
    }
}
