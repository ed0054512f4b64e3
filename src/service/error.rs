//! The errors users of the service layer can act on.
//!
//! Policy: every variant but `Internal`, `Busy`, `DiskFull` and `Corrupt` is the caller's to
//! fix and maps to a 4xx status in `http::error`; `Busy` (503) and `DiskFull` (507) say the
//! server cannot take the request now and nothing changed; `Corrupt` (503) means a stored file
//! is damaged until an admin repairs it; `Internal` means the server failed (disk, database)
//! and is logged in full.

use crate::db::DbError;

/// A refused or failed use case.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No token, or a token nobody holds.
    #[error("missing or invalid token")]
    Unauthenticated,
    /// A valid token without the right for this action.
    #[error("{0}")]
    Forbidden(String),
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or breaks a rule; the text says which.
    #[error("{0}")]
    Invalid(String),
    /// The upload is not an acceptable RPM.
    #[error("{0}")]
    InvalidPackage(String),
    /// Body larger than the configured limit.
    #[error("upload larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// A request body (not an upload) larger than its documented limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The state already holds something else under this identity.
    #[error("{0}")]
    Conflict(String),
    /// Refused because of the listed check failures (a 409 whose body lists them).
    #[error("{message}: {}", failures.join("; "))]
    Refused { message: String, failures: Vec<String> },
    /// An upload that arrived slower than `min_upload_rate` over a period of
    /// `upload_rate_grace`; it was cut and nothing was stored.
    #[error("the upload arrived at {received} bytes in {period_secs}s, slower than the minimum rate of {min_rate} bytes/s (min_upload_rate); nothing was stored")]
    TooSlow {
        min_rate: u64,
        period_secs: u64,
        received: u64,
    },
    /// The server cannot take this request now (a shared limit is reached); retry later.
    #[error("{0}")]
    Busy(String),
    /// A write failed because the server's disk is full; the text (for the log) says which.
    /// Nothing was changed: the caller may retry once space is freed.
    #[error("the server's disk is full; nothing was changed, retry once space has been freed")]
    DiskFull(String),
    /// A stored file failed its integrity check and is not served until repaired.
    #[error("{0}")]
    Corrupt(String),
    /// The server could not do its part.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a caller sees of a constraint violation that no earlier check caught: a request that
/// raced another one. The database's own text (table and column names) goes to the log only.
pub const RACED: &str = "another request changed the same record at the same time; look again and retry";

impl From<DbError> for ServiceError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict(m) => {
                tracing::info!(constraint = %m, "constraint violation answered as a conflict");
                ServiceError::Conflict(RACED.into())
            }
            DbError::Unsupported(m) => ServiceError::Invalid(m),
            other if other.is_disk_full() => ServiceError::DiskFull(other.to_string()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<crate::blob::BlobError> for ServiceError {
    fn from(e: crate::blob::BlobError) -> Self {
        match e {
            crate::blob::BlobError::Conflict { .. } => ServiceError::Conflict(e.to_string()),
            other => ServiceError::Busy(format!("the object store is unavailable, retry later: {other}")),
        }
    }
}

impl From<std::io::Error> for ServiceError {
    fn from(e: std::io::Error) -> Self {
        if crate::store::is_disk_full(&e) {
            ServiceError::DiskFull(e.to_string())
        } else {
            ServiceError::Internal(e.to_string())
        }
    }
}

impl From<crate::repodata::RepodataError> for ServiceError {
    fn from(e: crate::repodata::RepodataError) -> Self {
        match e {
            crate::repodata::RepodataError::Io(io) if crate::store::is_disk_full(&io) => {
                ServiceError::DiskFull(format!("writing repodata: {io}"))
            }
            crate::repodata::RepodataError::Share(e) => {
                ServiceError::Busy(format!("the object store is unavailable, retry later: {e}"))
            }
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

/// A storage result whose constraint violation means `what` already exists: the loser of a
/// race gets the same answer as a request after the winner.
pub fn exists_if_conflict<T>(result: crate::db::DbResult<T>, what: impl FnOnce() -> String) -> ServiceResult<T> {
    match result {
        Err(DbError::Conflict(_)) => Err(ServiceError::Conflict(what())),
        other => Ok(other?),
    }
}

/// Result of a use case.
pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_disk_full_from_every_layer() {
        let enospc = || std::io::Error::from_raw_os_error(28);
        assert!(matches!(ServiceError::from(enospc()), ServiceError::DiskFull(_)));
        assert!(matches!(
            ServiceError::from(crate::repodata::RepodataError::Io(enospc())),
            ServiceError::DiskFull(_)
        ));
        let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
        assert!(matches!(
            ServiceError::from(DbError::from(full)),
            ServiceError::DiskFull(_)
        ));
        assert!(matches!(
            ServiceError::from(DbError::Io(enospc())),
            ServiceError::DiskFull(_)
        ));
        let other = std::io::Error::from_raw_os_error(13);
        assert!(matches!(ServiceError::from(other), ServiceError::Internal(_)));
    }
}
