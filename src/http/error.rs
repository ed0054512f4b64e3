//! The one place where errors become HTTP statuses and JSON bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::service::ServiceError;

/// Seconds a client refused with 503 (busy) is told to wait before retrying.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// An error answered as `{"error": "...", "detail": "..."}`.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    /// A 400 for a malformed request.
    pub fn invalid(detail: impl Into<String>) -> Self {
        ApiError(ServiceError::Invalid(detail.into()))
    }

    /// The status and short error name of this error.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match &self.0 {
            ServiceError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "not found"),
            ServiceError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid request"),
            ServiceError::InvalidPackage(_) => (StatusCode::BAD_REQUEST, "invalid package"),
            ServiceError::TooLarge { .. } | ServiceError::BodyTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload too large")
            }
            ServiceError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ServiceError::Refused { .. } => (StatusCode::CONFLICT, "refused"),
            ServiceError::TooSlow { .. } => (StatusCode::REQUEST_TIMEOUT, "request timeout"),
            ServiceError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "service unavailable"),
            ServiceError::DiskFull(_) => (StatusCode::INSUFFICIENT_STORAGE, "insufficient storage"),
            ServiceError::Corrupt(_) => (StatusCode::SERVICE_UNAVAILABLE, "corrupt file"),
            ServiceError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error) = self.status();
        let detail = match &self.0 {
            ServiceError::Internal(msg) => {
                tracing::error!(error = %msg, "request failed");
                "the server failed to complete the request; see its log".to_string()
            }
            ServiceError::DiskFull(what) => {
                // The operator's problem, not the client's: logged loudly, answered plainly.
                tracing::error!(error = %what, "request failed: the disk is full");
                self.0.to_string()
            }
            other => other.to_string(),
        };
        let body = match &self.0 {
            ServiceError::Refused { failures, .. } => json!({ "error": error, "detail": detail, "failures": failures }),
            _ => json!({ "error": error, "detail": detail }),
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        // A busy server is free again in seconds; a corrupt file stays refused until the
        // admin repairs it, so it promises no time to retry (caches would keep retrying).
        if status == StatusCode::SERVICE_UNAVAILABLE && !matches!(self.0, ServiceError::Corrupt(_)) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body is not read: the connection cannot carry another request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
