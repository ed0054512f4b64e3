//! What a host ends up with: of all the versions a repository keeps, `dnf upgrade` (with
//! EL's default `best=True`) installs the newest of each name and architecture, and
//! replaces packages that a newer one obsoletes. Older versions stay in the repository
//! (for downgrades and roll-backs) but no longer provide anything to an upgraded host.
//!
//! The newest set is hawkey's `latest()` (`latest_per_arch`: grouped by name and
//! architecture, `noarch` a group of its own, every package of the highest EVR kept), which
//! `dnf repoclosure --newest` applies to each repository.

use std::collections::HashMap;

use super::evrmatch::{match_package_evr, package_evr};
use super::index::{is_source, Pkgs};
use super::resolve::{parse, Parsed};

/// Marks, by position, the newest packages of each (name, architecture) in `pkgs`.
pub(crate) fn newest_mask(pkgs: Pkgs<'_>) -> Vec<bool> {
    let best = newest_of(pkgs);
    (0..pkgs.len())
        .map(|i| pkgs.get(i).evr.cmp(&pkgs.get(best[i]).evr).is_eq())
        .collect()
}

/// For each package (by position), the position of the newest package of its name and
/// architecture (itself when it is one).
pub(crate) fn newest_of(pkgs: Pkgs<'_>) -> Vec<usize> {
    let mut best: HashMap<(&str, &str), usize> = HashMap::with_capacity(pkgs.len());
    for i in 0..pkgs.len() {
        let p = pkgs.get(i);
        best.entry((p.name.as_str(), p.arch.as_str()))
            .and_modify(|b| {
                if p.evr > pkgs.get(*b).evr {
                    *b = i;
                }
            })
            .or_insert(i);
    }
    (0..pkgs.len())
        .map(|i| {
            let p = pkgs.get(i);
            let b = best[&(p.name.as_str(), p.arch.as_str())];
            if p.evr.cmp(&pkgs.get(b).evr).is_eq() {
                i
            } else {
                b
            }
        })
        .collect()
}

/// For each live package, the live package of another name that obsoletes it (by
/// position), if any: on an upgrade, dnf replaces it with the obsoleting one. An
/// `Obsoletes:` entry matches package names, its version compared with the package's EVR
/// (libsolv's `pool_match_nevr`; rpm's `obsoleteusesprovides` is off).
pub(crate) fn obsoleted_by(pkgs: Pkgs<'_>, live: &[bool]) -> Vec<Option<usize>> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in (0..pkgs.len()).filter(|&i| live[i] && !is_source(pkgs.get(i))) {
        by_name.entry(pkgs.get(i).name.as_str()).or_default().push(i);
    }
    let mut out = vec![None; pkgs.len()];
    for i in (0..pkgs.len()).filter(|&i| live[i] && !is_source(pkgs.get(i))) {
        let p = pkgs.get(i);
        for o in &p.obsoletes {
            let Ok(Parsed::Simple(name, version)) = parse(o) else {
                continue;
            };
            if name == p.name {
                continue;
            }
            for &j in by_name.get(name).into_iter().flatten() {
                let q = pkgs.get(j);
                let hit = match &version {
                    None => true,
                    Some((sense, evr)) => match_package_evr(&package_evr(&q.evr), *sense, evr),
                };
                if hit && out[j].is_none() {
                    out[j] = Some(i);
                }
            }
        }
    }
    out
}
