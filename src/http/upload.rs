//! `PUT /api/v1/upload/{filename}`: streams the body to a temporary file while hashing it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::error::{ApiError, ApiResult};
use super::extract::BearerToken;
use super::{blocking, AppState};
use crate::db::StoredPackage;
use crate::rpmhdr::{IntegrityError, StreamVerifier};
use crate::service::upload::{check_sha256_hex, check_upload_filename, UploadOutcome};
use crate::service::ServiceError;

/// Receives one RPM. Memory stays flat: each chunk is hashed and written, then dropped.
pub async fn upload(
    State(app): State<AppState>,
    Path(filename): Path<String>,
    BearerToken(token): BearerToken,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<UploadOutcome>)> {
    let started = std::time::Instant::now();
    let actor = blocking(&app, move |a| a.authenticate(token.as_deref())).await?;
    actor.require_team()?;
    check_upload_filename(&filename)?;
    let limit = app.config.max_upload_size;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError(ServiceError::TooLarge { limit }));
    }
    let expected = match headers.get("x-checksum-sha256") {
        Some(v) => Some(check_sha256_hex(v.to_str().unwrap_or("?"))?),
        None => None,
    };

    let temp = app.store.temp_file().map_err(ServiceError::from)?;
    let mut file = tokio::fs::File::from_std(temp.reopen().map_err(ServiceError::from)?);
    let mut hasher = Sha256::new();
    // What rpm -K checks, as the bytes arrive: garbage is refused at once, not once written.
    let mut verifier = StreamVerifier::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("the upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError(ServiceError::TooLarge { limit }));
        }
        hasher.update(&chunk);
        verifier.feed(&chunk).map_err(refused)?;
        file.write_all(&chunk).await.map_err(ServiceError::from)?;
    }
    file.flush().await.map_err(ServiceError::from)?;
    drop(file);
    if size == 0 {
        return Err(ApiError(ServiceError::InvalidPackage(
            "the body is empty; expected an RPM".into(),
        )));
    }
    verifier.finish().map_err(refused)?;
    let sha256 = hex::encode(hasher.finalize());
    let outcome = blocking(&app, move |a| {
        a.finish_upload(&actor, &filename, temp, &sha256, size, expected.as_deref())
    })
    .await?;
    app.metrics.record_upload(size, started.elapsed());
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)))
}

/// An upload that fails what `rpm -K` checks: a 400 naming the check.
fn refused(e: IntegrityError) -> ApiError {
    ApiError(ServiceError::InvalidPackage(e.to_string()))
}

/// `GET /api/v1/packages/{filename}`: what is stored under a file name.
pub async fn package(State(app): State<AppState>, Path(filename): Path<String>) -> ApiResult<Json<StoredPackage>> {
    let found = blocking(&app, move |a| Ok(a.db.package_by_filename(&filename)?)).await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError(ServiceError::NotFound("no package stored under that name".into())))
}
