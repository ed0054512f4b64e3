//! Dependencies from the header, filtered and split exactly as createrepo_c's parsehdr.c does.
//!
//! Everything here works on raw header bytes so that comparisons (self-provides, duplicates)
//! see what createrepo_c sees; the text conversion happens last.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::raw::RawHeader;
use super::tags::*;
use super::text::xml_text;
use crate::domain::evr::rpmvercmp_bytes;
use crate::domain::package::{is_primary_path_bytes, Dependency};

/// The dependency lists of a package, in createrepo_c's order.
#[derive(Debug, Default)]
pub(crate) struct DepLists {
    pub provides: Vec<Dependency>,
    pub requires: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    pub suggests: Vec<Dependency>,
    pub enhances: Vec<Dependency>,
    pub recommends: Vec<Dependency>,
    pub supplements: Vec<Dependency>,
    /// Raw strings of every kept dependency, for the control-character check.
    pub raw_strings: Vec<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Provides,
    Conflicts,
    Obsoletes,
    Requires,
    Suggests,
    Enhances,
    Recommends,
    Supplements,
    /// Pre-4.12 weak dependencies (`RPMTAG_OLDSUGGESTS*`); Debian's createrepo_c 0.17 is built
    /// with ENABLE_LEGACY_WEAKDEPS and maps them by the STRONG flag.
    OldSuggests,
    OldEnhances,
}

/// Processing order matters: provides first (requires check against them), then as listed.
const ITEMS: &[(Kind, u32, u32, u32)] = &[
    (Kind::Provides, PROVIDENAME, PROVIDEFLAGS, PROVIDEVERSION),
    (Kind::Conflicts, CONFLICTNAME, CONFLICTFLAGS, CONFLICTVERSION),
    (Kind::Obsoletes, OBSOLETENAME, OBSOLETEFLAGS, OBSOLETEVERSION),
    (Kind::Requires, REQUIRENAME, REQUIREFLAGS, REQUIREVERSION),
    (Kind::Suggests, SUGGESTNAME, SUGGESTFLAGS, SUGGESTVERSION),
    (Kind::Enhances, ENHANCENAME, ENHANCEFLAGS, ENHANCEVERSION),
    (Kind::Recommends, RECOMMENDNAME, RECOMMENDFLAGS, RECOMMENDVERSION),
    (Kind::Supplements, SUPPLEMENTNAME, SUPPLEMENTFLAGS, SUPPLEMENTVERSION),
    (Kind::OldSuggests, OLDSUGGESTSNAME, OLDSUGGESTSFLAGS, OLDSUGGESTSVERSION),
    (Kind::OldEnhances, OLDENHANCESNAME, OLDENHANCESFLAGS, OLDENHANCESVERSION),
];

/// The comparison operator of a dependency (`cr_flag_to_str`): only the five exact sense
/// combinations have a name; anything else is written unversioned.
pub(crate) fn flag_to_str(flags: u64) -> Option<&'static str> {
    match flags & 0xf {
        2 => Some("LT"),
        4 => Some("GT"),
        8 => Some("EQ"),
        10 => Some("LE"),
        12 => Some("GE"),
        _ => None,
    }
}

/// A dependency's `[epoch:]version[-release]` split as `cr_str_to_evr` splits it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RawEvr<'a> {
    pub epoch: Option<&'a [u8]>,
    pub version: Option<&'a [u8]>,
    pub release: Option<&'a [u8]>,
}

/// Returns `None` for a non-numeric epoch (createrepo_c then skips the dependency). An empty
/// string has no parts at all; a version without epoch gets epoch "0".
pub(crate) fn split_evr(s: &[u8]) -> Option<RawEvr<'_>> {
    if s.is_empty() {
        return Some(RawEvr::default());
    }
    let mut evr = RawEvr::default();
    let rest = match s.iter().position(|&b| b == b':') {
        Some(colon) => {
            // The epoch must be what strtol() would consume, up to the colon exactly.
            if strtol_end(s) != colon {
                return None;
            }
            if colon > 0 {
                evr.epoch = Some(&s[..colon]);
            }
            &s[colon + 1..]
        }
        None => s,
    };
    if evr.epoch.is_none() {
        evr.epoch = Some(b"0");
    }
    match rest.iter().position(|&b| b == b'-') {
        Some(dash) => {
            evr.version = Some(&rest[..dash]);
            let release = &rest[dash + 1..];
            if !release.is_empty() {
                evr.release = Some(release);
            }
        }
        None => evr.version = Some(rest),
    }
    Some(evr)
}

