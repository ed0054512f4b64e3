//! The version of this build and the git commit it was built from.

use serde::Serialize;

/// The crate version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit the binary was built from, or `unknown` outside a git checkout.
pub const COMMIT: &str = env!("STAGEREPO_GIT_COMMIT");

/// What `stagerepo --version` prints after the name: `0.1.0 (commit abc1234)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("STAGEREPO_GIT_COMMIT"),
    ")"
);

/// The body of `GET /api/v1/version`.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: &'static str,
    pub commit: &'static str,
}

/// This build's version information.
pub fn info() -> VersionInfo {
    VersionInfo {
        version: VERSION,
        commit: COMMIT,
    }
}
