//! Advisories: what each promotion tells clients through updateinfo.xml.

use serde::Serialize;

/// One package an advisory updates to.
#[derive(Debug, Clone, Serialize)]
pub struct AdvisoryPackage {
    pub name: String,
    pub epoch: u64,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub filename: String,
    pub sha256: String,
}

/// A reference from an advisory, e.g. to a problem it fixes.
#[derive(Debug, Clone, Serialize)]
pub struct AdvisoryReference {
    pub id: String,
    pub href: String,
    pub title: String,
    /// updateinfo reference type: `cve`, `bugzilla`, `self` or `other` (what dnf knows).
    pub kind: String,
}

/// An advisory as updateinfo.xml lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Advisory {
    /// `<PREFIX>-<YEAR>-<NNNN>`.
    pub id: String,
    pub release: i64,
    pub dist: String,
    /// `bugfix`, `enhancement` or `security`.
    pub kind: String,
    /// `Low`, `Moderate`, `Important`, `Critical`, or None.
    pub severity: Option<String>,
    pub title: String,
    pub description: String,
    pub issued: i64,
    pub updated: i64,
    pub references: Vec<AdvisoryReference>,
    pub packages: Vec<AdvisoryPackage>,
}

/// Formats an advisory id.
pub fn advisory_id(prefix: &str, year: i32, seq: i64) -> String {
    format!("{prefix}-{year}-{seq:04}")
}

/// The updateinfo severity name for a release's own severity (`low`...`critical`).
pub fn severity_name(s: &str) -> Option<String> {
    let mut c = s.chars();
    let first = c.next()?;
    Some(first.to_uppercase().chain(c).collect())
}

/// Why a `--reference` is not usable.
#[derive(Debug, thiserror::Error)]
#[error("reference {0:?} is neither a CVE id (CVE-2024-1234) nor an http(s) URL")]
pub struct BadReference(pub String);

fn cve_in(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let start = upper.find("CVE-")?;
    let rest = &upper[start + 4..];
    let year: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = rest.get(year.len()..)?.strip_prefix('-')?;
    let num: String = tail.chars().take_while(char::is_ascii_digit).collect();
    (year.len() == 4 && num.len() >= 4).then(|| format!("CVE-{year}-{num}"))
}

/// Turns a `--reference` (a CVE id, or a URL of a CVE record, a bugzilla bug, a GGUS ticket or
/// anything else) into an updateinfo reference with the type dnf shows it under.
pub fn classify_reference(r: &str) -> Result<AdvisoryReference, BadReference> {
    let r = r.trim();
    let is_url = r.starts_with("https://") || r.starts_with("http://");
    if !is_url {
        return match cve_in(r) {
            Some(id) if id.len() == r.len() => Ok(AdvisoryReference {
                href: format!("https://www.cve.org/CVERecord?id={id}"),
                title: id.clone(),
                id,
                kind: "cve".into(),
            }),
            _ => Err(BadReference(r.into())),
        };
    }
    if r.chars().any(char::is_whitespace) {
        return Err(BadReference(r.into()));
    }
    let host = r
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let last = |url: &str| -> String {
        let path = url.split(['?', '#']).next().unwrap_or(url).trim_end_matches('/');
        path.rsplit('/').next().unwrap_or(path).to_string()
    };
    let query_id = r
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("id=")))
        .map(|v| v.split('#').next().unwrap_or(v).to_string());
    let (kind, id) = if host.ends_with("cve.org") || host.ends_with("nvd.nist.gov") || host.ends_with("cve.mitre.org") {
        match cve_in(r) {
            Some(id) => ("cve", id),
            None => ("other", last(r)),
        }
    } else if host.contains("bugzilla") {
        ("bugzilla", query_id.unwrap_or_else(|| last(r)))
    } else {
        ("other", query_id.unwrap_or_else(|| last(r)))
    };
    Ok(AdvisoryReference {
        id: if id.is_empty() { host.clone() } else { id },
        href: r.into(),
        title: r.into(),
        kind: kind.into(),
    })
}

#[cfg(test)]
mod reference_tests {
    use super::classify_reference as c;

    #[test]
    fn references_get_the_type_dnf_shows_them_under() {
        let r = c("CVE-2024-3094").unwrap();
        assert_eq!((r.kind.as_str(), r.id.as_str()), ("cve", "CVE-2024-3094"));
        assert_eq!(r.href, "https://www.cve.org/CVERecord?id=CVE-2024-3094");
        let r = c("https://nvd.nist.gov/vuln/detail/CVE-2023-44487").unwrap();
        assert_eq!((r.kind.as_str(), r.id.as_str()), ("cve", "CVE-2023-44487"));
        let r = c("https://www.cve.org/CVERecord?id=CVE-2021-44228").unwrap();
        assert_eq!((r.kind.as_str(), r.id.as_str()), ("cve", "CVE-2021-44228"));
        let r = c("https://bugzilla.redhat.com/show_bug.cgi?id=2273834").unwrap();
        assert_eq!((r.kind.as_str(), r.id.as_str()), ("bugzilla", "2273834"));
        let r = c("https://ggus.eu/index.php?mode=ticket_info&ticket_id=165432").unwrap();
        assert_eq!(r.kind, "other");
        let r = c("https://github.com/cern-fts/fts3/issues/42").unwrap();
        assert_eq!((r.kind.as_str(), r.id.as_str()), ("other", "42"));
        assert!(c("not a reference").is_err());
        assert!(c("CVE-24-1").is_err());
        assert!(c("ftp://example.org/x").is_err());
    }
}
