//! rpm's structural checks of a header blob (rpm 4.18 `hdrblobVerifyLengths`,
//! `hdrblobVerifyRegion`, `hdrblobVerifyInfo`), so that we refuse exactly the headers that
//! `rpm -K` refuses: the region tag and its trailer, and every index entry's tag, type, offset
//! and count within the data store, in order, aligned, of non-zero length and (main header
//! only: rpm "can't typecheck signature header tags") of the type rpm expects.
//!
//! Every value is an untrusted 32-bit field; arithmetic is done in `i64` so nothing overflows,
//! and nothing is allocated from a count.

use super::tag_types::KNOWN_TAG_TYPES;

/// Region tag of the signature header.
pub(crate) const HEADERSIGNATURES: u32 = 62;
/// Region tag of the main header.
pub(crate) const HEADERIMMUTABLE: u32 = 63;
/// The legacy region tag some old signature trailers carry.
const HEADERIMAGE: u32 = 61;
/// Tags below this are reserved (`hdrchkTag`).
const HEADER_I18NTABLE: i64 = 100;
const TYPE_STRING: u32 = 6;
const TYPE_BIN: u32 = 7;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;
const MAX_TYPE: u32 = 9;
/// rpm's `HEADER_ARRAY_MAX`: most items of a non-binary entry.
const HEADER_ARRAY_MAX: u32 = 0x000f_ffff;
/// Bytes of one index entry, also the region tag's count.
const ENTRY: i64 = 16;
/// rpm's `headerMaxbytes`.
const HEADER_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Which header a blob is, with rpm's limits for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Signature,
    Main,
}

impl Which {
    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Which::Signature => "signature header",
            Which::Main => "header",
        }
    }

    fn region_tag(self) -> u32 {
        match self {
            Which::Signature => HEADERSIGNATURES,
            Which::Main => HEADERIMMUTABLE,
        }
    }

    /// (most tags, most data bytes).
    fn limits(self) -> (u32, u32) {
        match self {
            Which::Signature => (32, 64 * 1024 * 1024),
            Which::Main => (0xffff, 0x0fff_ffff),
        }
    }
}

/// Checks the tag count and data size of a header's intro, as soon as its 16 bytes arrive.
pub(crate) fn check_lengths(which: Which, il: u32, dl: u32) -> Result<(), String> {
    let (il_max, dl_max) = which.limits();
    // rpm reads both as signed: "negative" values fail too, which `> max` covers.
    if il > il_max {
        return Err(format!(
            "{}: {il} index entries, more than rpm's limit of {il_max}",
            which.name()
        ));
    }
    if dl > dl_max {
        return Err(format!(
            "{}: data store of {dl} bytes, more than rpm's limit of {dl_max}",
            which.name()
        ));
    }
    if 8 + u64::from(il) * 16 + u64::from(dl) >= HEADER_MAX_BYTES {
        return Err(format!(
            "{}: larger than rpm's limit of {HEADER_MAX_BYTES} bytes",
            which.name()
        ));
    }
    Ok(())
}

/// One index entry as rpm reads it (tag, offset signed; type, count unsigned).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexEntry {
    pub tag: i32,
    pub kind: u32,
    pub offset: i32,
    pub count: u32,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Entry `i` of an index (the caller keeps `i` below the entry count).
pub(crate) fn entry(index: &[u8], i: usize) -> IndexEntry {
    let raw = &index[i * 16..i * 16 + 16];
    IndexEntry {
        tag: be32(&raw[0..4]) as i32,
        kind: be32(&raw[4..8]),
        offset: be32(&raw[8..12]) as i32,
        count: be32(&raw[12..16]),
    }
}

/// The first entry with this tag, as rpm's `hdrblobGet` finds it (from entry 0: a header
/// without a region has no region tag to skip).
pub(crate) fn find(index: &[u8], tag: u32) -> Option<IndexEntry> {
    (0..index.len() / 16)
        .map(|i| entry(index, i))
        .find(|e| e.tag as u32 == tag)
}

