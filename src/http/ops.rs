//! Operations endpoints (admin token): backups, storage verification.

use std::path::PathBuf;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{BearerToken, JsonBody, OptionalJsonBody};
use super::{blocking, AppState};
use crate::service::backup::BackupOutcome;
use crate::service::verify::VerifyReport;

/// Body of `POST /api/v1/admin/backup`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// A new (or empty) directory on the server, as an absolute path.
    dir: PathBuf,
}

/// `POST /api/v1/admin/backup`: a consistent snapshot of the data directory into `dir`.
pub async fn backup(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<BackupRequest>,
) -> ApiResult<Json<BackupOutcome>> {
    Ok(Json(
        blocking(&app, move |a| a.backup(&a.authenticate(token.as_deref())?, &req.dir)).await?,
    ))
}

/// Body of `POST /api/v1/admin/verify` (optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// Only this distribution's repositories and the packages they publish.
    dist: Option<String>,
}

/// `POST /api/v1/admin/verify`: re-reads stored packages and published repodata; 200 with
/// the report whether or not something mismatched (`ok` says which).
pub async fn verify(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    OptionalJsonBody(req): OptionalJsonBody<VerifyRequest>,
) -> ApiResult<Json<VerifyReport>> {
    let dist = req.and_then(|r| r.dist);
    Ok(Json(
        blocking(&app, move |a| {
            a.verify_storage(&a.authenticate(token.as_deref())?, dist.as_deref())
        })
        .await?,
    ))
}
