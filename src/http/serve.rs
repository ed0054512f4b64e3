//! The connection loop: HTTP/1.1 over TCP or TLS, with the limits that keep slow clients from
//! holding the server.
//!
//! - `header_timeout`: a connection that has not sent complete request headers in time (also
//!   an idle keep-alive connection, and a TLS handshake) is closed.
//! - `body_timeout`: a request body that stays silent that long fails the request, which
//!   closes the connection.
//!
//! Shutdown is graceful: the listener closes, idle connections close, requests in flight
//! finish (for at most [`SHUTDOWN_GRACE`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use super::fast::FastPath;
use super::forwarded::Forwarding;

/// Longest wait for requests in flight at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How connections are served.
#[derive(Clone)]
pub struct ConnSettings {
    /// Longest wait for request headers (and the TLS handshake, and keep-alive idleness).
    pub header_timeout: Duration,
    /// Longest silence inside a request body.
    pub body_timeout: Duration,
    /// Which proxies' forwarded headers are believed.
    pub forwarding: Arc<Forwarding>,
    /// HTTPS when set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Repository files answered before the router, when set.
    pub fast: Option<Arc<FastPath>>,
}

/// Accepts and serves connections until `shutdown` completes, then shuts down gracefully.
pub async fn run(listener: TcpListener, router: Router, settings: ConnSettings, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let acceptor = settings.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let router = router.clone();
        let settings = settings.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(TokioIo::new(stream), peer, false, router, settings, watcher).await,
                Some(acceptor) => match tokio::time::timeout(settings.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => serve_connection(TokioIo::new(tls), peer, true, router, settings, watcher).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still in flight after {}s; stopping anyway", SHUTDOWN_GRACE.as_secs());
        }
    }
}

async fn serve_connection<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    tls: bool,
    router: Router,
    settings: ConnSettings,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let body_timeout = settings.body_timeout;
    let forwarding = settings.forwarding.clone();
    let fast = settings.fast.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let client = forwarding.apply(peer, tls, req.headers_mut());
        if let Some(fast) = fast.as_ref().filter(|_| FastPath::wants(&req)) {
            return Either::Left(fast.clone().serve(req, client));
        }
        req.extensions_mut().insert(client);
        req.extensions_mut().insert(ConnectInfo(peer));
        let req = req.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
        Either::Right(router.clone().oneshot(req))
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(%peer, error = %e, "connection closed");
    }
}
