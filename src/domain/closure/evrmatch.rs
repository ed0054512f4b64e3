//! Version matching between a dependency and a provide, as libsolv does it for rpm
//! (`pool_match_flags_evr`, `pool_match_nevr_rel` and `pool_evrcmp_str` in
//! `EVRCMP_MATCH_RELEASE` mode, libsolv 0.7.23 `src/pool.c` and `src/evr.c`), which is what
//! dnf and `dnf repoclosure` use.
//!
//! Versions are handled as libsolv stores them: one `[epoch:]version[-release]` string, built
//! from the metadata attributes by [`evr_string`] exactly like libsolv's `makeevr_atts`
//! (`ext/repo_rpmmd.c`): an epoch of `0` or empty is dropped, a missing release leaves no `-`.

use std::cmp::Ordering;
use std::fmt;

use crate::domain::evr::{rpmvercmp_bytes, Evr};
use crate::domain::package::Dependency;

/// A comparison sense: a set of `<`, `=`, `>` bits (libsolv's `REL_LT`, `REL_EQ`, `REL_GT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sense(u8);

impl Sense {
    /// `>` (libsolv's `REL_GT`).
    pub const GT: Sense = Sense(1);
    /// `=` (libsolv's `REL_EQ`).
    pub const EQ: Sense = Sense(2);
    /// `>=`.
    pub const GE: Sense = Sense(3);
    /// `<` (libsolv's `REL_LT`).
    pub const LT: Sense = Sense(4);
    /// `<=`.
    pub const LE: Sense = Sense(6);

    /// The sense of a metadata `flags` attribute (`GT`, `EQ`, `GE`, `LT`, `NE`, `LE`, as
    /// libsolv's `flagtab`); `None` when absent (an unversioned dependency). An unknown word
    /// gives the empty sense, which matches nothing, as in libsolv.
    pub fn from_flags(flags: Option<&str>) -> Option<Sense> {
        let f = flags.filter(|f| !f.is_empty())?;
        Some(Sense(match f {
            "GT" => 1,
            "EQ" => 2,
            "GE" => 3,
            "LT" => 4,
            "NE" => 5,
            "LE" => 6,
            _ => 0,
        }))
    }

    /// The sense written with `<`, `=`, `>` characters in a rich dependency (`<=`, `=>`...).
    pub(crate) fn from_bits(bits: u8) -> Sense {
        Sense(bits & 7)
    }

    /// The raw bits (`<` 4, `=` 2, `>` 1).
    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    fn has(self, other: Sense) -> bool {
        self.0 & other.0 != 0
    }

    /// The operator as rpm and libsolv print it (`>=`, `<`...).
    pub fn as_str(self) -> &'static str {
        ["!", ">", "=", ">=", "<", "<>", "<=", "<=>"][self.0 as usize & 7]
    }
}

impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The libsolv EVR string of a dependency's version attributes (`makeevr_atts`).
pub fn evr_string(epoch: Option<&str>, version: Option<&str>, release: Option<&str>) -> String {
    let mut e = epoch.filter(|e| !e.is_empty() && *e != "0");
    if let (Some(v), None) = (version, e) {
        // A version that itself starts with "digits:" gets an explicit zero epoch.
        let digits = v.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && v.as_bytes().get(digits) == Some(&b':') {
            e = Some("0");
        }
    }
    let mut s = String::new();
    if let Some(e) = e {
        s.push_str(e);
        s.push(':');
    }
    if let Some(v) = version {
        s.push_str(v);
    }
    if let Some(r) = release {
        s.push('-');
        s.push_str(r);
    }
    s
}

/// The libsolv EVR string of a dependency entry (empty when unversioned).
pub fn dep_evr(d: &Dependency) -> String {
    evr_string(d.epoch.as_deref(), d.version.as_deref(), d.release.as_deref())
}

/// The libsolv EVR string of a package (`epoch` dropped when 0).
pub fn package_evr(evr: &Evr) -> String {
    let epoch = evr.epoch.to_string();
    evr_string(Some(&epoch), Some(&evr.version), Some(&evr.release))
}

/// A dependency formatted as rpm and libsolv print it: `name`, or `name >= [e:]v[-r]`.
pub fn format_dep(d: &Dependency) -> String {
    match Sense::from_flags(d.flags.as_deref()) {
        None => d.name.clone(),
        Some(sense) => format!("{} {} {}", d.name, sense, dep_evr(d)),
    }
}

