//! A site's own endpoints under `/api/v1/sites/me/`, and the pakiti-client endpoint.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::Json;
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{parse_id, BearerToken, JsonBody};
use super::{blocking, AppState};
use crate::db::Report;
use crate::domain::problem::Problem;
use crate::domain::rollout::SiteStatus;
use crate::service::site_view::PendingRelease;

/// `GET /api/v1/sites/me/pending` (site token): releases awaiting the site's report.
pub async fn pending(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
) -> ApiResult<Json<Vec<PendingRelease>>> {
    Ok(Json(
        blocking(&app, move |a| a.pending_for_site(&a.authenticate(token.as_deref())?)).await?,
    ))
}

/// Body of a decline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    reason: String,
}

/// `POST /api/v1/sites/me/releases/{id}/decline` (site token).
pub async fn decline(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<DeclineRequest>,
) -> ApiResult<Json<SiteStatus>> {
    let id = parse_id(&id)?;
    Ok(Json(
        blocking(&app, move |a| {
            a.decline(&a.authenticate(token.as_deref())?, id, &req.reason)
        })
        .await?,
    ))
}

/// Query of the site's reports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/sites/me/reports?limit=` (site token): the site's reports, newest first.
pub async fn reports(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
    super::inventory::Params(q): super::inventory::Params<LimitQuery>,
) -> ApiResult<Json<Vec<Report>>> {
    Ok(Json(
        blocking(&app, move |a| {
            a.own_reports(&a.authenticate(token.as_deref())?, q.limit.unwrap_or(100))
        })
        .await?,
    ))
}

/// `GET /api/v1/sites/me/problems` (site token): the problems the site reported.
pub async fn problems(State(app): State<AppState>, BearerToken(token): BearerToken) -> ApiResult<Json<Vec<Problem>>> {
    Ok(Json(
        blocking(&app, move |a| a.own_problems(&a.authenticate(token.as_deref())?)).await?,
    ))
}

/// The site token of a pakiti-client request: pakiti-client only sets a URL, so the token
/// comes from the query (`?token=...`; pakiti-client appends its own `?protocol=5`, which is
/// cut off), from basic auth in the URL (`http://site:TOKEN@host/...`, the password), or as
/// a bearer token.
fn pakiti_token(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let from_query = uri.query().and_then(|q| {
        q.split(['&', '?'])
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    });
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            if let Some(b) = v.strip_prefix("Basic ") {
                use base64::Engine;
                let raw = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
                let pair = String::from_utf8(raw).ok()?;
                pair.split_once(':').map(|(_, p)| p.to_string())
            } else {
                v.strip_prefix("Bearer ").map(|t| t.trim().to_string())
            }
        });
    from_query.or(from_header).filter(|t| !t.is_empty())
}

/// `POST /api/v1/pakiti` (site token): a pakiti-client report, recorded like
/// `POST /api/v1/deployments`. Answers `OK` as text, which pakiti-client checks for.
pub async fn pakiti(
    State(app): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> ApiResult<(StatusCode, String)> {
    let token = pakiti_token(&uri, &headers);
    let r = blocking(&app, move |a| {
        a.record_pakiti(&a.authenticate(token.as_deref())?, &body)
    })
    .await?;
    Ok((
        StatusCode::OK,
        format!(
            "recorded {} packages of host {} as report {}\nOK\n",
            r.packages, r.host, r.id
        ),
    ))
}
