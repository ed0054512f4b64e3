//! The repositories' fast path: GET and HEAD of a file inside a repository
//! (`/repo/<dist>/<repo>/<path>`) are answered before the router.
//!
//! Why: these requests are nearly all a grid's traffic (every host's dnf fetching repomd.xml,
//! repodata and packages), and the router's generic machinery (route matching, boxed
//! middleware, extractors that copy the header map, four header layers) cost about as much CPU
//! as the file answer itself. The fast path does what that chain does for these routes and no
//! more: the Host check, the answer from [`RepoFiles`], `X-Content-Type-Options`, the metrics
//! and the access log line, all under the route name `/repo/{*path}` as before.
//!
//! Anything else under `/repo/` (the `.repo` files, the key, the release package, a path with
//! percent-escapes) goes through the router as before.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response};
use axum::response::IntoResponse;

use super::error::ApiError;
use super::files::RepoFiles;
use super::forwarded::{is_valid_host, ClientInfo};

/// The route name repository files are counted and logged under.
pub const ROUTE: &str = "/repo/{*path}";

/// Serves repository files without the router.
pub struct FastPath {
    files: Arc<RepoFiles>,
}

impl FastPath {
    /// The fast path over `files`.
    pub fn new(files: Arc<RepoFiles>) -> Arc<FastPath> {
        Arc::new(FastPath { files })
    }

    /// The path below `/repo/` when `req` is a GET or HEAD of a file inside a repository
    /// (at least `<dist>/<repo>/<name>`, no percent-escapes to decode).
    pub fn wants<B>(req: &Request<B>) -> bool {
        (req.method() == Method::GET || req.method() == Method::HEAD) && repo_file(req.uri().path()).is_some()
    }

    /// Answers `req`, which [`FastPath::wants`] accepted.
    pub async fn serve<B>(self: Arc<Self>, req: Request<B>, client: ClientInfo) -> Result<Response<Body>, Infallible> {
        let started = Instant::now();
        let path = req.uri().path();
        let rel = repo_file(path).unwrap_or_default();
        let valid_host = req
            .headers()
            .get(header::HOST)
            .is_none_or(|h| h.to_str().is_ok_and(is_valid_host));
        let mut response = if valid_host {
            match self.files.serve(rel, req.method(), req.headers()).await {
                Ok(r) => r,
                Err(e) => ApiError(e).into_response(),
            }
        } else {
            ApiError::invalid(super::forwarded::INVALID_HOST).into_response()
        };
        response
            .headers_mut()
            .insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        let served = super::access::Served {
            client: Some(client.addr),
            method: req.method(),
            path,
            route: Some(ROUTE),
            actor: None,
        };
        super::access::record(&self.files.app, &served, &response, started.elapsed());
        Ok(response)
    }
}

/// `<dist>/<repo>/<name...>` of a `/repo/...` path naming a file inside a repository.
fn repo_file(path: &str) -> Option<&str> {
    let rel = path.strip_prefix("/repo/")?;
    (rel.split('/').nth(2).is_some_and(|name| !name.is_empty()) && !rel.contains('%')).then_some(rel)
}

#[cfg(test)]
mod tests {
    use super::repo_file;

    #[test]
    fn which_paths_take_the_fast_path() {
        assert_eq!(
            repo_file("/repo/el9/beta/repodata/repomd.xml"),
            Some("el9/beta/repodata/repomd.xml")
        );
        assert_eq!(
            repo_file("/repo/el9/beta/Packages/a.rpm"),
            Some("el9/beta/Packages/a.rpm")
        );
        for other in [
            "/repo/el9/beta.repo",
            "/repo/el9/RPM-GPG-KEY-stagerepo",
            "/repo/el9/beta",
            "/repo/el9/beta/",
            "/repo/el9/beta/Packages/a%2Bb.rpm",
            "/api/v1/releases",
        ] {
            assert_eq!(repo_file(other), None, "{other}");
        }
    }
}
