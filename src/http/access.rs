//! The access log: one line per request with the client, the method, the path, the status,
//! the bytes sent, the duration and the authenticated actor (its label, never the token).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::forwarded::ClientInfo;
use crate::service::auth::ActorSink;
use crate::service::App;

tokio::task_local! {
    /// Where `App::authenticate` notes the actor of the request being served.
    static REQUEST_ACTOR: ActorSink;
}

/// The actor sink of the request this task serves, to carry onto a blocking thread.
pub fn current_sink() -> Option<ActorSink> {
    REQUEST_ACTOR.try_with(ActorSink::clone).ok()
}

/// Middleware writing the access log line (into a buffer written out by another thread, see
/// `ops::logging`) and counting the request in the metrics. It runs on every request,
/// including each repository file, so it borrows what it logs instead of copying it.
pub async fn log_request(State(app): State<super::AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // Cheap clones: the URI shares the request's bytes, the matched path is an Arc.
    let uri = req.uri().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let client = req.extensions().get::<ClientInfo>().map(|c| c.addr);
    let sink = ActorSink::default();
    let response = REQUEST_ACTOR.scope(sink.clone(), next.run(req)).await;
    let actor = sink.label();
    let served = Served {
        client,
        method: &method,
        path: uri.path(),
        route: route.as_ref().map(MatchedPath::as_str),
        actor: actor.as_deref(),
    };
    record(&app, &served, &response, started.elapsed());
    response
}

/// One answered request, as the metrics and the access log see it.
pub struct Served<'a> {
    pub client: Option<IpAddr>,
    pub method: &'a Method,
    pub path: &'a str,
    /// The route it matched; None when none did.
    pub route: Option<&'a str>,
    /// The authenticated actor's label.
    pub actor: Option<&'a str>,
}

/// Counts an answered request in the metrics and writes its access log line (by hand in text
/// format, as a `tracing` event in JSON format).
pub fn record(app: &App, req: &Served<'_>, response: &Response, elapsed: Duration) {
    // The declared length, else the length of a body known in full (JSON answers).
    let bytes = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| axum::body::HttpBody::size_hint(response.body()).exact())
        .unwrap_or(0);
    let status = response.status().as_u16();
    app.metrics
        .record_request(req.route.unwrap_or("unmatched"), req.method.as_str(), status, elapsed);
    if crate::ops::logging::access_lines_direct() {
        crate::ops::logging::write_access_line(&crate::ops::logging::AccessLine {
            client: req.client.as_ref().map(|c| c as &dyn std::fmt::Display),
            method: req.method.as_str(),
            path: req.path,
            route: req.route.unwrap_or(""),
            status,
            bytes,
            micros: elapsed.as_micros(),
            actor: req.actor,
        });
    } else {
        tracing::info!(
            target: "stagerepo::access",
            client = %Shown(req.client.as_ref()),
            method = %req.method,
            path = req.path,
            route = req.route.unwrap_or(""),
            status,
            bytes,
            ms = elapsed.as_micros() as f64 / 1000.0,
            actor = %req.actor.unwrap_or("-"),
            "request"
        );
    }
}

/// Displays a value, or `-` when absent.
struct Shown<'a, T>(Option<&'a T>);

impl<T: std::fmt::Display> std::fmt::Display for Shown<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
}
