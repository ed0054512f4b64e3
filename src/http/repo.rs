//! `.repo` files for yum.repos.d; the repositories themselves are static files.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::ApiResult;
use super::files::RepoFiles;
use super::AppState;
use crate::domain::repo::RepoKind;
use crate::service::ServiceError;

/// Everything under `/repo/`: the `.repo` files, and the repositories' files (with Range,
/// HEAD, conditional GET and caching headers, see [`RepoFiles`]).
pub async fn serve(
    State(files): State<Arc<RepoFiles>>,
    Path(path): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let app = &files.app;
    if let Some((dist, file)) = path.split_once('/').filter(|(_, f)| !f.contains('/')) {
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
            return release_rpm(app, dist, &headers).await;
        }
        if let Some(repo) = file.strip_suffix(".repo").and_then(RepoKind::parse) {
            let body = repo_definition(&base_url(app, &headers), dist, repo, app.signer.is_some());
            return Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                body,
            )
                .into_response());
        }
    }
    Ok(files.serve(&path, &method, &headers).await?)
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
