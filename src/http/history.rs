//! Repository history, withdrawal and roll-back endpoints.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, BearerToken, JsonBody};
use super::{blocking, AppState};
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

/// Body of a withdrawal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    reason: String,
    /// Only list what would leave production.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/admin/releases/{id}/withdraw`.
pub async fn withdraw(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<WithdrawBody>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let undo = blocking(&app, move |a| {
        a.withdraw(&a.authenticate(token.as_deref())?, id, &req.reason, req.dry_run)
    })
    .await?;
    // The release's fields at the top level, as before, plus what left production.
    let mut v = serde_json::to_value(&undo.release).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("dry_run".into(), json!(undo.dry_run));
        o.insert("revision".into(), json!(undo.revision));
        o.insert("leaving".into(), json!(undo.leaving));
    }
    Ok(Json(v))
}

/// Body of a roll-back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    to: i64,
    reason: String,
    /// Needed when security advisories would leave production.
    #[serde(default)]
    force: bool,
    /// Only list what would leave production.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/admin/repos/{dist}/rollback`.
pub async fn rollback(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(dist): Path<String>,
    JsonBody(req): JsonBody<RollbackBody>,
) -> ApiResult<Json<Value>> {
    let undo = blocking(&app, move |a| {
        a.rollback(
            &a.authenticate(token.as_deref())?,
            &dist,
            req.to,
            &req.reason,
            req.force,
            req.dry_run,
        )
    })
    .await?;
    Ok(Json(json!({
        "dist": undo.dist,
        "repo": "production",
        "revision": undo.revision,
        "dry_run": undo.dry_run,
        "leaving": undo.leaving,
    })))
}
