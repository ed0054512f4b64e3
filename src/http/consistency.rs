//! Consistency endpoints: the closure check on demand and base repositories.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::db::BaseInfo;
use crate::service::consistency::CheckReport;

/// Parameters of a check.
#[derive(Debug, Deserialize)]
pub struct CheckQuery {
    dist: String,
    release: Option<i64>,
}

/// `GET /api/v1/admin/check?dist=D[&release=ID]`.
pub async fn check(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    super::inventory::Params(q): super::inventory::Params<CheckQuery>,
) -> ApiResult<Json<CheckReport>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.authenticate(token.as_deref())?.require_admin()?;
            if let Some(r) = q.release {
                crate::service::limit(crate::domain::limits::check_id("release", r))?;
            }
            a.check(&q.dist, q.release)
        })
        .await?,
    ))
}

/// Body of `POST /api/v1/admin/bases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBase {
    dist: String,
    name: String,
    /// URL or local path of the repository root.
    source: String,
}

/// `POST /api/v1/admin/bases`: imports a base repository.
pub async fn add(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<NewBase>,
) -> ApiResult<(StatusCode, Json<BaseInfo>)> {
    let info = blocking(&app, move |a| {
        a.add_base(&a.authenticate(token.as_deref())?, &req.dist, &req.name, &req.source)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `POST /api/v1/admin/bases/{dist}/{name}/refresh`.
pub async fn refresh(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path((dist, name)): Path<(String, String)>,
) -> ApiResult<Json<BaseInfo>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.refresh_base(&a.authenticate(token.as_deref())?, &dist, &name)
        })
        .await?,
    ))
}

/// Filter of the base list.
#[derive(Debug, Deserialize)]
pub struct DistQuery {
    dist: String,
}

/// `GET /api/v1/admin/bases?dist=D`.
pub async fn list(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    super::inventory::Params(q): super::inventory::Params<DistQuery>,
) -> ApiResult<Json<Vec<BaseInfo>>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.authenticate(token.as_deref())?.require_admin()?;
            a.bases(&q.dist)
        })
        .await?,
    ))
}

/// `DELETE /api/v1/admin/bases/{dist}/{name}`.
pub async fn remove(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path((dist, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |a| {
        a.remove_base(&a.authenticate(token.as_deref())?, &dist, &name)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
