//! Conflicts and obsoletes between the packages a promotion brings in and the production
//! packages of other elements.
//!
//! As in libsolv: a `Conflicts:` entry matches the *provides* of a package (explicit
//! provides, its own `name = evr`, its files), rich conflicts included; an `Obsoletes:`
//! entry matches package *names* only, its version compared with the package's EVR
//! (`pool_match_nevr`, since rpm's `obsoleteusesprovides` is off). Both directions are
//! checked: a new package conflicting with or obsoleting a production package, and a
//! production package conflicting with or obsoleting a new one; either way both cannot be
//! installed side by side.

use super::evrmatch::{format_dep, match_package_evr, package_evr};
use super::index::{is_source, Pkgs, Table, View};
use super::resolve::{parse, Parsed, Resolver};
use super::DepPackage;
use crate::domain::package::Dependency;

/// Lists the conflicts and obsoletes between `new` (the packages of a release of element
/// `new_element`) and the `existing` production packages of *other* elements (entries of
/// `new_element` itself are ignored: a release may replace or conflict with its own
/// element's packages). Each problem is one sentence naming both packages and elements;
/// the list is sorted and empty when the promotion is fine.
pub fn check_conflicts(new: &[&DepPackage], existing: &[(&DepPackage, &str)], new_element: &str) -> Vec<String> {
    let packages: Vec<&DepPackage> = existing.iter().map(|(p, _)| *p).collect();
    let owners: Vec<&str> = existing.iter().map(|(_, e)| *e).collect();
    check_conflicts_owned_by(new, &packages, &mut |i| owners[i].to_string(), new_element)
}

/// [`check_conflicts`] with the owner of `existing[i]` asked of `owner_of(i)` only for the
/// packages a problem involves: asking a database for the element of every production
/// package would cost in proportion to production.
pub fn check_conflicts_owned_by(
    new: &[&DepPackage],
    existing: &[&DepPackage],
    owner_of: &mut dyn FnMut(usize) -> String,
    new_element: &str,
) -> Vec<String> {
    let new: Vec<&DepPackage> = new.iter().copied().filter(|p| !is_source(p)).collect();
    let positions: Vec<usize> = (0..existing.len()).filter(|&i| !is_source(existing[i])).collect();
    let others: Vec<&DepPackage> = positions.iter().map(|&i| existing[i]).collect();
    let mut owners: Vec<Option<String>> = vec![None; others.len()];
    let mut element = |i: usize| -> String { owners[i].get_or_insert_with(|| owner_of(positions[i])).clone() };
    let new_table = Table::build(Pkgs::Refs(&new));
    let other_table = Table::build(Pkgs::Refs(&others));
    let in_new = Resolver::new(vec![View::new(Pkgs::Refs(&new), &new_table)]);
    let in_others = Resolver::new(vec![View::new(Pkgs::Refs(&others), &other_table)]);

    let mut problems = Vec::new();
    for n in &new {
        let who = format!("{} (element {new_element})", n.nevra);
        for c in &n.conflicts {
            for i in conflicting(&in_others, c) {
                let e = element(i);
                if e != new_element {
                    problems.push(format!(
                        "{who} conflicts with {}, which {} of element {e} provides",
                        describe(c),
                        others[i].nevra,
                    ));
                }
            }
        }
        for o in &n.obsoletes {
            for i in obsoleted(&in_others, o) {
                let e = element(i);
                if e != new_element {
                    problems.push(format!(
                        "{who} obsoletes {}, which would replace {} of element {e}",
                        describe(o),
                        others[i].nevra,
                    ));
                }
            }
        }
    }
    for (i, o) in others.iter().enumerate() {
        let (conflicts, obsoletes): (Vec<_>, Vec<_>) = (
            o.conflicts
                .iter()
                .map(|c| (c, conflicting(&in_new, c)))
                .filter(|(_, h)| !h.is_empty())
                .collect(),
            o.obsoletes
                .iter()
                .map(|b| (b, obsoleted(&in_new, b)))
                .filter(|(_, h)| !h.is_empty())
                .collect(),
        );
        if conflicts.is_empty() && obsoletes.is_empty() {
            continue;
        }
        let e = element(i);
        if e == new_element {
            continue;
        }
        let who = format!("{} of element {e} (in production)", o.nevra);
        for (c, hits) in conflicts {
            for j in hits {
                problems.push(format!(
                    "{who} conflicts with {}, which {} (element {new_element}) provides",
                    describe(c),
                    new[j].nevra
                ));
            }
        }
        for (ob, hits) in obsoletes {
            for j in hits {
                problems.push(format!(
                    "{who} obsoletes {}, which would replace {} (element {new_element})",
                    describe(ob),
                    new[j].nevra
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

fn describe(d: &Dependency) -> String {
    match parse(d) {
        Ok(Parsed::Rich(r)) => r.to_string(),
        _ => format_dep(d),
    }
}

/// Positions of the packages a conflict entry matches (unparseable rich entries match
/// nothing: libsolv drops them when reading the metadata).
fn conflicting(resolver: &Resolver<'_>, dep: &Dependency) -> Vec<usize> {
    match parse(dep) {
        Ok(parsed) => resolver
            .providers(&parsed)
            .into_iter()
            .map(|(_, i)| i as usize)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Positions of the packages an obsoletes entry matches: same name, matching version.
fn obsoleted(resolver: &Resolver<'_>, dep: &Dependency) -> Vec<usize> {
    let Ok(Parsed::Simple(name, version)) = parse(dep) else {
        return Vec::new();
    };
    let view = resolver.view(0);
    let mut out: Vec<usize> = view
        .provides(name)
        .filter(|(_, entry)| entry.is_none())
        .map(|(i, _)| i)
        .filter(|&i| match &version {
            None => true,
            Some((sense, evr)) => match_package_evr(&package_evr(&view.package(i).evr), *sense, evr),
        })
        .map(|i| i as usize)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
