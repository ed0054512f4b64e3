//! The RPM file layout up to the payload: lead, signature header, main header.
//!
//! Written by hand rather than through the `rpm` crate because createrepo_c's ISO-8859 handling
//! needs the raw bytes of every string (the crate replaces invalid UTF-8 lossily), and because
//! every length and offset here comes from an untrusted upload: each one is checked against the
//! file size and the header's data store before it is used, so no input can panic or make us
//! allocate more than the file holds.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::HeaderError;

const LEAD_SIZE: u64 = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// rpm refuses headers with more tags than this (`hdrchkTags`).
const MAX_TAGS: u32 = 0xffff;
/// rpm's upper bound for a header's data store (`HEADER_DATA_MAX`).
const MAX_DATA: u32 = 256 * 1024 * 1024;

const TYPE_NULL: u32 = 0;
const TYPE_CHAR: u32 = 1;
const TYPE_INT8: u32 = 2;
const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_INT64: u32 = 5;
const TYPE_STRING: u32 = 6;
const TYPE_BIN: u32 = 7;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// One index entry, already checked to lie inside the store.
#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: u32,
    offset: usize,
    count: usize,
}

/// A parsed header: index entries by tag plus the data store they point into.
#[derive(Debug)]
pub(crate) struct RawHeader {
    entries: HashMap<u32, Entry>,
    store: Vec<u8>,
}

/// Everything read from the file before the payload.
#[derive(Debug)]
pub(crate) struct RawPackage {
    /// The lead's package type: 0 binary, 1 source.
    pub lead_type: u16,
    pub signature: RawHeader,
    pub header: RawHeader,
    /// Offset of the main header (createrepo_c's `rpm:header-range start`).
    pub header_start: u64,
    /// Offset just past the main header, i.e. where the payload starts.
    pub header_end: u64,
    /// Size of the whole file.
    pub file_size: u64,
}

