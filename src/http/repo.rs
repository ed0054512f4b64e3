//! `.repo` files for yum.repos.d; the repositories themselves are static files.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::ApiResult;
use super::AppState;
use crate::domain::repo::RepoKind;
use crate::service::ServiceError;

/// `GET /repo/{dist}/{beta,production}.repo`; `/repo/{dist}/{repo}` redirects to the directory.
pub async fn repo_file(
    State(app): State<AppState>,
    Path((dist, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    app.require_dist(&dist)?;
    if let Some(repo) = RepoKind::parse(&file) {
        return Ok(Redirect::permanent(&format!("/repo/{dist}/{repo}/")).into_response());
    }
    let repo = file
        .strip_suffix(".repo")
        .and_then(RepoKind::parse)
        .ok_or_else(|| ServiceError::NotFound(format!("no file {file} in /repo/{dist}/")))?;
    let base = base_url(&app, &headers);
    let body = repo_definition(&base, &dist, repo);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response())
}

/// The URL clients reach us at: `public_url` when configured, else the request's Host.
pub fn base_url(app: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &app.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The yum.repos.d stanza of one repository.
pub fn repo_definition(base: &str, dist: &str, repo: RepoKind) -> String {
    let (priority_note, enabled) = match repo {
        RepoKind::Beta => ("# beta: released by the product teams, not yet through the staged rollout; use at your own risk\n", 1),
        RepoKind::Production => ("", 1),
    };
    format!(
        "{priority_note}[stagerepo-{dist}-{repo}]\n\
         name=stagerepo {dist} {repo}\n\
         baseurl={base}/repo/{dist}/{repo}/\n\
         enabled={enabled}\n\
         gpgcheck=0\n\
         repo_gpgcheck=0\n\
         metadata_expire=5m\n\
         skip_if_unavailable=False\n"
    )
}
