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
use super::limits::RateFloor;
use super::{blocking, AppState};
use crate::db::StoredPackage;
use crate::rpmhdr::{IntegrityError, StreamVerifier};
use crate::service::upload::{check_sha256_hex, check_upload_filename, Received, UploadOutcome};
use crate::service::ServiceError;
use crate::store::OverBudget;

/// Receives one RPM. Memory stays flat: each chunk is hashed and written, then dropped.
///
/// Whatever ends the upload (refusal, 408 for a body slower than `min_upload_rate`, a broken
/// connection), returning drops the temporary file (deleting it) and the reservation of
/// temporary space; the upload slot is the middleware's and is freed with the response.
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

    // Temporary space is reserved before the first byte is read: an upload that cannot fit
    // is refused at once instead of filling the disk first.
    let mut reserved = app
        .temp_budget
        .reserve(declared.unwrap_or(0))
        .map_err(|e| temp_space_busy(e, declared.unwrap_or(0)))?;
    let temp = app.store.temp_file().map_err(ServiceError::from)?;
    let mut file = tokio::fs::File::from_std(temp.reopen().map_err(ServiceError::from)?);
    let mut hasher = Sha256::new();
    // What rpm -K checks, as the bytes arrive: garbage is refused at once, not once written.
    let mut verifier = StreamVerifier::new();
    let mut floor = RateFloor::new(
        app.config.min_upload_rate,
        app.config
            .upload_rate_grace_duration()
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
        started,
    );
    let mut size: u64 = 0;
    // With a bucket, the bytes go there as they arrive, a part at a time.
    let mut staged = match &app.mirror {
        Some(mirror) => {
            let mirror = mirror.clone();
            Some(blocking(&app, move |_| Ok(mirror.stage_upload()?)).await?)
        }
        None => None,
    };
    let mut part: Vec<u8> = Vec::new();
    let mut stream = body.into_data_stream();
    loop {
        let next = match floor.deadline() {
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    floor.check(std::time::Instant::now())?;
                    continue;
                }
            },
            None => stream.next().await,
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("the upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        floor.add(chunk.len() as u64);
        if size > limit {
            return Err(ApiError(ServiceError::TooLarge { limit }));
        }
        hasher.update(&chunk);
        verifier.feed(&chunk).map_err(refused)?;
        // A chunked upload (or one longer than it said) reserves as it goes.
        reserved.cover(size).map_err(|e| temp_space_busy(e, size))?;
        file.write_all(&chunk).await.map_err(ServiceError::from)?;
        if let Some(upload) = staged.take() {
            part.extend_from_slice(&chunk);
            staged = Some(if part.len() >= crate::blob::PART {
                send_part(&app, upload, std::mem::take(&mut part)).await?
            } else {
                upload
            });
        }
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
        if let Some(upload) = staged.as_mut() {
            upload.write(&part)?;
        }
        let received = Received {
            temp,
            sha256,
            size,
            expected_sha256: expected,
            staged,
        };
        a.finish_upload(&actor, &filename, received)
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

/// Sends one part of a staged upload from a blocking thread (it waits while the part before
/// is on its way to the bucket), handing the upload back.
async fn send_part(
    app: &AppState,
    mut upload: crate::service::mirror::StagedUpload,
    part: Vec<u8>,
) -> ApiResult<crate::service::mirror::StagedUpload> {
    blocking(app, move |_| {
        upload.write(&part)?;
        Ok(upload)
    })
    .await
}

/// An upload that does not fit in what is left of `max_temp_bytes`: a 503 to retry later.
fn temp_space_busy(e: OverBudget, needed: u64) -> ApiError {
    ApiError(ServiceError::Busy(format!(
        "the server's temporary space for uploads is busy: uploads in progress hold {} of its {} bytes (max_temp_bytes) and this one needs {needed} in all; retry later",
        e.in_use, e.limit
    )))
}

/// An upload that fails what `rpm -K` checks: a 400 naming the check.
fn refused(e: IntegrityError) -> ApiError {
    ApiError(ServiceError::InvalidPackage(e.to_string()))
}

/// A stored package and whether a check found its file corrupt.
#[derive(serde::Serialize)]
pub struct PackageAnswer {
    #[serde(flatten)]
    package: StoredPackage,
    /// True while the stored file is marked corrupt: a re-upload of the same bytes repairs it,
    /// so clients must not skip the upload because the sha256 matches.
    corrupt: bool,
}

/// `GET /api/v1/packages/{filename}`: what is stored under a file name.
pub async fn package(State(app): State<AppState>, Path(filename): Path<String>) -> ApiResult<Json<PackageAnswer>> {
    let found = blocking(&app, move |a| {
        Ok(a.db.package_by_filename(&filename)?.map(|package| PackageAnswer {
            corrupt: a.package_is_corrupt(&package.sha256),
            package,
        }))
    })
    .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError(ServiceError::NotFound("no package stored under that name".into())))
}
