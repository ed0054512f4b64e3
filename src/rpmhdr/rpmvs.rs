//! rpm 4.18's bookkeeping of the digests `rpm -K --nosignature` checks (lib/rpmvs.c), so that
//! the verdict is rpm's in the corner cases too: which digest tags count, when a malformed one
//! fails the package and when rpm treats it as absent, and when an absent one matters.
//!
//! rpm looks each digest tag up with `hdrblobGet` (the first entry with the tag, the region
//! tag included), turns it into one `rpmsinfo` per value (`rpmsinfoInit`: type, size and hex
//! checks) and at the end (`rpmvsVerify`) fails the package when a digest fails without an
//! alternative that verifies, or when a range (header, payload) is verified by nothing.
//! Signatures are disabled by `--nosignature` and never looked at.

use super::structure::{data_length, find, IndexEntry};

/// The range a digest covers (`RPMSIG_HEADER`, `RPMSIG_PAYLOAD`).
pub(crate) const HEADER: u8 = 1;
/// The payload range.
pub(crate) const PAYLOAD: u8 = 2;

const TYPE_BIN: u32 = 7;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The digests rpm 4.18 checks, one per disabler flag (which is what `getAlt` groups by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `RPMSIGTAG_SHA1` (269) over the main header.
    Sha1,
    /// `RPMSIGTAG_SHA256` (273) over the main header.
    Sha256,
    /// `RPMSIGTAG_MD5` (1004) over header and payload.
    Md5,
    /// `PAYLOADDIGEST` (5092) and `PAYLOADDIGESTALT` (5097), SHA256 over the payload.
    Payload,
}

impl Kind {
    /// The ranges this digest covers.
    pub fn range(self) -> u8 {
        match self {
            Kind::Sha1 | Kind::Sha256 => HEADER,
            Kind::Md5 => HEADER | PAYLOAD,
            Kind::Payload => PAYLOAD,
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sha1 => "header sha1",
            Kind::Sha256 => "header sha256",
            Kind::Md5 => "header+payload md5",
            Kind::Payload => "payload sha256",
        }
    }

    /// (type, size) rpm requires of the tag (`rpmvfytags`); size 0 = any.
    fn wants(self) -> (u32, i64) {
        match self {
            Kind::Sha1 => (TYPE_STRING, 41),
            Kind::Sha256 => (TYPE_STRING, 65),
            Kind::Md5 => (TYPE_BIN, 16),
            Kind::Payload => (TYPE_STRING_ARRAY, 0),
        }
    }
}

/// Where one digest stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Absent, or of a type rpm cannot fetch (`RPMRC_NOTFOUND`).
    NotFound,
    /// Malformed or mismatching (`RPMRC_FAIL`), with the reason.
    Failed(String),
    /// Well-formed; to compare with this lowercase hex value once its range is read.
    Pending(String),
    /// Matched.
    Ok,
}

/// One digest as rpm tracks it (`struct rpmsinfo_s`, the fields the verdict needs).
#[derive(Debug, Clone)]
pub(crate) struct Sinfo {
    /// Which digest.
    pub kind: Kind,
    /// rpm's id: `tag << 16 | index` for a well-formed one, 0 otherwise.
    pub id: u32,
    /// Where it stands.
    pub state: State,
}

/// rpm's `typeSizes`: `hdrblobGet` only fetches types of size 1 or -1 (strings).
fn fetchable(kind: u32) -> bool {
    matches!(
        kind,
        1 | 2 | TYPE_STRING | TYPE_BIN | TYPE_STRING_ARRAY | TYPE_I18NSTRING
    )
}

/// The `rpmsinfo`s rpm makes for `tag` of a header (`rpmvsAppend` + `rpmsinfoInit`).
pub(crate) fn lookup(kind: Kind, tag: u32, index: &[u8], store: &[u8]) -> Vec<Sinfo> {
    let not_found = || {
        vec![Sinfo {
            kind,
            id: 0,
            state: State::NotFound,
        }]
    };
    let Some(e) = find(index, tag) else { return not_found() };
    if !fetchable(e.kind) {
        return not_found();
    }
    // Binary data is one item; strings are one item each.
    let items = if e.kind == TYPE_BIN { 1 } else { e.count };
    let mut values = strings(store, &e);
    (0..items)
        .map(|ix| {
            let value = values.next();
            match init(kind, tag, &e, store, value) {
                Ok(hex) => Sinfo {
                    kind,
                    id: tag << 16 | ix,
                    state: State::Pending(hex),
                },
                Err(why) => Sinfo {
                    kind,
                    id: 0,
                    state: State::Failed(why),
                },
            }
        })
        .collect()
}

/// `rpmsinfoInit` for one value: the digest in lowercase hex, or why rpm fails it.
fn init(kind: Kind, tag: u32, e: &IndexEntry, store: &[u8], value: Option<&[u8]>) -> Result<String, String> {
    let (want_type, want_size) = kind.wants();
    let what = format!("{} digest (tag {tag})", kind.name());
    if e.kind != want_type {
        return Err(format!("{what} has type {}, rpm requires {want_type}", e.kind));
    }
    let data: &[u8] = if e.kind == TYPE_BIN {
        let at = e.offset as usize;
        store.get(at..at + e.count as usize).unwrap_or_default()
    } else {
        value.unwrap_or_default()
    };
    // "MD5 has data length of 16, everything else is (much) larger".
    if data.len() < 16 {
        return Err(format!("{what} is only {} bytes long", data.len()));
    }
    let size = data_length(store, e).unwrap_or(-1);
    if want_size != 0 && size != want_size {
        return Err(format!("{what} has size {size}, rpm requires {want_size}"));
    }
    if e.kind == TYPE_BIN {
        return Ok(hex::encode(data));
    }
    // rpm's validHex: even, at least SHA1 long, hex digits only.
    if !data.len().is_multiple_of(2) || data.len() < 40 || !data.iter().all(u8::is_ascii_hexdigit) {
        return Err(format!("{what} is not hex: {:?}", String::from_utf8_lossy(data)));
    }
    Ok(String::from_utf8_lossy(data).to_ascii_lowercase())
}

