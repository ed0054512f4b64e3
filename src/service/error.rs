//! The errors users of the service layer can act on.
//!
//! Policy: every variant but `Internal` and `Corrupt` is the caller's to fix and maps to a 4xx
//! status in `http::error`; `Internal` means the server failed (disk, database) and is logged
//! in full; `Corrupt` (503) means a stored file is damaged until an admin repairs it.

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
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for ServiceError {
    fn from(e: std::io::Error) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl From<crate::repodata::RepodataError> for ServiceError {
    fn from(e: crate::repodata::RepodataError) -> Self {
        ServiceError::Internal(e.to_string())
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