fn vercmp(a: &[u8], b: &[u8]) -> i32 {
    match rpmvercmp_bytes(a, b) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// `pool_evrcmp_str(.., EVRCMP_MATCH_RELEASE)`: -1/0/1 as usual, and -2 (or 2) when the
/// versions are equal and only `b` (or only `a`) has a release, which a dependency without
/// release must treat as a match.
pub fn evrcmp_match_release(a: &str, b: &str) -> i32 {
    if a == b {
        return 0;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
    let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let ea = (da > 0 && a.get(da) == Some(&b':')).then_some(da);
    let eb = (db > 0 && b.get(db) == Some(&b':')).then_some(db);
    match (ea, eb) {
        (Some(ea), Some(eb)) => {
            let r = vercmp(&a[..ea], &b[..eb]);
            if r != 0 {
                return r;
            }
            a = &a[ea + 1..];
            b = &b[eb + 1..];
        }
        (Some(ea), None) => {
            // A missing epoch is 0: only an all-zero epoch equals it.
            if a[..ea].iter().any(|&c| c != b'0') {
                return 1;
            }
            a = &a[ea + 1..];
        }
        (None, Some(eb)) => {
            if b[..eb].iter().any(|&c| c != b'0') {
                return -1;
            }
            b = &b[eb + 1..];
        }
        (None, None) => {}
    }
    // The release is what follows the last '-'.
    let ra = a.iter().rposition(|&c| c == b'-');
    let rb = b.iter().rposition(|&c| c == b'-');
    let r = vercmp(&a[..ra.unwrap_or(a.len())], &b[..rb.unwrap_or(b.len())]);
    if r != 0 {
        return r;
    }
    // rpm treats an empty release as missing ("foo = 4-" is "foo = 4").
    let ra = ra.filter(|&i| i + 1 < a.len());
    let rb = rb.filter(|&i| i + 1 < b.len());
    match (ra, rb) {
        (Some(ra), Some(rb)) => vercmp(&a[ra + 1..], &b[rb + 1..]),
        (None, Some(_)) => -2,
        (Some(_), None) => 2,
        (None, None) => 0,
    }
}

/// `pool_match_flags_evr`: does a provide `(pflags, pevr)` satisfy a dependency
/// `(flags, evr)`? Both sides are versioned here; an unversioned provide matches every
/// versioned dependency of its name and is handled by the caller.
pub fn match_flags_evr(pflags: Sense, pevr: &str, flags: Sense, evr: &str) -> bool {
    if pflags.0 == 0 || flags.0 == 0 {
        return false;
    }
    if flags.0 == 7 || pflags.0 == 7 {
        return true;
    }
    if pflags.0 & flags.0 & (Sense::LT.0 | Sense::GT.0) != 0 {
        return true; // both point in the same direction
    }
    if pevr == evr {
        return flags.has(Sense::EQ) && pflags.has(Sense::EQ);
    }
    match evrcmp_match_release(pevr, evr) {
        -2 => pflags.has(Sense::EQ),
        -1 => flags.has(Sense::LT) || pflags.has(Sense::GT),
        0 => flags.has(Sense::EQ) && pflags.has(Sense::EQ),
        1 => flags.has(Sense::GT) || pflags.has(Sense::LT),
        2 => flags.has(Sense::EQ),
        _ => false,
    }
}

/// The version test of `pool_match_nevr_rel`: does a package of EVR `pkg_evr` match
/// `name <flags> evr` (how obsoletes select packages by name)?
pub fn match_package_evr(pkg_evr: &str, flags: Sense, evr: &str) -> bool {
    if pkg_evr == evr {
        return flags.has(Sense::EQ);
    }
    if flags.0 == 0 {
        return false;
    }
    if flags.0 == 7 {
        return true;
    }
    match evrcmp_match_release(pkg_evr, evr) {
        -2 => true,
        -1 => flags.has(Sense::LT),
        0 => flags.has(Sense::EQ),
        1 => flags.has(Sense::GT),
        2 => flags.has(Sense::EQ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(flags: Option<&str>, e: Option<&str>, v: Option<&str>, r: Option<&str>) -> Dependency {
        Dependency {
            name: "foo".into(),
            flags: flags.map(Into::into),
            epoch: e.map(Into::into),
            version: v.map(Into::into),
            release: r.map(Into::into),
            pre: false,
        }
    }

    #[test]
    fn evr_strings_like_libsolv() {
        assert_eq!(evr_string(Some("0"), Some("1.0"), Some("1")), "1.0-1");
        assert_eq!(evr_string(Some(""), Some("1.0"), None), "1.0");
        assert_eq!(evr_string(Some("2"), Some("1.0"), None), "2:1.0");
        assert_eq!(evr_string(None, Some("3:1.0"), None), "0:3:1.0");
        assert_eq!(evr_string(Some("0"), Some("1.0"), Some("")), "1.0-");
        assert_eq!(format_dep(&dep(Some("GE"), Some("0"), Some("2.0"), None)), "foo >= 2.0");
        assert_eq!(
            format_dep(&dep(Some("LT"), Some("1"), Some("2.0"), Some("3"))),
            "foo < 1:2.0-3"
        );
        assert_eq!(format_dep(&dep(None, None, None, None)), "foo");
        assert_eq!(package_evr(&Evr::new(0, "1", "2")), "1-2");
        assert_eq!(package_evr(&Evr::new(4, "1", "2")), "4:1-2");
    }

    #[test]
    fn evrcmp_epochs_and_releases() {
        assert_eq!(evrcmp_match_release("1:0.5-1", "1.0"), 1);
        assert_eq!(evrcmp_match_release("1.0", "1:0.5-1"), -1);
        assert_eq!(evrcmp_match_release("0:1.0-1", "1.0-1"), 0);
        assert_eq!(evrcmp_match_release("1.0-1", "00:1.0-1"), 0);
        assert_eq!(evrcmp_match_release("2:1.0", "1:9.0"), 1);
        assert_eq!(evrcmp_match_release("1.0-5", "1.0"), 2);
        assert_eq!(evrcmp_match_release("1.0", "1.0-5"), -2);
        assert_eq!(evrcmp_match_release("1.0-", "1.0-5"), -2);
        assert_eq!(evrcmp_match_release("1.0-2", "1.0-10"), -1);
        assert_eq!(evrcmp_match_release("1.0~rc1-1", "1.0-1"), -1);
        assert_eq!(evrcmp_match_release("1.0^git1", "1.0"), 1);
    }

    fn provides(pflags: Sense, pevr: &str, flags: Sense, evr: &str) -> bool {
        match_flags_evr(pflags, pevr, flags, evr)
    }

    #[test]
    fn every_operator_against_an_exact_provide() {
        let eq = Sense::EQ;
        // provide foo = 2.0-1
        let cases = [
            (Sense::EQ, "2.0-1", true),
            (Sense::EQ, "2.0-2", false),
            (Sense::EQ, "2.0", true), // no release in the requirement: any release
            (Sense::LT, "2.0", false),
            (Sense::LT, "2.0-2", true),
            (Sense::LT, "3", true),
            (Sense::LE, "2.0", true),
            (Sense::LE, "1.9", false),
            (Sense::GT, "2.0", false), // same version, no release: not greater
            (Sense::GT, "2.0-0", true),
            (Sense::GT, "1.9", true),
            (Sense::GE, "2.0", true),
            (Sense::GE, "2.0-1", true),
            (Sense::GE, "2.0-2", false),
            (Sense::GE, "2.1", false),
            (Sense::GE, "1:1.0", false), // epochs compare first
        ];
        for (sense, evr, want) in cases {
            assert_eq!(provides(eq, "2.0-1", sense, evr), want, "foo {sense} {evr}");
        }
    }

    #[test]
    fn provide_ranges_and_missing_parts() {
        // A provide `= 1.0` without release stands for every release of 1.0 (libsolv's -2
        // case): it even satisfies `> 1.0-3`, where rpm's rpmdsCompare would say no.
        assert!(provides(Sense::EQ, "1.0", Sense::EQ, "1.0-3"));
        assert!(provides(Sense::EQ, "1.0", Sense::GE, "1.0-3"));
        assert!(provides(Sense::EQ, "1.0", Sense::GT, "1.0-3"));
        assert!(!provides(Sense::GT, "1.0", Sense::EQ, "1.0-3"));
        // A requirement without release matches a provide with one only through '='.
        assert!(provides(Sense::GT, "1.0-5", Sense::EQ, "1.0"));
        assert!(!provides(Sense::EQ, "1.0-5", Sense::GT, "1.0"));
        // Epoch 1 beats any version without epoch.
        assert!(provides(Sense::EQ, "1:0.5-1", Sense::GE, "1.0"));
        assert!(!provides(Sense::EQ, "1:0.5-1", Sense::LT, "1.0"));
        assert!(provides(Sense::EQ, "0:0.5-1", Sense::LT, "1.0"));
        // Ranged provides.
        assert!(provides(Sense::GE, "2", Sense::GE, "5"));
        assert!(provides(Sense::LT, "2", Sense::LE, "1"));
        assert!(!provides(Sense::LT, "2", Sense::GE, "2"));
        assert!(provides(Sense::LE, "2", Sense::GE, "2"));
        assert!(!provides(Sense::GT, "2", Sense::LE, "2"));
        assert!(!provides(Sense::default(), "2", Sense::EQ, "2"));
    }

    #[test]
    fn package_evr_matching() {
        assert!(match_package_evr("1.5-1", Sense::LT, "2.0"));
        assert!(!match_package_evr("2.0-1", Sense::LT, "2.0"));
        assert!(match_package_evr("2.0-1", Sense::LE, "2.0"));
        assert!(match_package_evr("2.0-1", Sense::EQ, "2.0-1"));
        assert!(!match_package_evr("1:1.0-1", Sense::LT, "2.0"));
    }
}
