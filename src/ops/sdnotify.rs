//! Readiness notification to systemd (`Type=notify`); does nothing without `NOTIFY_SOCKET`.

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// The listener is bound and requests are served.
pub fn ready() {
    send(&[NotifyState::Ready, NotifyState::Status("serving")]);
}

/// A reload (SIGHUP) has started; [`ready`] follows when it is done.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Shutdown has started.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("finishing requests in flight"),
    ]);
}
