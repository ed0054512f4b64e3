//! Release endpoints.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{parse_id, BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::domain::release::Release;
use crate::service::beta_check::Submitted;
use crate::service::releases::SubmitRelease;
use crate::service::rollout::ReleaseDetail;

/// `POST /api/v1/releases` (team token).
pub async fn submit(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<SubmitRelease>,
) -> ApiResult<(StatusCode, Json<Submitted>)> {
    let release = blocking(&app, move |a| {
        let actor = a.authenticate(token.as_deref())?;
        a.submit_release(&actor, &req)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(release)))
}

/// Filters of the release list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    dist: Option<String>,
    element: Option<String>,
    state: Option<String>,
}

/// `GET /api/v1/releases`.
pub async fn list(
    State(app): State<AppState>,
    super::inventory::Params(q): super::inventory::Params<ListQuery>,
) -> ApiResult<Json<Vec<Release>>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.release_list(q.dist.as_deref(), q.element.as_deref(), q.state.as_deref())
        })
        .await?,
    ))
}

/// `GET /api/v1/releases/{id}`.
pub async fn show(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ReleaseDetail>> {
    let id = parse_id(&id)?;
    Ok(Json(blocking(&app, move |a| a.release_detail(id)).await?))
}
