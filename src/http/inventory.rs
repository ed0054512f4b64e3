//! Who deploys what: deployment reports, inventory, SLA, version, metrics and per-site feeds.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::admin::parse_duration;
use super::error::{ApiError, ApiResult};
use super::extract::{BearerToken, JsonBody};
use super::feed::render_atom;
use super::{blocking, AppState};
use crate::db::DeploymentReport;
use crate::service::inventory::{DeploymentRecorded, DeploymentRequest, Inventory, InventoryFilter, SlaReport};
use crate::service::metrics;
use crate::version::VersionInfo;

/// Query parameters; a bad or unknown one is a JSON 400 like every other error.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| Params(v))
            .map_err(|e| ApiError::invalid(format!("bad query parameters: {}", e.body_text())))
    }
}

/// `POST /api/v1/deployments` (site token): what one host of the site runs now.
pub async fn report(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    JsonBody(req): JsonBody<DeploymentRequest, { crate::domain::limits::MAX_DEPLOYMENT_BODY }>,
) -> ApiResult<(StatusCode, Json<DeploymentRecorded>)> {
    let r = blocking(&app, move |a| {
        a.record_deployment(&a.authenticate(token.as_deref())?, &req)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Filters of the deployment history.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    site: Option<String>,
    host: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/deployments` (admin, or a site for its own hosts): reports, newest first.
pub async fn history(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Params(q): Params<HistoryQuery>,
) -> ApiResult<Json<Vec<DeploymentReport>>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.deployment_history(
                &a.authenticate(token.as_deref())?,
                q.site.as_deref(),
                q.host.as_deref(),
                q.limit.unwrap_or(100),
            )
        })
        .await?,
    ))
}

/// `GET /api/v1/inventory?element=&site=&dist=`: public, like the dashboard.
pub async fn inventory(
    State(app): State<AppState>,
    Params(filter): Params<InventoryFilter>,
) -> ApiResult<Json<Inventory>> {
    Ok(Json(blocking(&app, move |a| a.inventory(&filter)).await?))
}

/// Filters of the SLA metrics.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaQuery {
    /// A human duration; 90d when absent.
    since: Option<String>,
    site: Option<String>,
}

/// `GET /api/v1/sla?since=90d&site=`: public, like the dashboard.
pub async fn sla(State(app): State<AppState>, Params(q): Params<SlaQuery>) -> ApiResult<Json<SlaReport>> {
    let since = match q.since.as_deref() {
        Some(s) => parse_duration(s)?,
        None => metrics::SLA_PERIOD_SECONDS,
    };
    Ok(Json(blocking(&app, move |a| a.sla(since, q.site.as_deref())).await?))
}

/// `GET /api/v1/version`.
pub async fn version() -> Json<VersionInfo> {
    Json(crate::version::info())
}

/// `GET /metrics`: the Prometheus text exposition format.
pub async fn metrics(State(app): State<AppState>) -> ApiResult<impl IntoResponse> {
    let body = blocking(&app, |a| a.metrics_text()).await?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body))
}

/// `GET /sites/{site}/feed.atom`: only the announcements, promotions and rejections of
/// releases the site was announced as a rollout site.
pub async fn site_feed(
    State(app): State<AppState>,
    Path(site): Path<String>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let name = site.clone();
    let entries = blocking(&app, move |a| a.site_feed(&name)).await?;
    let base = super::repo::base_url(&app, &headers);
    let body = render_atom(
        &base,
        &format!("/sites/{site}/feed.atom"),
        &format!("stagerepo announcements for {site}"),
        &entries,
    );
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], body))
}
