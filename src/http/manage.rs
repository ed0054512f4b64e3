//! Admin upkeep endpoints: a site's settings and token, removing sites, teams and elements.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::db::Site;
use crate::service::sites::SiteToken;

/// Body of `PATCH /api/v1/admin/sites/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteChange {
    /// New contact e-mail address; `""` clears it.
    email: String,
}

/// `PATCH /api/v1/admin/sites/{name}`: changes a site's contact e-mail address.
pub async fn change_site(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<SiteChange>,
) -> ApiResult<Json<Site>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.set_site_email(&a.authenticate(token.as_deref())?, &name, &req.email)
        })
        .await?,
    ))
}

/// `DELETE /api/v1/admin/sites/{name}`: 409 while anything refers to the site.
pub async fn remove_site(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |a| a.remove_site(&a.authenticate(token.as_deref())?, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/admin/sites/{name}/token-rotate`: the new token is in this answer only.
pub async fn rotate_site_token(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(name): Path<String>,
) -> ApiResult<Json<SiteToken>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.rotate_site_token(&a.authenticate(token.as_deref())?, &name)
        })
        .await?,
    ))
}

/// `DELETE /api/v1/admin/teams/{name}`: 409 while elements, releases or packages refer to it.
pub async fn remove_team(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |a| a.remove_team(&a.authenticate(token.as_deref())?, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/admin/elements/{name}`: 409 while releases or rollout sites refer to it.
pub async fn remove_element(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |a| {
        a.remove_element(&a.authenticate(token.as_deref())?, &name)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