/// The NUL-terminated strings of an entry that the structure check accepted.
pub(crate) fn strings<'a>(store: &'a [u8], e: &IndexEntry) -> impl Iterator<Item = &'a [u8]> {
    let start = (e.offset as usize).min(store.len());
    store[start..].split(|&b| b == 0).take(e.count as usize)
}

/// Compares the pending digests of `kind` with the digest computed over their range.
pub(crate) fn settle(sinfos: &mut [Sinfo], kind: Kind, computed: &str) {
    let expected: Vec<String> = sinfos
        .iter()
        .filter_map(|s| match &s.state {
            State::Pending(hex) if s.kind == kind => Some(hex.clone()),
            _ => None,
        })
        .collect();
    for s in sinfos.iter_mut().filter(|s| s.kind == kind) {
        let State::Pending(hex) = &s.state else { continue };
        s.state = if hex == computed {
            State::Ok
        } else if kind == Kind::Payload {
            State::Failed(format!(
                "payload digest mismatch: header says sha256 {}, received {computed}",
                expected.join(" or ")
            ))
        } else {
            State::Failed(format!(
                "{} digest mismatch: signature header says {hex}, received {computed}",
                kind.name()
            ))
        };
    }
}

/// rpm's `rpmvsVerify` at verify level "digest": fails on a failed digest that has no
/// alternative which verified, and on a missing digest whose range nothing verified.
pub(crate) fn verdict(sinfos: &[Sinfo]) -> Result<Vec<&'static str>, String> {
    let mut sorted: Vec<Sinfo> = sinfos.to_vec();
    // rpm's sinfoCmp: by range, then by id, largest first (its algorithm comparisons
    // compare a value with itself and never decide).
    sorted.sort_by(|a, b| a.kind.range().cmp(&b.kind.range()).then(b.id.cmp(&a.id)));
    let verified = sorted
        .iter()
        .filter(|s| s.state == State::Ok)
        .fold(0, |acc, s| acc | s.kind.range());
    let range = sorted.iter().fold(0, |acc, s| acc | s.kind.range());
    let missing = range & !verified;
    let mut checked = Vec::new();
    for (i, s) in sorted.iter().enumerate() {
        let mut state = s.state.clone();
        if let State::Failed(_) = state {
            let alt = sorted
                .iter()
                .enumerate()
                .find(|(j, a)| *j != i && a.id != s.id && a.kind == s.kind);
            if matches!(alt, Some((_, a)) if a.state == State::Ok) {
                state = State::NotFound;
            }
        }
        match state {
            State::Ok => {
                if !checked.contains(&s.kind.name()) {
                    checked.push(s.kind.name());
                }
            }
            State::NotFound if s.kind.range() & missing == 0 => {}
            State::NotFound => {
                return Err(if missing & HEADER != 0 {
                    "signature header: no valid SHA256, SHA1 or MD5 digest of the header".to_string()
                } else {
                    "no valid digest of the payload: neither an MD5 in the signature header nor a payload digest in the header"
                        .to_string()
                })
            }
            State::Failed(why) => return Err(why),
            State::Pending(_) => return Err(format!("{}: digest never computed", s.kind.name())),
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: Kind, id: u32, state: State) -> Sinfo {
        Sinfo { kind, id, state }
    }

    #[test]
    fn a_failed_payload_digest_passes_when_its_alternative_verifies() {
        let both = [
            s(Kind::Sha256, 273 << 16, State::Ok),
            s(Kind::Sha1, 0, State::NotFound),
            s(Kind::Md5, 0, State::NotFound),
            s(Kind::Payload, 5092 << 16, State::Failed("mismatch".into())),
            s(Kind::Payload, 5097 << 16, State::Ok),
        ];
        assert!(verdict(&both).is_ok());
        let alone = [
            s(Kind::Sha256, 273 << 16, State::Ok),
            s(Kind::Md5, 0, State::NotFound),
            s(Kind::Payload, 5092 << 16, State::Failed("mismatch".into())),
            s(Kind::Payload, 0, State::NotFound),
        ];
        assert_eq!(verdict(&alone).unwrap_err(), "mismatch");
    }

    #[test]
    fn a_range_nothing_verifies_fails() {
        // The header is verified, the payload by nothing: no MD5, no payload digest.
        let v = [
            s(Kind::Sha256, 273 << 16, State::Ok),
            s(Kind::Md5, 0, State::NotFound),
            s(Kind::Payload, 0, State::NotFound),
        ];
        assert!(verdict(&v).unwrap_err().contains("payload"));
        // MD5 alone covers both ranges.
        let v = [
            s(Kind::Sha256, 0, State::NotFound),
            s(Kind::Md5, 1004 << 16, State::Ok),
            s(Kind::Payload, 0, State::NotFound),
        ];
        assert_eq!(verdict(&v).unwrap(), vec!["header+payload md5"]);
    }
}