fn invalid(msg: impl Into<String>) -> HeaderError {
    HeaderError::Invalid(msg.into())
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads exactly `len` bytes at `offset`, failing as `Invalid` when the file is shorter.
fn read_at(file: &mut File, file_size: u64, offset: u64, len: u64) -> Result<Vec<u8>, HeaderError> {
    let end = offset
        .checked_add(len)
        .ok_or_else(|| invalid("header size overflows"))?;
    if end > file_size {
        return Err(invalid(format!(
            "truncated: needs {end} bytes, file has {file_size}"
        )));
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len as usize];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// Reads the lead and both headers of the file, never touching the payload.
pub(crate) fn read_raw_package(file: &mut File) -> Result<RawPackage, HeaderError> {
    let file_size = file.metadata()?.len();
    let lead = read_at(file, file_size, 0, LEAD_SIZE)?;
    if lead[..4] != LEAD_MAGIC {
        return Err(invalid("no RPM lead magic"));
    }
    let lead_type = u16::from_be_bytes([lead[6], lead[7]]);

    let (signature, sig_len) = read_header(file, file_size, LEAD_SIZE, "signature")?;
    // The signature header is padded to a multiple of 8 bytes; the main header follows.
    let header_start = LEAD_SIZE + sig_len + (8 - sig_len % 8) % 8;
    let (header, hdr_len) = read_header(file, file_size, header_start, "main")?;
    Ok(RawPackage {
        lead_type,
        signature,
        header,
        header_start,
        header_end: header_start + hdr_len,
        file_size,
    })
}

/// Parses one header structure at `offset`; returns it with its length in the file.
fn read_header(
    file: &mut File,
    file_size: u64,
    offset: u64,
    what: &str,
) -> Result<(RawHeader, u64), HeaderError> {
    let intro = read_at(file, file_size, offset, 16)?;
    if intro[..4] != HEADER_MAGIC {
        return Err(invalid(format!("bad {what} header magic")));
    }
    let il = be32(&intro[8..12]);
    let dl = be32(&intro[12..16]);
    if il > MAX_TAGS || dl > MAX_DATA {
        return Err(invalid(format!(
            "{what} header too large ({il} tags, {dl} bytes)"
        )));
    }
    let index_len = u64::from(il) * 16;
    let body = read_at(file, file_size, offset + 16, index_len + u64::from(dl))?;
    let (index, store) = body.split_at(index_len as usize);
    let header = parse_header(index, store.to_vec(), what)?;
    Ok((header, 16 + index_len + u64::from(dl)))
}

fn parse_header(index: &[u8], store: Vec<u8>, what: &str) -> Result<RawHeader, HeaderError> {
    let mut entries = HashMap::with_capacity(index.len() / 16);
    for raw in index.chunks_exact(16) {
        let tag = be32(&raw[0..4]);
        let kind = be32(&raw[4..8]);
        let offset = be32(&raw[8..12]) as usize;
        let count = be32(&raw[12..16]) as usize;
        let entry = Entry {
            kind,
            offset,
            count,
        };
        check_entry(&store, tag, entry).map_err(|e| invalid(format!("{what} header: {e}")))?;
        // Like rpm's sorted lookup, a duplicated tag resolves to one of its entries: the first.
        entries.entry(tag).or_insert(entry);
    }
    Ok(RawHeader { entries, store })
}

/// Checks that the entry's data lies inside the store, so that accessors can slice freely.
fn check_entry(store: &[u8], tag: u32, e: Entry) -> Result<(), String> {
    if e.offset > store.len() {
        return Err(format!(
            "tag {tag}: offset {} past the data store",
            e.offset
        ));
    }
    let width = match e.kind {
        TYPE_NULL => return Ok(()),
        TYPE_CHAR | TYPE_INT8 | TYPE_BIN => 1,
        TYPE_INT16 => 2,
        TYPE_INT32 => 4,
        TYPE_INT64 => 8,
        TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => {
            if e.kind == TYPE_STRING && e.count != 1 {
                return Err(format!("tag {tag}: string with count {}", e.count));
            }
            // Each string needs at least its NUL, which bounds this loop by the store size.
            let mut pos = e.offset;
            for _ in 0..e.count {
                let nul = store[pos..]
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| format!("tag {tag}: unterminated string"))?;
                pos += nul + 1;
            }
            return Ok(());
        }
        other => return Err(format!("tag {tag}: unknown data type {other}")),
    };
    let end = e
        .count
        .checked_mul(width)
        .and_then(|n| n.checked_add(e.offset))
        .ok_or_else(|| format!("tag {tag}: size overflows"))?;
    if end > store.len() {
        return Err(format!("tag {tag}: data past the data store"));
    }
    Ok(())
}

impl RawHeader {
    /// Whether the tag is present at all.
    pub fn has(&self, tag: u32) -> bool {
        self.entries.contains_key(&tag)
    }

    /// The strings of a string-typed tag, as rpm's `headerGet` + `rpmtdNext` would iterate
    /// them (one for `STRING`, all of them for arrays and i18n tables); `None` for other types.
    pub fn strings(&self, tag: u32) -> Option<Vec<&[u8]>> {
        let e = self.entries.get(&tag)?;
        if !matches!(e.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return None;
        }
        let mut out = Vec::with_capacity(e.count.min(4096));
        let mut rest = &self.store[e.offset..];
        for _ in 0..e.count {
            // check_entry guaranteed the terminators.
            let nul = rest.iter().position(|&b| b == 0)?;
            out.push(&rest[..nul]);
            rest = &rest[nul + 1..];
        }
        Some(out)
    }

    /// rpm's `headerGetString`: the string of a single-valued tag. An i18n string yields its
    /// first (untranslated, "C") entry: createrepo_c's choice depends on the environment of the
    /// process (LANGUAGE, LC_ALL...), ours must not, and "C" is what it picks in a plain one.
    pub fn string(&self, tag: u32) -> Option<&[u8]> {
        let e = self.entries.get(&tag)?;
        let all = self.strings(tag)?;
        match e.kind {
            TYPE_I18NSTRING => all.first().copied(),
            _ if all.len() == 1 => all.first().copied(),
            _ => None,
        }
    }

    /// Numeric values of an integer-typed tag, unsigned as `rpmtdGetNumber` reads them.
    pub fn numbers(&self, tag: u32) -> Option<Vec<u64>> {
        let e = self.entries.get(&tag)?;
        let data = &self.store[e.offset..];
        let values = match e.kind {
            TYPE_CHAR | TYPE_INT8 => data[..e.count].iter().map(|&b| u64::from(b)).collect(),
            TYPE_INT16 => data[..e.count * 2]
                .chunks_exact(2)
                .map(|c| u64::from(u16::from_be_bytes([c[0], c[1]])))
                .collect(),
            TYPE_INT32 => data[..e.count * 4]
                .chunks_exact(4)
                .map(|c| u64::from(be32(c)))
                .collect(),
            TYPE_INT64 => data[..e.count * 8]
                .chunks_exact(8)
                .map(|c| u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            _ => return None,
        };
        Some(values)
    }

    /// rpm's `headerGetNumber`: the value of a single-valued integer tag.
    pub fn number(&self, tag: u32) -> Option<u64> {
        match self.numbers(tag)?.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// The single value of a tag only when it has exactly the `INT32` type (rpm's `get64`
    /// fallback from e.g. `SIZE` to `LONGSIZE` converts only that type).
    pub fn int32_values(&self, tag: u32) -> Option<Vec<u64>> {
        match self.entries.get(&tag)?.kind {
            TYPE_INT32 => self.numbers(tag),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: u32, kind: u32, offset: u32, count: u32) -> Vec<u8> {
        [tag, kind, offset, count]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()
    }

    #[test]
    fn rejects_entries_outside_the_store() {
        let store = b"abc\0".to_vec();
        assert!(parse_header(&entry(1000, TYPE_STRING, 0, 1), store.clone(), "t").is_ok());
        assert!(parse_header(&entry(1000, TYPE_STRING, 5, 1), store.clone(), "t").is_err());
        assert!(parse_header(&entry(1000, TYPE_STRING_ARRAY, 0, 2), store.clone(), "t").is_err());
        assert!(parse_header(&entry(1000, TYPE_INT32, 1, 1), store.clone(), "t").is_err());
        assert!(parse_header(&entry(1000, TYPE_INT64, 0, u32::MAX), store.clone(), "t").is_err());
        assert!(parse_header(&entry(1000, 42, 0, 1), store, "t").is_err());
    }

    #[test]
    fn reads_values() {
        let mut index = entry(1000, TYPE_STRING_ARRAY, 0, 2);
        index.extend(entry(1001, TYPE_INT32, 4, 1));
        index.extend(entry(1002, TYPE_I18NSTRING, 0, 2));
        let store = b"a\0bc\0\0\0\x07".to_vec();
        let h = parse_header(&index, store, "t").unwrap();
        assert_eq!(h.strings(1000).unwrap(), vec![&b"a"[..], &b"bc"[..]]);
        assert_eq!(h.string(1000), None);
        assert_eq!(h.string(1002), Some(&b"a"[..]));
        assert_eq!(h.number(1001), Some(7));
        assert_eq!(h.numbers(1000), None);
    }
}
