//! Object storage for packages and published repositories (`storage = "s3"`).
//!
//! A small synchronous interface over a bucket: the service layer runs on blocking threads,
//! and each engine hides how it talks to its store. The one engine is S3 (any S3-compatible
//! store: AWS, Ceph RGW, MinIO, SeaweedFS) through the `object_store` crate.

mod s3;

use std::path::Path;
use std::time::Duration;

pub use s3::S3Store;

/// Size of the parts an [`ObjectWriter`] sends (and the largest object sent in one PUT).
pub const PART: usize = 8 * 1024 * 1024;

/// Why a bucket operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A conditional write lost: another writer changed the object since it was read.
    #[error("object {key} was changed by another writer")]
    Conflict { key: String },
    /// The object does not exist.
    #[error("no object {key}")]
    NotFound { key: String },
    /// The store could not be reached or refused the request.
    #[error("object store: {0}")]
    Store(String),
    /// A local file could not be read.
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Result of a bucket operation.
pub type BlobResult<T> = Result<T, BlobError>;

/// An object written in parts as its bytes arrive. Dropped before [`ObjectWriter::finish`],
/// it is abandoned: no object appears under its key.
pub trait ObjectWriter: Send {
    /// Adds bytes; each full part is handed to the store, waiting while the part before is
    /// still on its way, so at most two parts are in memory.
    fn write(&mut self, bytes: &[u8]) -> BlobResult<()>;
    /// Sends what is left and completes the object.
    fn finish(self: Box<Self>) -> BlobResult<()>;
}

/// A bucket of immutable and replaceable objects, addressed by `/`-separated keys.
pub trait BlobStore: Send + Sync {
    /// Starts writing the object `key` in parts (see [`ObjectWriter`]).
    fn writer(&self, key: &str) -> BlobResult<Box<dyn ObjectWriter>>;
    /// Uploads a local file under `key`, in parts when it is big (memory stays flat).
    fn put_file(&self, key: &str, path: &Path) -> BlobResult<()>;
    /// Copies the object `from` to `to` inside the store (no bytes through the daemon).
    fn copy(&self, from: &str, to: &str) -> BlobResult<()>;
    /// Writes `bytes` under `key` unconditionally.
    fn put(&self, key: &str, bytes: Vec<u8>) -> BlobResult<()>;
    /// Writes `bytes` under `key` only if the object is still the version `previous` (its
    /// ETag), or absent when `previous` is None; returns the new version's ETag.
    fn replace(&self, key: &str, bytes: Vec<u8>, previous: Option<&str>) -> BlobResult<String>;
    /// The ETag of the object under `key`, if it exists.
    fn etag(&self, key: &str) -> BlobResult<Option<String>>;
    /// Reads a whole object.
    fn get(&self, key: &str) -> BlobResult<Vec<u8>>;
    /// Every key below `prefix`.
    fn list(&self, prefix: &str) -> BlobResult<Vec<String>>;
    /// Removes the object under `key` (absent is fine).
    fn delete(&self, key: &str) -> BlobResult<()>;
    /// A URL anyone may GET the object from, for `ttl`.
    fn presigned_get(&self, key: &str, ttl: Duration) -> BlobResult<String>;
}
