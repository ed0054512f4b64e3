//! Staged-rollout endpoints: announce, promote, reject, reports and problems.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{parse_id, BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::db::Report;
use crate::domain::problem::{Criticality, Problem};
use crate::domain::rollout::ReportResult;
use crate::service::rollout::ReleaseDetail;
use crate::service::ServiceError;

/// Body of an announcement (optional: `{}` or none).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnounceRequest {
    /// Announce even though the release fails the promotion checks.
    #[serde(default)]
    force: bool,
    /// Why, required with `force`.
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/admin/releases/{id}/announce`.
pub async fn announce(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ReleaseDetail>> {
    let id = parse_id(&id)?;
    // The body is optional: an empty one is a plain announcement.
    let req: AnnounceRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AnnounceRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| super::error::ApiError::invalid(format!("invalid JSON body: {e}")))?
    };
    Ok(Json(
        blocking(&app, move |a| {
            a.announce_with(&a.authenticate(token.as_deref())?, id, req.force, &req.reason)
        })
        .await?,
    ))
}

/// Body of a promotion.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    #[serde(default)]
    force: bool,
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/admin/releases/{id}/promote`.
pub async fn promote(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PromoteRequest>,
) -> ApiResult<Json<ReleaseDetail>> {
    let id = parse_id(&id)?;
    Ok(Json(
        blocking(&app, move |a| {
            a.promote(&a.authenticate(token.as_deref())?, id, req.force, &req.reason)
        })
        .await?,
    ))
}

/// Body of a rejection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    reason: String,
}

/// `POST /api/v1/admin/releases/{id}/reject`.
pub async fn reject(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReasonRequest>,
) -> ApiResult<Json<ReleaseDetail>> {
    let id = parse_id(&id)?;
    Ok(Json(
        blocking(&app, move |a| {
            a.reject(&a.authenticate(token.as_deref())?, id, &req.reason)
        })
        .await?,
    ))
}

/// Body of a report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    result: ReportResult,
    #[serde(default)]
    text: String,
}

/// `POST /api/v1/releases/{id}/reports` (rollout site token).
pub async fn report(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReportRequest>,
) -> ApiResult<(StatusCode, Json<Report>)> {
    let id = parse_id(&id)?;
    let r = blocking(&app, move |a| {
        a.report(&a.authenticate(token.as_deref())?, id, req.result, &req.text)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Body of a problem.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemRequest {
    release: i64,
    text: String,
}

/// `POST /api/v1/problems` (any site's token).
pub async fn problem(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<ProblemRequest>,
) -> ApiResult<(StatusCode, Json<Problem>)> {
    let p = blocking(&app, move |a| {
        a.report_problem(&a.authenticate(token.as_deref())?, req.release, &req.text)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Filter of the problem list.
#[derive(Debug, Deserialize)]
pub struct ProblemQuery {
    #[serde(default)]
    open: bool,
}

/// `GET /api/v1/admin/problems`.
pub async fn problems(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    super::inventory::Params(q): super::inventory::Params<ProblemQuery>,
) -> ApiResult<Json<Vec<Problem>>> {
    Ok(Json(
        blocking(&app, move |a| a.problems(&a.authenticate(token.as_deref())?, q.open)).await?,
    ))
}

/// Body of a triage.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageRequest {
    criticality: String,
    priority: Option<i64>,
}

/// `POST /api/v1/admin/problems/{id}/triage`.
pub async fn triage(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<TriageRequest>,
) -> ApiResult<Json<Problem>> {
    let id = parse_id(&id)?;
    let c = Criticality::parse(&req.criticality).ok_or_else(|| {
        ServiceError::Invalid(format!(
            "criticality {:?} is not one of critical, major, minor",
            req.criticality
        ))
    })?;
    Ok(Json(
        blocking(&app, move |a| {
            a.triage(&a.authenticate(token.as_deref())?, id, c, req.priority)
        })
        .await?,
    ))
}

/// `POST /api/v1/admin/problems/{id}/close`.
pub async fn close(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReasonRequest>,
) -> ApiResult<Json<Problem>> {
    let id = parse_id(&id)?;
    Ok(Json(
        blocking(&app, move |a| {
            a.close_problem(&a.authenticate(token.as_deref())?, id, &req.reason)
        })
        .await?,
    ))
}
