//! What hosts run: the packages a host reports, and which release of an element they make up.
//!
//! Pure: the service layer loads the reports and the releases' packages and asks here.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// An installed package as a host reports it: `name-epoch:version-release.arch`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstalledPackage {
    pub name: String,
    pub epoch: u64,
    pub version: String,
    pub release: String,
    pub arch: String,
}

/// Why one reported entry is not a package.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} ({why})")]
pub struct EntryError {
    pub entry: String,
    pub why: &'static str,
}

fn valid_part(s: &str, extra: &[char]) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

impl InstalledPackage {
    /// Parses `name-epoch:version-release.arch`; the epoch may be left out when it is 0
    /// (`name-version-release.arch`).
    pub fn parse(entry: &str) -> Result<InstalledPackage, EntryError> {
        let bad = |why| EntryError {
            entry: entry.to_string(),
            why,
        };
        if entry.len() > 512 {
            return Err(bad("longer than 512 characters"));
        }
        let (rest, arch) = entry.rsplit_once('.').ok_or_else(|| bad("no .arch"))?;
        let (rest, release) = rest.rsplit_once('-').ok_or_else(|| bad("no -release"))?;
        let (name, ev) = rest.rsplit_once('-').ok_or_else(|| bad("no -version"))?;
        let (epoch, version) = match ev.split_once(':') {
            Some((e, v)) => (e.parse::<u64>().map_err(|_| bad("the epoch is not a number"))?, v),
            None => (0, ev),
        };
        if !valid_part(name, &['-', '.', '_', '+']) {
            return Err(bad("bad name"));
        }
        if !valid_part(version, &['.', '_', '+', '~', '^']) {
            return Err(bad("bad version"));
        }
        if !valid_part(release, &['.', '_', '+', '~', '^']) {
            return Err(bad("bad release"));
        }
        if !valid_part(arch, &['_']) {
            return Err(bad("bad arch"));
        }
        Ok(InstalledPackage {
            name: name.to_string(),
            epoch,
            version: version.to_string(),
            release: release.to_string(),
            arch: arch.to_string(),
        })
    }
}

impl fmt::Display for InstalledPackage {
    /// Always with the epoch: `name-epoch:version-release.arch`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}:{}-{}.{}",
            self.name, self.epoch, self.version, self.release, self.arch
        )
    }
}

/// Parses every entry of a report, without duplicates; on failure, every bad entry with why.
pub fn parse_entries(entries: &[String]) -> Result<Vec<InstalledPackage>, Vec<EntryError>> {
    let mut good = Vec::with_capacity(entries.len());
    let mut bad = Vec::new();
    for e in entries {
        match InstalledPackage::parse(e.trim()) {
            Ok(p) => good.push(p),
            Err(err) => bad.push(err),
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    good.sort();
    good.dedup();
    Ok(good)
}

/// Checks a host name: 1-253 letters, digits, '.', '-' or '_'.
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() || host.len() > 253 {
        return Err(format!(
            "host name must have 1 to 253 characters, not {}",
            host.chars().count()
        ));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(format!(
            "host name {host:?} is invalid: use letters, digits, '.', '-' or '_'"
        ));
    }
    Ok(())
}

/// A release of an element with its packages, as the mapping needs it.
#[derive(Debug, Clone)]
pub struct ReleasePackages {
    pub id: i64,
    pub packages: Vec<InstalledPackage>,
}

/// Which release of an element a host's packages make up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The release, when one matches at least one installed package.
    pub release: Option<i64>,
    /// Whether every package of the release that the host has is at the release's version.
    /// False means a mix of releases (a partial upgrade): `release` is the closest one.
    pub exact: bool,
}

/// Maps the packages a host has of one element (only names bound to it) to a release.
///
/// A host runs release R when it has at least one of R's packages installed at R's exact
/// name, epoch, version, release and arch, and none of R's package names at another version.
/// Among several such releases (a host with only a package that several releases share) the
/// one matching most packages wins, then the newest (highest id). When no release matches
/// exactly, the one matching most packages is given with `exact: false`.
pub fn resolve(installed: &[InstalledPackage], releases: &[ReleasePackages]) -> Resolution {
    let have: HashSet<&InstalledPackage> = installed.iter().collect();
    let names: HashSet<&str> = installed.iter().map(|p| p.name.as_str()).collect();
    let mut best_exact: Option<(usize, i64)> = None;
    let mut best_any: Option<(usize, i64)> = None;
    for r in releases {
        let matched = r.packages.iter().filter(|p| have.contains(p)).count();
        if matched == 0 {
            continue;
        }
        let conflicting = r
            .packages
            .iter()
            .any(|p| names.contains(p.name.as_str()) && !have.contains(p));
        let key = (matched, r.id);
        if !conflicting && best_exact.is_none_or(|b| key > b) {
            best_exact = Some(key);
        }
        if best_any.is_none_or(|b| key > b) {
            best_any = Some(key);
        }
    }
    match (best_exact, best_any) {
        (Some((_, id)), _) => Resolution {
            release: Some(id),
            exact: true,
        },
        (None, Some((_, id))) => Resolution {
            release: Some(id),
            exact: false,
        },
        (None, None) => Resolution {
            release: None,
            exact: false,
        },
    }
}

