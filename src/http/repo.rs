//! `.repo` files for yum.repos.d; the repositories themselves are static files.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::error::ApiResult;
use super::AppState;
use crate::domain::repo::RepoKind;
use crate::service::ServiceError;

/// Everything under `/repo/`: the `.repo` files, and the repositories as static files
/// (with Range, HEAD and conditional GET from tower-http's `ServeDir`).
pub async fn serve(State(app): State<AppState>, Path(path): Path<String>, mut req: Request) -> ApiResult<Response> {
    let segments: Vec<&str> = path.split('/').collect();
    if let [dist, file] = segments[..] {
        app.require_dist(dist)?;
        if let Some(repo) = RepoKind::parse(file) {
            return Ok(Redirect::permanent(&format!("/repo/{dist}/{repo}/")).into_response());
        }
        if file == "RPM-GPG-KEY-stagerepo" {
            let key = app.signer.as_ref().map(|s| s.public_armored.clone()).ok_or_else(|| {
                ServiceError::NotFound("this server does not sign its repositories (no signing_key configured)".into())
            })?;
            return Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/pgp-keys")], key).into_response());
        }
        if file == app.release_rpm_file() {
            return release_rpm(&app, dist, req.headers()).await;
        }
        if let Some(repo) = file.strip_suffix(".repo").and_then(RepoKind::parse) {
            let body = repo_definition(&base_url(&app, req.headers()), dist, repo, app.signer.is_some());
            return Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                body,
            )
                .into_response());
        }
    }
    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    *req.uri_mut() = format!("/{path}{query}")
        .parse()
        .map_err(|_| ServiceError::Invalid(format!("bad path {path:?}")))?;
    let cache = if path.ends_with("/repomd.xml") || path.ends_with("/repomd.xml.asc") {
        // Clients must see a new publication quickly; everything else is content-addressed.
        "no-cache"
    } else {
        "public, max-age=300"
    };
    let mut response = ServeDir::new(app.repos_dir())
        .append_index_html_on_directories(false)
        .oneshot(req)
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map(axum::body::Body::new);
    if response.status() == StatusCode::NOT_FOUND {
        return Err(ServiceError::NotFound(format!("no file /repo/{path}")).into());
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static(cache));
    Ok(response)
}

/// The URL clients reach us at: `public_url` when configured, else the request's scheme and Host.
pub fn base_url(app: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &app.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    // The connection loop sets X-Forwarded-Proto to the scheme the client used (see forwarded.rs).
    let scheme = match headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

pub use crate::domain::repo::repo_definition;

/// `/repo/<dist>/<release_package>.noarch.rpm`: the package that sets a host up.
async fn release_rpm(app: &AppState, dist: &str, headers: &HeaderMap) -> ApiResult<Response> {
    let base = base_url(app, headers);
    let dist = dist.to_string();
    let body = super::blocking(app, move |a| a.release_rpm(&dist, &base)).await?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/x-rpm")], body).into_response())
}
