//! Reads an RPM file's lead, signature and header (never the payload) into [`PackageMeta`].

use std::path::Path;

use crate::domain::package::PackageMeta;

/// Why a file is not an acceptable binary RPM.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The bytes are not an RPM, or its header does not parse.
    #[error("not a valid RPM: {0}")]
    Invalid(String),
    /// A source RPM where a binary one is required.
    #[error("{0} is a source RPM; only binary RPMs can be uploaded")]
    SourcePackage(String),
    #[error("reading the package: {0}")]
    Io(#[from] std::io::Error),
}

/// Parses the package at `path`; `pkgid` is its sha256 (already computed while it streamed in),
/// `time_file` the time recorded as its file time.
pub fn read_package(path: &Path, pkgid: &str, time_file: i64) -> Result<PackageMeta, HeaderError> {
    todo!("{path:?} {pkgid} {time_file}")
}