/// Groups packages by the element their name is bound to (`bound`: package name -> element);
/// names bound to no element are left out.
pub fn by_element(
    installed: &[InstalledPackage],
    bound: &HashMap<String, String>,
) -> HashMap<String, Vec<InstalledPackage>> {
    let mut out: HashMap<String, Vec<InstalledPackage>> = HashMap::new();
    for p in installed {
        if let Some(e) = bound.get(&p.name) {
            out.entry(e.clone()).or_default().push(p.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> InstalledPackage {
        InstalledPackage::parse(s).unwrap()
    }

    #[test]
    fn entries_parse_with_and_without_epoch() {
        let a = p("fts-server-0:3.12.0-1.el9.x86_64");
        assert_eq!(
            (
                a.name.as_str(),
                a.epoch,
                a.version.as_str(),
                a.release.as_str(),
                a.arch.as_str()
            ),
            ("fts-server", 0, "3.12.0", "1.el9", "x86_64")
        );
        assert_eq!(p("fts-server-3.12.0-1.el9.x86_64"), a);
        assert_eq!(p("perl-IO-2:1.46-4.el9.noarch").epoch, 2);
        assert_eq!(a.to_string(), "fts-server-0:3.12.0-1.el9.x86_64");
    }

    #[test]
    fn every_bad_entry_is_named() {
        let entries: Vec<String> = [
            "ok-1.0-1.noarch",
            "nodots",
            "x-1.0.noarch",
            "a-b:1-1.x86_64",
            "sp ace-1-1.x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let bad = parse_entries(&entries).unwrap_err();
        let names: Vec<&str> = bad.iter().map(|e| e.entry.as_str()).collect();
        assert_eq!(names, ["nodots", "x-1.0.noarch", "a-b:1-1.x86_64", "sp ace-1-1.x"]);
        assert!(bad[2].to_string().contains("epoch"), "{}", bad[2]);
    }

    #[test]
    fn hosts_are_checked() {
        assert!(check_host("wn-001.cern.ch").is_ok());
        assert!(check_host("").is_err());
        assert!(check_host("a/b").is_err());
    }

    fn rel(id: i64, pkgs: &[&str]) -> ReleasePackages {
        ReleasePackages {
            id,
            packages: pkgs.iter().map(|s| p(s)).collect(),
        }
    }

    #[test]
    fn a_host_runs_the_release_whose_versions_it_has() {
        let releases = [
            rel(1, &["fts-server-1.0-1.noarch", "fts-libs-1.0-1.noarch"]),
            rel(2, &["fts-server-2.0-1.noarch", "fts-libs-1.0-1.noarch"]),
            rel(3, &["fts-server-3.0-1.noarch", "fts-libs-3.0-1.noarch"]),
        ];
        let host = [p("fts-server-2.0-1.noarch"), p("fts-libs-1.0-1.noarch")];
        assert_eq!(
            resolve(&host, &releases),
            Resolution {
                release: Some(2),
                exact: true
            }
        );
        // Only a package two releases share: the newest of them.
        let libs_only = [p("fts-libs-1.0-1.noarch")];
        assert_eq!(resolve(&libs_only, &releases).release, Some(2));
        // A partial upgrade: the closest release, flagged.
        let mixed = [p("fts-server-3.0-1.noarch"), p("fts-libs-1.0-1.noarch")];
        let r = resolve(&mixed, &releases);
        assert!(!r.exact);
        // A local build of the element's package: no release.
        let local = [p("fts-server-9.9-1.noarch")];
        assert_eq!(resolve(&local, &releases).release, None);
    }

    #[test]
    fn packages_group_by_element() {
        let bound = HashMap::from([("fts-server".to_string(), "fts".to_string())]);
        let host = [p("fts-server-1.0-1.noarch"), p("bash-5.1-1.x86_64")];
        let g = by_element(&host, &bound);
        assert_eq!(g.len(), 1);
        assert_eq!(g["fts"].len(), 1);
    }
}
