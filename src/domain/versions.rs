//! The version rules of promotion: no package downgrade, element versions only go up.

use std::collections::HashMap;

use super::evr::Evr;

/// A package as the version check sees it.
#[derive(Debug, Clone)]
pub struct VersionedPackage {
    pub name: String,
    pub arch: String,
    pub evr: Evr,
}

/// Every reason `release` may not join `production`: a package not newer than the same name
/// (and architecture) there, by rpm's comparison with epochs.
pub fn downgrades(release: &[VersionedPackage], production: &[VersionedPackage]) -> Vec<String> {
    let mut newest: HashMap<(&str, &str), &Evr> = HashMap::new();
    for p in production {
        let e = newest.entry((&p.name, &p.arch)).or_insert(&p.evr);
        if p.evr > **e {
            *e = &p.evr;
        }
    }
    let mut out = Vec::new();
    for p in release {
        if let Some(prod) = newest.get(&(p.name.as_str(), p.arch.as_str())) {
            if p.evr <= **prod {
                out.push(format!(
                    "package {}.{} {} is not newer than {} in production",
                    p.name, p.arch, p.evr, prod
                ));
            }
        }
    }
    out
}

/// Refuses an element version not greater (semver) than the latest promoted one.
pub fn element_version_check(version: &str, latest_promoted: Option<&str>) -> Option<String> {
    let latest = latest_promoted?;
    let (Ok(v), Ok(l)) = (semver::Version::parse(version), semver::Version::parse(latest)) else {
        return Some(format!("cannot compare element versions {version} and {latest}"));
    };
    (v <= l).then(|| format!("element version {version} is not greater than {latest}, the latest promoted"))
}
