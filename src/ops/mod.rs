//! Operations: configuration checks, logging, readiness notification to systemd.

pub mod config_check;
pub mod logging;
pub mod sdnotify;
