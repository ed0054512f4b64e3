//! Extractors whose rejections are JSON errors like every other error.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::limits::MAX_JSON_BODY;
use crate::service::ServiceError;

/// A JSON body of at most `LIMIT` bytes: a larger one is a 413, a malformed one a 400 that
/// says what is wrong.
pub struct JsonBody<T, const LIMIT: usize = MAX_JSON_BODY>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S> for JsonBody<T, LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_limited(req, LIMIT).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
    }
}

/// A JSON request body that may be left out (no bytes): `None` then.
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_limited(req, MAX_JSON_BODY).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        serde_json::from_slice(&bytes)
            .map(|v| OptionalJsonBody(Some(v)))
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
    }
}

/// The body of `req`, refused with a JSON 413 beyond `limit` bytes.
async fn read_limited(req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError(ServiceError::BodyTooLarge { limit });
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // Read by hand rather than through axum's Bytes extractor, whose limit error is a
    // plain-text 400 without the limit.
    let mut bytes = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut stream = req.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("cannot read the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The bearer token of the request, if any (checked later by the service).
pub struct BearerToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        Ok(BearerToken(token))
    }
}

/// A numeric id from the path; anything else (negative, zero, beyond i64) is a 400.
pub fn parse_id(raw: &str) -> Result<i64, ApiError> {
    let shown = crate::domain::limits::shorten(raw, 40);
    let id: i64 = raw.parse().map_err(|_| {
        ApiError::invalid(format!(
            "{shown:?} is not an id: ids are whole numbers from 1 to {}",
            i64::MAX
        ))
    })?;
    crate::domain::limits::check_id("id", id).map_err(ApiError::invalid)?;
    Ok(id)
}