/// Where C's `strtol(s, &end, 10)` leaves `end`: after optional whitespace, sign and at least
/// one digit; at the start when there are no digits.
fn strtol_end(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    if i < s.len() && matches!(s[i], b'+' | b'-') {
        i += 1;
    }
    let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        0
    } else {
        i + digits
    }
}

/// createrepo_c keeps only the highest `libc.so.6(GLIBC_x.y)` requirement
/// (`cr_compare_dependency`): true when `new` beats `current`.
fn libc_is_higher(current: &[u8], new: &[u8]) -> bool {
    fn inner(dep: &[u8]) -> Option<(usize, Option<usize>)> {
        let open = dep.iter().position(|&b| b == b'(')?;
        let close = dep[open..].iter().position(|&b| b == b')').map(|p| p + open);
        Some((open, close))
    }
    let (a, b) = match (inner(current), inner(new)) {
        (None, None) => return false,
        (None, Some(_)) => return true,
        (Some(_), None) => return false,
        (Some(a), Some(b)) => (a, b),
    };
    let ((open1, close1), (open2, close2)) = match (a, b) {
        ((_, None), (_, None)) => return false,
        ((_, None), _) => return true,
        (_, (_, None)) => return false,
        ((o1, Some(c1)), (o2, Some(c2))) => ((o1 + 1, c1), (o2 + 1, c2)),
    };
    match (open1 == close1, open2 == close2) {
        (true, true) | (false, true) => return false,
        (true, false) => return true,
        (false, false) => {}
    }
    // First digit after the parenthesis, possibly beyond the closing one.
    let first_digit = |dep: &[u8], from: usize| {
        dep[from..]
            .iter()
            .position(|b| b.is_ascii_digit())
            .map_or(dep.len(), |p| p + from)
    };
    let (v1, v2) = (first_digit(current, open1), first_digit(new, open2));
    match (v1 > close1, v2 > close2) {
        (true, _) => v2 <= close2,
        (false, true) => false,
        (false, false) => rpmvercmp_bytes(&current[v1..close1], &new[v2..close2]) == Ordering::Less,
    }
}

fn to_dependency(name: &[u8], flags: Option<&str>, evr: &RawEvr<'_>, pre: bool) -> Dependency {
    Dependency {
        name: xml_text(name),
        flags: flags.map(str::to_owned),
        epoch: evr.epoch.map(xml_text),
        version: evr.version.map(xml_text),
        release: evr.release.map(xml_text),
        pre,
    }
}

/// What createrepo_c remembers of a kept require to recognise an exact duplicate.
struct SeenRequire {
    flags: Option<&'static str>,
    version: Vec<u8>,
    pre: bool,
}

