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

/// The yum.repos.d stanza of one repository.
pub fn repo_definition(base: &str, dist: &str, repo: RepoKind, signed: bool) -> String {
    let (priority_note, enabled) = match repo {
        RepoKind::Beta => (
            "# beta: released by the product teams, not yet through the staged rollout; use at your own risk\n",
            1,
        ),
        RepoKind::Production => ("", 1),
    };
    // repo_gpgcheck verifies repomd.xml, which pins every other file by checksum; package
    // signatures belong to the teams, so gpgcheck stays off unless a site adds their keys.
    let gpg = if signed {
        format!("repo_gpgcheck=1\ngpgkey={base}/repo/{dist}/RPM-GPG-KEY-stagerepo\n")
    } else {
        "repo_gpgcheck=0\n".to_string()
    };
    format!(
        "{priority_note}[stagerepo-{dist}-{repo}]\n\
         name=stagerepo {dist} {repo}\n\
         baseurl={base}/repo/{dist}/{repo}/\n\
         enabled={enabled}\n\
         gpgcheck=0\n\
         {gpg}\
         metadata_expire=5m\n\
         skip_if_unavailable=False\n"
    )
}
