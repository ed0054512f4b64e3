//! The access log: one line per request with the client, the method, the path, the status,
//! the bytes sent, the duration and the authenticated actor (its label, never the token).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::forwarded::ClientInfo;
use crate::service::auth::ActorSink;

tokio::task_local! {
    /// Where `App::authenticate` notes the actor of the request being served.
    static REQUEST_ACTOR: ActorSink;
}

/// The actor sink of the request this task serves, to carry onto a blocking thread.
pub fn current_sink() -> Option<ActorSink> {
    REQUEST_ACTOR.try_with(ActorSink::clone).ok()
}

/// Middleware writing the access log line.
pub async fn log_request(State(app): State<super::AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let client = req
        .extensions()
        .get::<ClientInfo>()
        .map(|c| c.addr.to_string())
        .unwrap_or_else(|| "-".into());
    let sink = ActorSink::default();
    let response = REQUEST_ACTOR.scope(sink.clone(), next.run(req)).await;
    // The declared length, else the length of a body known in full (JSON answers).
    let bytes = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| axum::body::HttpBody::size_hint(response.body()).exact())
        .unwrap_or(0);
    let actor = sink.label().unwrap_or_else(|| "-".into());
    app.metrics.record_request(
        route.as_deref().unwrap_or("unmatched"),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    tracing::info!(
        target: "stagerepo::access",
        %client,
        %method,
        %path,
        route = route.as_deref().unwrap_or(""),
        status = response.status().as_u16(),
        bytes,
        ms = started.elapsed().as_micros() as f64 / 1000.0,
        %actor,
        "request"
    );
    response
}
