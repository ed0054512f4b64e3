//! Where a base repository is read from: an `http(s)://` URL, a `file://` URL or a local
//! directory (the repository root, the one holding `repodata/`), and how its metadata files
//! are decompressed (by extension: `.gz`, `.zst`, `.xz`, `.bz2`, or none) and verified.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::BaseError;

/// A repository root.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// `http://` or `https://`, without trailing slash.
    Http {
        base: String,
        client: reqwest::blocking::Client,
    },
    /// A local directory.
    Local(PathBuf),
}

impl Source {
    /// Interprets `source`: a URL (`http://`, `https://`, `file://`) or a local path.
    pub(crate) fn parse(source: &str) -> Result<Source, BaseError> {
        if source.starts_with("http://") || source.starts_with("https://") {
            let client = reqwest::blocking::Client::builder()
                .connect_timeout(Duration::from_secs(30))
                .timeout(Duration::from_secs(30 * 60))
                .user_agent(concat!("stagerepo/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| BaseError::Unreachable {
                    url: source.to_string(),
                    detail: e.to_string(),
                })?;
            return Ok(Source::Http {
                base: source.trim_end_matches('/').to_string(),
                client,
            });
        }
        if let Some(path) = source.strip_prefix("file://") {
            return Ok(Source::Local(PathBuf::from(path)));
        }
        if source.contains("://") {
            return Err(BaseError::UnsupportedSource(source.to_string()));
        }
        Ok(Source::Local(PathBuf::from(source)))
    }

    /// Where `rel` (e.g. `repodata/repomd.xml`) is, for messages.
    pub(crate) fn location(&self, rel: &str) -> String {
        match self {
            Source::Http { base, .. } => format!("{base}/{rel}"),
            Source::Local(dir) => dir.join(rel).display().to_string(),
        }
    }

    /// Opens `rel` as a byte stream; a missing file is [`BaseError::NotFound`].
    pub(crate) fn open(&self, rel: &str) -> Result<Box<dyn Read + Send>, BaseError> {
        let location = self.location(rel);
        match self {
            Source::Http { client, .. } => {
                let response = client.get(&location).send().map_err(|e| BaseError::Unreachable {
                    url: location.clone(),
                    detail: error_chain(&e),
                })?;
                let status = response.status();
                if status == reqwest::StatusCode::NOT_FOUND {
                    return Err(BaseError::NotFound(location));
                }
                if !status.is_success() {
                    return Err(BaseError::HttpStatus {
                        url: location,
                        status: status.as_u16(),
                    });
                }
                Ok(Box::new(response))
            }
            Source::Local(_) => match File::open(&location) {
                Ok(f) => Ok(Box::new(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BaseError::NotFound(location)),
                Err(e) => Err(BaseError::Io {
                    path: location,
                    source: e,
                }),
            },
        }
    }
}

/// An error and its causes on one line (reqwest hides the interesting part in `source()`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A stored-file reader whose digest can be read once it is drained.
pub(crate) type Digesting = std::sync::Arc<std::sync::Mutex<Option<String>>>;

/// Wraps the stored bytes `raw` of `href` into a decompressing reader chosen by extension;
/// the sha256 (hex) of the stored bytes lands in the returned cell when the stream ends.
pub(crate) fn decompress(
    href: &str,
    raw: Box<dyn Read + Send>,
) -> Result<(Box<dyn Read + Send>, Digesting), BaseError> {
    let cell: Digesting = Default::default();
    let hashing = DigestOnEof {
        inner: raw,
        hasher: Sha256::new(),
        cell: cell.clone(),
        done: false,
    };
    let buffered = BufReader::with_capacity(256 * 1024, hashing);
    let reader: Box<dyn Read + Send> = if href.ends_with(".gz") {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else if href.ends_with(".zst") {
        let decoder = zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| BaseError::Io {
            path: href.to_string(),
            source: e,
        })?;
        Box::new(decoder)
    } else if href.ends_with(".xz") {
        Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(buffered))
    } else if href.ends_with(".bz2") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(buffered))
    } else if href.ends_with(".xml") {
        Box::new(buffered)
    } else {
        let ext = href.rsplit('.').next().unwrap_or("").to_string();
        return Err(BaseError::UnsupportedCompression {
            file: href.to_string(),
            ext,
        });
    };
    Ok((reader, cell))
}

/// Hashes the stored bytes read through it (repomd.xml's checksum is of the file as stored)
/// and publishes the digest when the stream reaches its end.
struct DigestOnEof<R> {
    inner: R,
    hasher: Sha256,
    cell: Digesting,
    done: bool,
}

impl<R: Read> Read for DigestOnEof<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if n == 0 && !buf.is_empty() && !self.done {
            self.done = true;
            let digest = std::mem::take(&mut self.hasher).finalize();
            *self.cell.lock().unwrap_or_else(|e| e.into_inner()) = Some(hex::encode(digest));
        }
        Ok(n)
    }
}