/// Length of an entry's data as rpm's `dataLength` computes it on disk, or None where rpm
/// gets -1 (missing terminators, data past the store).
pub(crate) fn data_length(store: &[u8], e: &IndexEntry) -> Option<i64> {
    let offset = usize::try_from(e.offset).ok().filter(|o| *o <= store.len())?;
    let count = i64::from(e.count);
    match e.kind {
        TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => {
            if e.kind == TYPE_STRING && e.count != 1 {
                return None;
            }
            // Each string ends at a NUL inside the store, which bounds the loop by its size.
            let mut pos = offset;
            for _ in 0..e.count {
                let nul = store[pos..].iter().position(|&b| b == 0)?;
                pos += nul + 1;
            }
            Some((pos - offset) as i64)
        }
        kind => {
            let width = [0i64, 1, 1, 2, 4, 8, 0, 1, 0, 0][kind.min(MAX_TYPE) as usize];
            let length = width * count;
            (offset as i64 + length <= store.len() as i64).then_some(length)
        }
    }
}

/// The type rpm expects for a tag, when it knows the tag.
fn known_type(tag: i32) -> Option<u32> {
    let tag = u32::try_from(tag).ok()?;
    KNOWN_TAG_TYPES
        .binary_search_by_key(&tag, |(t, _)| *t)
        .ok()
        .map(|i| KNOWN_TAG_TYPES[i].1)
}

/// rpm's `hdrchkTagType`: known tags must have their type. Strings and string arrays pass
/// for each other: rpm 4.18 accepts a scriptlet interpreter (an array tag) stored as a plain
/// string, as rpm-rs's v6 packages do.
fn type_fits(tag: i32, kind: u32) -> bool {
    let stringy = |t: u32| matches!(t, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING);
    match known_type(tag) {
        None => true,
        Some(t) => t == kind || (stringy(t) && stringy(kind)),
    }
}

/// Checks a whole header blob (`index` = il × 16 bytes, `store` = dl bytes) as rpm does when
/// it reads a package: the region (required to span the whole main header) and every entry.
/// Only the main header's types are checked: rpm's `typechk` is off for the signature header,
/// whose digest tags are checked by type when they are read ([`super::rpmvs`]).
pub(crate) fn check_blob(which: Which, index: &[u8], store: &[u8]) -> Result<(), String> {
    let il = (index.len() / 16) as i64;
    let dl = store.len() as i64;
    let name = which.name();
    let region = check_region(which, index, store).map_err(|e| format!("{name}: {e}"))?;
    let (first, typechk) = match region {
        Some(_) => (1, which == Which::Main),
        None => (0, false),
    };
    let rdl = region.unwrap_or(0);
    let mut end: i64 = 0;
    for i in first..il as usize {
        let e = entry(index, i);
        let bad = |why: &str| {
            format!(
                "{name}: index entry {i} (tag {}, type {}, offset {}, count {}): {why}",
                e.tag, e.kind, e.offset, e.count
            )
        };
        let offset = i64::from(e.offset);
        if end > offset {
            return Err(bad("overlaps the data of the entry before it"));
        }
        if i64::from(e.tag) < HEADER_I18NTABLE {
            return Err(bad("reserved tag number"));
        }
        if e.kind > MAX_TYPE {
            return Err(bad("unknown data type"));
        }
        if e.count < 1 || i64::from(e.count) > dl {
            return Err(bad("count out of range"));
        }
        let align = [1i64, 1, 1, 2, 4, 8, 1, 1, 1, 1][e.kind as usize];
        if offset & (align - 1) != 0 {
            return Err(bad("misaligned data"));
        }
        if offset < 0 || offset > dl {
            return Err(bad("offset outside the data store"));
        }
        if e.kind != TYPE_BIN && e.count > HEADER_ARRAY_MAX {
            return Err(bad("more items than rpm allows in an array"));
        }
        if typechk && !type_fits(e.tag, e.kind) {
            return Err(bad("wrong data type for this tag"));
        }
        // rpm refuses empty data too (`len <= 0`): a count of a zero-sized (NULL) type.
        let len = data_length(store, &e).filter(|len| *len > 0 && *len <= dl - offset);
        let Some(len) = len else {
            return Err(bad("data does not fit in the data store"));
        };
        end = offset + len;
        if region.is_some() && end > rdl - ENTRY && offset < rdl {
            return Err(bad("data overlaps the region trailer"));
        }
    }
    Ok(())
}

