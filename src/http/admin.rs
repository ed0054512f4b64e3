//! Admin endpoints (admin token only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::db::Team;
use crate::domain::release::Release;
use crate::service::teams::TeamWithToken;

/// Body of `POST /api/v1/admin/teams`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    name: String,
}

/// `POST /api/v1/admin/teams`: creates a team; the token is in this answer only.
pub async fn add_team(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<NewTeam>,
) -> ApiResult<(StatusCode, Json<TeamWithToken>)> {
    let team = blocking(&app, move |a| {
        a.add_team(&a.authenticate(token.as_deref())?, &req.name)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// `GET /api/v1/admin/teams`.
pub async fn list_teams(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
) -> ApiResult<Json<Vec<Team>>> {
    Ok(Json(
        blocking(&app, move |a| a.teams(&a.authenticate(token.as_deref())?)).await?,
    ))
}

/// `POST /api/v1/admin/teams/{name}/token-rotate`.
pub async fn rotate_team_token(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(name): Path<String>,
) -> ApiResult<Json<TeamWithToken>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.rotate_team_token(&a.authenticate(token.as_deref())?, &name)
        })
        .await?,
    ))
}

/// Body of `POST /api/v1/admin/publish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    dist: String,
    release: i64,
}

/// `POST /api/v1/admin/publish`: puts a beta release into production.
pub async fn publish(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<PublishRequest>,
) -> ApiResult<Json<Release>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.publish_to_production(&a.authenticate(token.as_deref())?, &req.dist, req.release)
        })
        .await?,
    ))
}
