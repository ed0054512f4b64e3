//! Operations endpoints (admin token): backups.

use std::path::PathBuf;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::service::backup::BackupOutcome;

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