/// Checks the region tag and trailer; returns the region's data length, or None for a header
/// without a region (which rpm still reads, as a legacy header).
fn check_region(which: Which, index: &[u8], store: &[u8]) -> Result<Option<i64>, String> {
    let il = (index.len() / 16) as i64;
    let dl = store.len() as i64;
    if il < 1 {
        return Err("no index entries".into());
    }
    let region_tag = which.region_tag();
    let e = entry(index, 0);
    if e.tag as u32 != region_tag {
        return Ok(None);
    }
    if !(e.kind == TYPE_BIN && i64::from(e.count) == ENTRY) {
        return Err(format!(
            "bad region tag (type {}, offset {}, count {})",
            e.kind, e.offset, e.count
        ));
    }
    let offset = i64::from(e.offset);
    if offset < 0 || offset + ENTRY > dl {
        return Err(format!("region trailer at offset {offset} is outside the data store"));
    }
    let trailer = {
        let start = offset as usize;
        let raw = &store[start..start + 16];
        let mut t = entry(raw, 0);
        if which == Which::Signature && t.tag as u32 == HEADERIMAGE {
            t.tag = HEADERSIGNATURES as i32;
        }
        t
    };
    if !(trailer.tag as u32 == region_tag && trailer.kind == TYPE_BIN && i64::from(trailer.count) == ENTRY) {
        return Err(format!(
            "bad region trailer (tag {}, type {}, count {})",
            trailer.tag, trailer.kind, trailer.count
        ));
    }
    let rdl = offset + ENTRY;
    let size = -i64::from(trailer.offset);
    let ril = size / ENTRY;
    if size < 0 || size % ENTRY != 0 || ril > il || rdl > dl {
        return Err(format!(
            "region size is wrong: {ril} of {il} entries, {rdl} of {dl} bytes"
        ));
    }
    if which == Which::Main && !(ril == il && rdl == dl) {
        return Err(format!(
            "the region does not cover the whole header: {ril} of {il} entries, {rdl} of {dl} bytes"
        ));
    }
    Ok(Some(rdl))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(tag: u32, kind: u32, offset: i32, count: u32) -> Vec<u8> {
        [tag, kind, offset as u32, count]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()
    }

    /// A main header with a region and one NAME string.
    fn header(name_type: u32) -> (Vec<u8>, Vec<u8>) {
        let mut store = b"abc\0".to_vec();
        store.extend(raw(HEADERIMMUTABLE, TYPE_BIN, -32, 16));
        let mut index = raw(HEADERIMMUTABLE, TYPE_BIN, 4, 16);
        index.extend(raw(1000, name_type, 0, 1));
        (index, store)
    }

    #[test]
    fn accepts_a_good_header_and_checks_types() {
        let (index, store) = header(TYPE_STRING);
        assert_eq!(check_blob(Which::Main, &index, &store), Ok(()));
        let (index, store) = header(TYPE_BIN);
        let e = check_blob(Which::Main, &index, &store).unwrap_err();
        assert!(e.contains("wrong data type"), "{e}");
    }

    #[test]
    fn refuses_lying_lengths_without_allocating() {
        assert!(check_lengths(Which::Signature, 33, 0).is_err());
        assert!(check_lengths(Which::Main, 0xffff, 0x0fff_ffff).is_err());
        assert!(check_lengths(Which::Main, u32::MAX, u32::MAX).is_err());
        assert!(check_lengths(Which::Main, 40, 4000).is_ok());
    }

    #[test]
    fn refuses_bad_regions() {
        let (index, mut store) = header(TYPE_STRING);
        store[4..8].copy_from_slice(&1u32.to_be_bytes());
        assert!(check_blob(Which::Main, &index, &store).unwrap_err().contains("trailer"));
        let (mut index, store) = header(TYPE_STRING);
        index[24..28].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(check_blob(Which::Main, &index, &store).is_err());
    }
}
