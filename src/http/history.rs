//! Repository history, withdrawal and roll-back endpoints.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::domain::release::Release;
use crate::domain::repo::{RepoKind, Revision};
use crate::service::history::RevisionDiff;

fn repo_kind(raw: &str) -> Result<RepoKind, ApiError> {
    RepoKind::parse(raw).ok_or_else(|| ApiError::invalid(format!("repository {raw:?} is not beta or production")))
}

/// Paging of the history.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/repos/{dist}/{repo}/revisions`.
pub async fn revisions(
    State(app): State<AppState>,
    Path((dist, repo)): Path<(String, String)>,
    super::inventory::Params(q): super::inventory::Params<HistoryQuery>,
) -> ApiResult<Json<Vec<Revision>>> {
    let repo = repo_kind(&repo)?;
    Ok(Json(
        blocking(&app, move |a| a.repo_history(&dist, repo, q.limit.unwrap_or(100))).await?,
    ))
}

/// The two revisions to compare.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: i64,
    to: i64,
}

/// `GET /api/v1/repos/{dist}/{repo}/diff?from=R1&to=R2`.
pub async fn diff(
    State(app): State<AppState>,
    Path((dist, repo)): Path<(String, String)>,
    super::inventory::Params(q): super::inventory::Params<DiffQuery>,
) -> ApiResult<Json<RevisionDiff>> {
    let repo = repo_kind(&repo)?;
    Ok(Json(
        blocking(&app, move |a| a.repo_diff(&dist, repo, q.from, q.to)).await?,
    ))
}

/// Body with a reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: String,
}

/// `POST /api/v1/admin/releases/{id}/withdraw`.
pub async fn withdraw(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReasonBody>,
) -> ApiResult<Json<Release>> {
    let id = parse_id(&id)?;
    Ok(Json(
        blocking(&app, move |a| {
            a.withdraw(&a.authenticate(token.as_deref())?, id, &req.reason)
        })
        .await?,
    ))
}

/// Body of a roll-back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    to: i64,
    reason: String,
}

/// `POST /api/v1/admin/repos/{dist}/rollback`.
pub async fn rollback(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(dist): Path<String>,
    JsonBody(req): JsonBody<RollbackBody>,
) -> ApiResult<Json<Value>> {
    let d = dist.clone();
    let revision = blocking(&app, move |a| {
        a.rollback(&a.authenticate(token.as_deref())?, &d, req.to, &req.reason)
    })
    .await?;
    Ok(Json(
        json!({ "dist": dist, "repo": "production", "revision": revision }),
    ))
}