/// Reads and filters all dependency lists. `files` holds the package's full file paths;
/// `trans_pre` adds %pretrans/%posttrans requires to the `pre` ones (createrepo_c >= 1.1.1).
pub(crate) fn read_deps(hdr: &RawHeader, files: &HashSet<Vec<u8>>, trans_pre: bool) -> DepLists {
    let mut pre_mask = SENSE_PREREQ | SENSE_SCRIPT_PRE | SENSE_SCRIPT_POST;
    if trans_pre {
        pre_mask |= SENSE_PRETRANS | SENSE_POSTTRANS;
    }
    let mut out = DepLists::default();
    // name + flags + version of every provide, to drop requires the package satisfies itself.
    let mut provided: HashSet<Vec<u8>> = HashSet::new();
    // Last kept require per name, to drop exact duplicates.
    let mut seen_requires: HashMap<Vec<u8>, SeenRequire> = HashMap::new();

    for &(kind, name_tag, flags_tag, version_tag) in ITEMS {
        let (Some(names), Some(flags), Some(versions)) =
            (hdr.strings(name_tag), hdr.numbers(flags_tag), hdr.strings(version_tag))
        else {
            continue;
        };
        let mut libc_highest: Option<(Vec<u8>, Dependency)> = None;
        for ((&name, &num_flags), &full_version) in names.iter().zip(&flags).zip(&versions) {
            let flag_str = flag_to_str(num_flags);
            let mut nfv = name.to_vec();
            nfv.extend_from_slice(flag_str.unwrap_or("").as_bytes());
            nfv.extend_from_slice(full_version);
            let mut pre = false;
            if kind == Kind::Requires {
                if name.starts_with(b"rpmlib(") {
                    continue;
                }
                if name.first() == Some(&b'/') && files.contains(name) && is_primary_path_bytes(name) {
                    continue;
                }
                if provided.contains(&nfv) {
                    continue;
                }
                pre = num_flags & pre_mask != 0;
                if let Some(seen) = seen_requires.get(name) {
                    if seen.flags == flag_str && seen.version == full_version && seen.pre == pre {
                        continue;
                    }
                }
            }
            let Some(evr) = split_evr(full_version) else {
                // createrepo_c warns "Bad epoch in version string" and skips the dependency.
                continue;
            };
            for part in [Some(name), evr.epoch, evr.version, evr.release].into_iter().flatten() {
                out.raw_strings.push(part.to_vec());
            }
            let dep = to_dependency(name, flag_str, &evr, false);
            match kind {
                Kind::Provides => {
                    provided.insert(nfv);
                    out.provides.push(dep);
                }
                Kind::Conflicts => out.conflicts.push(dep),
                Kind::Obsoletes => out.obsoletes.push(dep),
                Kind::Requires if num_flags & SENSE_MISSINGOK != 0 => out.recommends.push(dep),
                Kind::Requires => {
                    let dep = Dependency { pre, ..dep };
                    if name.starts_with(b"libc.so.6") {
                        match &libc_highest {
                            Some((current, _)) if !libc_is_higher(current, name) => {}
                            _ => libc_highest = Some((name.to_vec(), dep)),
                        }
                        continue;
                    }
                    out.requires.push(dep);
                    let seen = SeenRequire {
                        flags: flag_str,
                        version: full_version.to_vec(),
                        pre,
                    };
                    seen_requires.insert(name.to_vec(), seen);
                }
                Kind::Suggests => out.suggests.push(dep),
                Kind::Enhances => out.enhances.push(dep),
                Kind::Recommends => out.recommends.push(dep),
                Kind::Supplements => out.supplements.push(dep),
                Kind::OldSuggests if num_flags & SENSE_STRONG != 0 => out.recommends.push(dep),
                Kind::OldSuggests => out.suggests.push(dep),
                Kind::OldEnhances if num_flags & SENSE_STRONG != 0 => out.supplements.push(dep),
                Kind::OldEnhances => out.enhances.push(dep),
            }
        }
        // createrepo_c adds the surviving libc requirement after all others.
        if let Some((_, dep)) = libc_highest {
            out.requires.push(dep);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evr(e: Option<&'static str>, v: Option<&'static str>, r: Option<&'static str>) -> RawEvr<'static> {
        RawEvr {
            epoch: e.map(str::as_bytes),
            version: v.map(str::as_bytes),
            release: r.map(str::as_bytes),
        }
    }

    #[test]
    fn evr_split_like_createrepo_c() {
        let split = |s: &'static str| split_evr(s.as_bytes());
        assert_eq!(split(""), Some(evr(None, None, None)));
        assert_eq!(split("1.0"), Some(evr(Some("0"), Some("1.0"), None)));
        assert_eq!(split("1.0-2"), Some(evr(Some("0"), Some("1.0"), Some("2"))));
        assert_eq!(split("3:1.0-2.el9"), Some(evr(Some("3"), Some("1.0"), Some("2.el9"))));
        assert_eq!(split(":1.0"), Some(evr(Some("0"), Some("1.0"), None)));
        assert_eq!(split("1.0-"), Some(evr(Some("0"), Some("1.0"), None)));
        assert_eq!(split("1-2-3"), Some(evr(Some("0"), Some("1"), Some("2-3"))));
        assert_eq!(split("x:1.0"), None);
        assert_eq!(split("1x:1.0"), None);
    }

    #[test]
    fn flags() {
        assert_eq!(flag_to_str(0), None);
        assert_eq!(flag_to_str(8 | SENSE_SCRIPT_PRE), Some("EQ"));
        assert_eq!(flag_to_str(12), Some("GE"));
        assert_eq!(flag_to_str(6), None);
    }

    #[test]
    fn libc_highest() {
        assert!(libc_is_higher(b"libc.so.6()(64bit)", b"libc.so.6(GLIBC_2.3)(64bit)"));
        assert!(libc_is_higher(
            b"libc.so.6(GLIBC_2.3)(64bit)",
            b"libc.so.6(GLIBC_2.14)(64bit)"
        ));
        assert!(!libc_is_higher(
            b"libc.so.6(GLIBC_2.14)(64bit)",
            b"libc.so.6(GLIBC_2.3)(64bit)"
        ));
        assert!(!libc_is_higher(b"libc.so.6", b"libc.so.6"));
        assert!(libc_is_higher(b"libc.so.6", b"libc.so.6(GLIBC_2.3)"));
    }
}
