//! pakiti-client's report format (protocol 5), as its `format_report` writes it:
//!
//! ```text
//! #
//! arch: x86_64
//! host: wn1.example.org
//! ...one `key: value` line per header, sorted by key...
//! #
//! NAME<TAB>EPOCH:VERSION-RELEASE<TAB>ARCH
//! #
//! ```
//!
//! Pure: the HTTP layer passes the body, the service records the packages.

use std::collections::BTreeMap;

/// A parsed pakiti report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PakitiReport {
    /// Header lines by name (`host`, `site`, `tag`, `kernel`, `arch`, `system`, `packager`...).
    pub headers: BTreeMap<String, String>,
    /// Packages as `name-epoch:version-release.arch`, the inventory's entry form.
    pub entries: Vec<String>,
}

/// Parses a report; the error says which line is wrong.
pub fn parse(body: &str) -> Result<PakitiReport, String> {
    let mut lines = body.lines().enumerate();
    match lines.next() {
        Some((_, "#")) => {}
        _ => {
            return Err(
                "not a pakiti-client report: the first line must be \"#\" (encrypted reports are not accepted)".into(),
            )
        }
    }
    let mut headers = BTreeMap::new();
    let mut in_header = true;
    let mut ended = false;
    let mut entries = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        if line == "#" {
            if in_header {
                in_header = false;
            } else {
                ended = true;
            }
            continue;
        }
        if ended {
            return Err(format!("line {n}: text after the closing \"#\""));
        }
        if in_header {
            let (k, v) = line
                .split_once(": ")
                .ok_or_else(|| format!("line {n}: a header line is `name: value`, got {line:?}"))?;
            headers.insert(k.trim().to_string(), v.trim().to_string());
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, evr, arch] = fields[..] else {
            return Err(format!(
                "line {n}: a package line is NAME<TAB>EPOCH:VERSION-RELEASE<TAB>ARCH, got {line:?}"
            ));
        };
        let evr = evr
            .strip_prefix("(none):")
            .map_or(evr.to_string(), |r| format!("0:{r}"));
        entries.push(format!("{name}-{evr}.{arch}"));
    }
    if in_header {
        return Err("the report ends inside its header (no second \"#\" line)".into());
    }
    if let Some(p) = headers.get("packager").filter(|p| p.as_str() != "rpm") {
        return Err(format!(
            "packager {p:?}: only rpm reports describe what stagerepo serves"
        ));
    }
    if !headers.contains_key("host") {
        return Err("the report has no `host:` header".into());
    }
    Ok(PakitiReport { headers, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_as_pakiti_client_formats_it() {
        let body = "#\narch: x86_64\nhost: wn1.example.org\nkernel: 5.14.0\npackager: rpm\nsite: CERN-PROD\nsystem: AlmaLinux 9.4\ntag: wn\n#\nbash\t0:5.1.8-9.el9\tx86_64\nfts-server\t2:3.12.0-1.el9\tnoarch\n#\n";
        let r = parse(body).unwrap();
        assert_eq!(r.headers["host"], "wn1.example.org");
        assert_eq!(r.headers["site"], "CERN-PROD");
        assert_eq!(
            r.entries,
            ["bash-0:5.1.8-9.el9.x86_64", "fts-server-2:3.12.0-1.el9.noarch"]
        );
    }

    #[test]
    fn bad_reports_say_why() {
        assert!(parse("host=x&pkgs=y").unwrap_err().contains("first line"));
        assert!(parse("#\nhost: a\n").unwrap_err().contains("header"));
        assert!(parse("#\nhost: a\n#\nbash 5.1\n#\n").unwrap_err().contains("line 4"));
        assert!(parse("#\nhost: a\npackager: dpkg\n#\n#\n")
            .unwrap_err()
            .contains("dpkg"));
        assert!(parse("#\narch: x\n#\n#\n").unwrap_err().contains("host"));
    }
}
