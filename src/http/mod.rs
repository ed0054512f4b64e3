//! The HTTP adapter: every route in one list, thin handlers over the service layer.

pub mod access;
mod admin;
mod consistency;
mod dashboard;
pub mod error;
mod extract;
pub mod fast;
pub mod feed;
pub mod files;
pub mod forwarded;
mod history;
mod inventory;
pub mod limits;
mod manage;
mod ops;
mod pages;
mod releases;
mod repo;
mod rollout;
pub mod serve;
mod site_view;
pub mod tls;
mod upload;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::routing::{delete, get, post, put};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::service::{App, ServiceError, ServiceResult};
use error::{ApiError, ApiResult};

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// The dashboard runs no script and loads nothing but its inline style; the API answers JSON.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// Largest pakiti-client report: 100,000 packages of about 80 bytes.
const PAKITI_MAX_BODY: usize = 8 * 1024 * 1024;

/// Builds the router over `app`, serving repository files from `files`.
///
/// Security headers: every answer gets `X-Content-Type-Options: nosniff`; every answer but the
/// repositories' files (`/repo/...`, read by dnf, not browsers) also gets the CSP,
/// `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`. Both are static headers added by
/// router-level layers, so the repository fast path pays one header insert.
pub fn router(app: AppState, files: Arc<files::RepoFiles>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/api/v1/upload/{filename}",
            put(upload::upload).layer(middleware::from_fn_with_state(
                limits::UploadSlots::new(app.config.max_concurrent_uploads),
                limits::upload_slot,
            )),
        )
        .route("/api/v1/packages/{filename}", get(upload::package))
        .route("/api/v1/releases", post(releases::submit).get(releases::list))
        .route("/api/v1/releases/{id}", get(releases::show))
        .route("/api/v1/releases/{id}/reports", post(rollout::report))
        .route("/api/v1/problems", post(rollout::problem))
        .route("/api/v1/elements", get(admin::list_elements))
        .route("/api/v1/rollouts", get(admin::list_rollouts))
        .route("/api/v1/audit", get(admin::audit))
        .route("/api/v1/admin/teams", post(admin::add_team).get(admin::list_teams))
        .route(
            "/api/v1/admin/teams/{name}/token-rotate",
            post(admin::rotate_team_token),
        )
        .route("/api/v1/admin/teams/{name}/keys", post(admin::add_team_key))
        .route("/api/v1/admin/teams/{name}/keys/{key}", delete(admin::remove_team_key))
        .route("/api/v1/admin/keys", get(admin::list_team_keys))
        .route("/api/v1/admin/elements", post(admin::add_element))
        .route("/api/v1/admin/sites", post(admin::add_site).get(admin::list_sites))
        .route("/api/v1/admin/rollouts", post(admin::add_rollout))
        .route(
            "/api/v1/admin/sites/{name}",
            axum::routing::patch(manage::change_site).delete(manage::remove_site),
        )
        .route(
            "/api/v1/admin/sites/{name}/token-rotate",
            post(manage::rotate_site_token),
        )
        .route("/api/v1/admin/teams/{name}", delete(manage::remove_team))
        .route("/api/v1/admin/elements/{name}", delete(manage::remove_element))
        .route("/api/v1/admin/rollouts/{element}/{site}", delete(admin::remove_rollout))
        .route("/api/v1/admin/releases/{id}/announce", post(rollout::announce))
        .route("/api/v1/admin/releases/{id}/promote", post(rollout::promote))
        .route("/api/v1/admin/releases/{id}/reject", post(rollout::reject))
        .route("/api/v1/admin/problems", get(rollout::problems))
        .route("/api/v1/admin/problems/{id}/triage", post(rollout::triage))
        .route("/api/v1/admin/problems/{id}/close", post(rollout::close))
        .route("/api/v1/admin/webhooks", get(admin::webhook_attempts))
        .route("/api/v1/repos/{dist}/{repo}/revisions", get(history::revisions))
        .route("/api/v1/repos/{dist}/{repo}/diff", get(history::diff))
        .route("/api/v1/admin/releases/{id}/withdraw", post(history::withdraw))
        .route("/api/v1/admin/repos/{dist}/rollback", post(history::rollback))
        .route("/api/v1/admin/check", get(consistency::check))
        .route("/api/v1/admin/bases", post(consistency::add).get(consistency::list))
        .route("/api/v1/admin/bases/{dist}/{name}", delete(consistency::remove))
        .route("/api/v1/admin/bases/{dist}/{name}/refresh", post(consistency::refresh))
        .route("/api/v1/admin/backup", post(ops::backup))
        .route("/api/v1/admin/verify", post(ops::verify))
        .route("/feed.atom", get(feed::feed))
        .route("/", get(dashboard::dashboard))
        .route("/releases/{id}", get(pages::release))
        .route("/problems/{id}", get(pages::problem))
        .route("/sites/{site}", get(pages::site))
        .route("/elements/{name}", get(pages::element))
        .route("/metrics", get(inventory::metrics))
        .route("/sites/{site}/feed.atom", get(inventory::site_feed))
        .route("/api/v1/version", get(inventory::version))
        .route("/api/v1/deployments", post(inventory::report).get(inventory::history))
        .route("/api/v1/inventory", get(inventory::inventory))
        .route("/api/v1/sla", get(inventory::sla))
        .route("/api/v1/sites/me/pending", get(site_view::pending))
        .route("/api/v1/sites/me/reports", get(site_view::reports))
        .route("/api/v1/sites/me/problems", get(site_view::problems))
        .route("/api/v1/sites/me/releases/{id}/decline", post(site_view::decline))
        .route(
            "/api/v1/pakiti",
            post(site_view::pakiti).layer(axum::extract::DefaultBodyLimit::max(PAKITI_MAX_BODY)),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Routes below get only the layers that follow.
        .route("/repo/{*path}", get(repo::serve).with_state(files))
        .fallback(|| async { ApiError(ServiceError::NotFound("no such endpoint".into())) })
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(middleware::from_fn(forwarded::require_valid_host))
        .layer(middleware::from_fn_with_state(app.clone(), access::log_request))
        .with_state(app)
}

/// Runs a service call on a blocking thread (it may touch the disk and the database).
pub async fn blocking<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&App) -> ServiceResult<T> + Send + 'static,
) -> ApiResult<T> {
    let app = app.clone();
    let span = tracing::Span::current();
    let actor_sink = access::current_sink().unwrap_or_default();
    tokio::task::spawn_blocking(move || span.in_scope(|| actor_sink.collect(|| f(&app))))
        .await
        .map_err(|e| ApiError(ServiceError::Internal(format!("task failed: {e}"))))?
        .map_err(ApiError)
}
