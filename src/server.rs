//! Binds the listener, serves the router and shuts down gracefully on SIGTERM/SIGINT.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::service::{App, ServiceError, SystemClock};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start: {0}")]
    Start(#[from] ServiceError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the daemon until a termination signal; in-flight requests finish first.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let addr = config.listen;
    let app = tokio::task::spawn_blocking(move || App::open(config, Arc::new(SystemClock)))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
    let app = Arc::new(app);
    tracing::info!(
        data_dir = %app.config.data_dir.display(),
        admin_token = %app.admin_token_path().display(),
        "stagerepo {} ready",
        crate::version::LONG_VERSION
    );
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(crate::workers::run(app.clone(), stop_rx));
    axum::serve(listener, crate::http::router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    let _ = stop_tx.send(true);
    let _ = workers.await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
