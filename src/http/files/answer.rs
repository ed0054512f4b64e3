//! The answer to GET or HEAD of a repository file: conditional requests, ranges, and the body
//! from memory, from the pieces of a generation written behind, or streamed from disk.

use std::io::{Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

use super::{value, Entry, CHUNK};
use crate::service::{ServiceError, ServiceResult};

/// The answer to GET/HEAD of one file: 200, 206, 304 or 416.
pub(super) fn respond(entry: &Entry, method: &Method, headers: &HeaderMap) -> ServiceResult<Response> {
    let head = method == Method::HEAD;
    let mut response = Response::new(Body::empty());
    let h = response.headers_mut();
    h.insert(header::ETAG, entry.etag.clone());
    h.insert(header::LAST_MODIFIED, entry.last_modified.clone());
    h.insert(header::CACHE_CONTROL, entry.cache_control.clone());
    if not_modified(entry, headers) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    h.insert(header::CONTENT_TYPE, entry.content_type.clone());
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let range = match requested_range(entry, headers) {
        Ranged::Full => None,
        Ranged::Part(start, end) => Some((start, end)),
        Ranged::Unsatisfiable => {
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            let h = response.headers_mut();
            h.insert(header::CONTENT_RANGE, value(&format!("bytes */{}", entry.len))?);
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            return Ok(response);
        }
    };
    let (start, end) = range.unwrap_or((0, entry.len));
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_RANGE,
            value(&format!("bytes {start}-{}/{}", end - 1, entry.len))?,
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    } else {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, entry.content_length.clone());
    }
    if head || start == end {
        return Ok(response);
    }
    *response.body_mut() = match (&entry.body, &entry.parts) {
        (Some(bytes), _) => Body::from(bytes.slice(start as usize..end as usize)),
        (None, Some(parts)) => parts_body(parts, start, end),
        (None, None) => stream(&entry.path, start, end)?,
    };
    Ok(response)
}

/// Bytes `start..end` of a file held as pieces, without copying them.
fn parts_body(parts: &[Bytes], start: u64, end: u64) -> Body {
    let slices = slices(parts, start, end).into_iter().map(Ok::<_, std::io::Error>);
    Body::from_stream(futures_util::stream::iter(slices))
}

/// The pieces of `parts` that cover bytes `start..end`, cut to that range.
pub(super) fn slices(parts: &[Bytes], start: u64, end: u64) -> Vec<Bytes> {
    let mut out = Vec::new();
    if start >= end {
        return out;
    }
    let mut at = 0u64;
    for part in parts {
        let (from, to) = (at, at + part.len() as u64);
        at = to;
        if to <= start || from >= end || from == to {
            continue;
        }
        let a = start.saturating_sub(from) as usize;
        let b = (end.min(to) - from) as usize;
        out.push(part.slice(a..b));
    }
    out
}

/// Streams bytes `start..end` of a file too big for the cache.
fn stream(path: &Path, start: u64, end: u64) -> ServiceResult<Body> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ServiceError::NotFound("the file was removed".into()),
            _ => ServiceError::from(e),
        })?;
    file.seek(SeekFrom::Start(start))?;
    let reader = tokio::io::AsyncReadExt::take(tokio::fs::File::from_std(file), end - start);
    Ok(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        reader, CHUNK,
    )))
}

/// If-None-Match (preferred) or If-Modified-Since says the client's copy is current.
fn not_modified(entry: &Entry, headers: &HeaderMap) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        let tag = entry.etag.as_bytes();
        return inm.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t).as_bytes() == tag)
        });
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .is_some_and(|since| whole_seconds(entry.modified) <= since)
}

pub(super) fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

enum Ranged {
    Full,
    /// Bytes `start..end`.
    Part(u64, u64),
    Unsatisfiable,
}

/// The one byte range asked for. Several ranges, a malformed header or an If-Range that does
/// not match get the whole file, as RFC 9110 allows.
fn requested_range(entry: &Entry, headers: &HeaderMap) -> Ranged {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ranged::Full;
    };
    if let Some(cond) = headers.get(header::IF_RANGE) {
        let current = cond.as_bytes() == entry.etag.as_bytes()
            || cond
                .to_str()
                .ok()
                .and_then(|v| httpdate::parse_http_date(v).ok())
                .is_some_and(|d| d == whole_seconds(entry.modified));
        if !current {
            return Ranged::Full;
        }
    }
    let Some(set) = spec.trim().strip_prefix("bytes=") else {
        return Ranged::Full;
    };
    if set.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = set.trim().split_once('-') else {
        return Ranged::Full;
    };
    let len = entry.len;
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => Ranged::Unsatisfiable,
            Some(n) if len > 0 => Ranged::Part(len.saturating_sub(n), len),
            Some(_) => Ranged::Unsatisfiable,
            None => Ranged::Full,
        },
        (false, _) => {
            let Some(start) = parse(first) else {
                return Ranged::Full;
            };
            let end = if last.trim().is_empty() {
                Some(len)
            } else {
                match parse(last) {
                    Some(l) if l >= start => Some((l + 1).min(len)),
                    _ => return Ranged::Full,
                }
            };
            match end {
                _ if start >= len => Ranged::Unsatisfiable,
                Some(end) => Ranged::Part(start, end),
                None => Ranged::Full,
            }
        }
        (true, true) => Ranged::Full,
    }
}
