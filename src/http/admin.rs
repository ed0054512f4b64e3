//! Admin endpoints (admin token only): teams, elements, sites, rollout assignments, audit.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::extract::{BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::db::{AuditEntry, DeliveryAttempt, Element, RolloutAssignment, Site, Team, TeamKey};
use crate::domain::limits;
use crate::service::elements::SiteWithToken;
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
    let team = blocking(&app, move |a| a.add_team(&a.authenticate(token.as_deref())?, &req.name)).await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// `GET /api/v1/admin/teams`.
pub async fn list_teams(State(app): State<AppState>, BearerToken(token): BearerToken) -> ApiResult<Json<Vec<Team>>> {
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

/// Body of `POST /api/v1/admin/elements`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewElement {
    name: String,
    team: String,
    #[serde(default)]
    description: String,
}

/// `POST /api/v1/admin/elements`.
pub async fn add_element(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<NewElement>,
) -> ApiResult<(StatusCode, Json<Element>)> {
    let e = blocking(&app, move |a| {
        a.add_element(
            &a.authenticate(token.as_deref())?,
            &req.name,
            &req.team,
            &req.description,
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// `GET /api/v1/elements`: public, like the repositories.
pub async fn list_elements(State(app): State<AppState>) -> ApiResult<Json<Vec<Element>>> {
    Ok(Json(blocking(&app, |a| a.elements()).await?))
}

/// Body of `POST /api/v1/admin/sites`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    name: String,
    contact: Option<String>,
    webhook: Option<String>,
    email: Option<String>,
}

/// `POST /api/v1/admin/sites`: the token and webhook secret are in this answer only.
pub async fn add_site(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<NewSite>,
) -> ApiResult<(StatusCode, Json<SiteWithToken>)> {
    let s = blocking(&app, move |a| {
        a.add_site(
            &a.authenticate(token.as_deref())?,
            &req.name,
            req.contact.as_deref(),
            req.webhook.as_deref(),
            req.email.as_deref(),
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// `GET /api/v1/admin/sites`.
pub async fn list_sites(State(app): State<AppState>, BearerToken(token): BearerToken) -> ApiResult<Json<Vec<Site>>> {
    Ok(Json(
        blocking(&app, move |a| a.sites(&a.authenticate(token.as_deref())?)).await?,
    ))
}

/// Body of `POST /api/v1/admin/rollouts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRollout {
    element: String,
    site: String,
    /// A human duration: `30s`, `12h`, `5d`.
    sla: String,
}

/// Parses a human duration (`since`) into seconds, at most ten years.
pub fn parse_duration(s: &str) -> Result<i64, ApiError> {
    limits::parse_duration("since", s, limits::MAX_SINCE_SECONDS).map_err(ApiError::invalid)
}

/// `POST /api/v1/admin/rollouts`.
pub async fn add_rollout(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<NewRollout>,
) -> ApiResult<(StatusCode, Json<RolloutAssignment>)> {
    let sla = limits::parse_duration("sla", &req.sla, limits::MAX_SLA_SECONDS).map_err(ApiError::invalid)?;
    let r = blocking(&app, move |a| {
        a.add_rollout(&a.authenticate(token.as_deref())?, &req.element, &req.site, sla)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Filter by element.
#[derive(Debug, Deserialize)]
pub struct ElementQuery {
    element: Option<String>,
}

/// `GET /api/v1/rollouts`: public, so sites can see whom a release waits for.
pub async fn list_rollouts(
    State(app): State<AppState>,
    super::inventory::Params(q): super::inventory::Params<ElementQuery>,
) -> ApiResult<Json<Vec<RolloutAssignment>>> {
    Ok(Json(blocking(&app, move |a| a.rollouts(q.element.as_deref())).await?))
}

/// `DELETE /api/v1/admin/rollouts/{element}/{site}`.
pub async fn remove_rollout(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path((element, site)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |a| {
        a.remove_rollout(&a.authenticate(token.as_deref())?, &element, &site)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of the audit log.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    release: Option<i64>,
    /// A human duration, e.g. `7d`.
    since: Option<String>,
}

/// `GET /api/v1/audit` (admin).
pub async fn audit(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    super::inventory::Params(q): super::inventory::Params<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    let since = q.since.as_deref().map(parse_duration).transpose()?;
    Ok(Json(
        blocking(&app, move |a| {
            a.authenticate(token.as_deref())?.require_admin()?;
            if let Some(r) = q.release {
                crate::service::limit(limits::check_id("release", r))?;
            }
            let since = since.map(|s| a.clock.now() - s);
            Ok(a.db.audit_entries(q.release, since)?)
        })
        .await?,
    ))
}

/// `GET /api/v1/admin/webhooks`: the latest delivery attempts.
pub async fn webhook_attempts(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
) -> ApiResult<Json<Vec<DeliveryAttempt>>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.authenticate(token.as_deref())?.require_admin()?;
            Ok(a.db.delivery_attempts(200)?)
        })
        .await?,
    ))
}

/// Body of `POST /api/v1/admin/teams/{name}/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// The ASCII-armoured public key.
    key: String,
}

/// `POST /api/v1/admin/teams/{name}/keys`.
pub async fn add_team_key(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(team): Path<String>,
    JsonBody(req): JsonBody<NewKey>,
) -> ApiResult<(StatusCode, Json<Vec<TeamKey>>)> {
    let keys = blocking(&app, move |a| {
        a.add_team_key(&a.authenticate(token.as_deref())?, &team, &req.key)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(keys)))
}

/// Filter of the key list.
#[derive(Debug, Deserialize)]
pub struct TeamQuery {
    team: Option<String>,
}

/// `GET /api/v1/admin/keys`.
pub async fn list_team_keys(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    super::inventory::Params(q): super::inventory::Params<TeamQuery>,
) -> ApiResult<Json<Vec<TeamKey>>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.team_keys(&a.authenticate(token.as_deref())?, q.team.as_deref())
        })
        .await?,
    ))
}

/// `DELETE /api/v1/admin/teams/{name}/keys/{key}`.
pub async fn remove_team_key(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path((team, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |a| {
        a.remove_team_key(&a.authenticate(token.as_deref())?, &team, &key)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
