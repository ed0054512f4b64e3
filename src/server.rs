//! Binds the listener, serves the router and shuts down gracefully on SIGTERM/SIGINT.
//!
//! Under systemd (`Type=notify`) it reports readiness once the listener is bound, a reload
//! around SIGHUP and the start of shutdown. SIGHUP re-reads the configuration file: the TLS
//! certificate and key are replaced for new connections; other changed settings are logged as
//! needing a restart.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{Config, ConfigError, Overrides};
use crate::http::forwarded::Forwarding;
use crate::http::serve::ConnSettings;
use crate::http::tls::{ReloadableCert, TlsError};
use crate::ops::sdnotify;
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
    /// The configuration's operational settings are unusable.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// HTTPS is configured but its certificate or key is unusable.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Where a SIGHUP reads the configuration from: the file given at start, then the same
/// environment and flag overrides.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// The configuration file, if any.
    pub file: Option<PathBuf>,
    /// Environment and command-line values.
    pub overrides: Overrides,
}

/// Runs the daemon until a termination signal; in-flight requests finish first.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    serve_with_reload(config, ConfigSource::default()).await
}

/// Like [`serve`], re-reading `source` on SIGHUP.
pub async fn serve_with_reload(config: Config, source: ConfigSource) -> Result<(), ServeError> {
    let addr = config.listen;
    let cert = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(ReloadableCert::load(cert, key)?),
        _ => None,
    };
    let mut settings = ConnSettings {
        header_timeout: config.header_timeout_duration()?,
        body_timeout: config.body_timeout_duration()?,
        forwarding: Arc::new(Forwarding::new(config.trusted_proxy_nets()?)),
        tls: cert.as_ref().map(|c| c.server_config()).transpose()?,
        fast: None,
    };
    let app = tokio::task::spawn_blocking(move || App::open(config, Arc::new(SystemClock)))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
    let app = Arc::new(app);
    tracing::info!(
        data_dir = %app.config.data_dir.display(),
        database = app.db.engine(),
        admin_token = %app.admin_token_path().display(),
        "stagerepo {} ready",
        crate::version::LONG_VERSION
    );
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let scheme = if cert.is_some() { "https" } else { "http" };
    tracing::info!("listening on {scheme}://{}", listener.local_addr()?);
    if app.config.public_url.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            listen = %addr,
            "public_url is not set: .repo files and feed links name whatever Host clients send; \
             set public_url to the address sites use"
        );
    }
    sdnotify::ready();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(crate::workers::run(app.clone(), stop_rx));
    let scrub_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(every) = app.config.scrub_interval_duration()? {
        crate::scrub::spawn(app.clone(), every, scrub_stop.clone())?;
    }
    let reloader = tokio::spawn(reload_on_hangup(app.config.clone(), source, cert));
    let files = crate::http::files::RepoFiles::new(app.clone(), app.config.file_cache_bytes());
    settings.fast = Some(crate::http::fast::FastPath::new(files.clone()));
    let pending = app.pending.clone();
    let router = crate::http::router(app, files);
    crate::http::serve::run(listener, router, settings, shutdown_signal()).await;
    reloader.abort();
    let _ = stop_tx.send(true);
    scrub_stop.store(true, std::sync::atomic::Ordering::Release);
    let _ = workers.await;
    // The files of generations written behind reach the disk before the process goes (a
    // crash instead leaves that to the next start's reconciliation).
    let unwritten = tokio::task::spawn_blocking(move || pending.flush_all())
        .await
        .unwrap_or(0);
    if unwritten > 0 {
        tracing::error!(
            repositories = unwritten,
            "repodata written behind did not reach the disk; the next start rewrites it"
        );
    }
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
    sdnotify::stopping();
    tracing::info!("shutting down: finishing requests in flight");
}

/// On each SIGHUP: re-read the configuration, reload the TLS certificate, and name the
/// settings that changed but only take effect after a restart.
async fn reload_on_hangup(running: Config, source: ConfigSource, cert: Option<Arc<ReloadableCert>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install a SIGHUP handler; reloading is off");
            return;
        }
    };
    while hangup.recv().await.is_some() {
        sdnotify::reloading();
        tracing::info!("SIGHUP: reloading");
        let file = source.file.clone();
        let overrides = source.overrides.clone();
        let fresh = tokio::task::spawn_blocking(move || Config::load(file.as_deref(), overrides)).await;
        match fresh {
            Ok(Ok(fresh)) => {
                let changed = crate::ops::config_check::restart_needed(&running, &fresh);
                if !changed.is_empty() {
                    tracing::warn!(keys = %changed.join(", "), "changed settings take effect after a restart");
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "the configuration is invalid; keeping the running one"),
            Err(e) => tracing::error!(error = %e, "reading the configuration failed"),
        }
        if let Some(cert) = &cert {
            let cert = cert.clone();
            match tokio::task::spawn_blocking(move || cert.reload()).await {
                Ok(Ok(())) => tracing::info!("TLS certificate and key reloaded"),
                Ok(Err(e)) => tracing::error!(error = %e, "cannot reload the TLS certificate; keeping the current one"),
                Err(e) => tracing::error!(error = %e, "reloading the TLS certificate failed"),
            }
        }
        sdnotify::ready();
    }
}
