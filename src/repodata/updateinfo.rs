//! updateinfo.xml, the advisories dnf shows with `dnf updateinfo` and acts on with
//! `dnf upgrade --advisory`. The layout is the one Fedora/RHEL repositories carry and that
//! libsolv's updateinfo parser reads.

use super::xml::{push_attr, push_text};
use crate::domain::advisory::Advisory;

fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn element(out: &mut String, indent: &str, name: &str, text: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    push_text(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_attr(out, value);
    out.push('"');
}

/// The document start.
pub const HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n";
/// The document end.
pub const FOOTER: &str = "</updates>\n";

/// Renders every advisory (oldest first) as one updateinfo.xml document.
pub fn render(advisories: &[Advisory]) -> String {
    let mut out = String::from(HEADER);
    for a in advisories {
        out.push_str(&render_update(a));
    }
    out.push_str(FOOTER);
    out
}

/// One advisory's `<update>` element, newline-terminated: the documents are [`HEADER`], these
/// (oldest first) and [`FOOTER`].
pub fn render_update(a: &Advisory) -> String {
    let mut out = String::with_capacity(1024 + a.packages.len() * 256);
    {
        out.push_str("  <update");
        attr(&mut out, "from", "stagerepo");
        attr(&mut out, "status", "stable");
        attr(&mut out, "type", &a.kind);
        attr(&mut out, "version", "1");
        out.push_str(">\n");
        element(&mut out, "    ", "id", &a.id);
        element(&mut out, "    ", "title", &a.title);
        out.push_str("    <issued");
        attr(&mut out, "date", &date(a.issued));
        out.push_str("/>\n    <updated");
        attr(&mut out, "date", &date(a.updated));
        out.push_str("/>\n");
        element(&mut out, "    ", "rights", "");
        element(&mut out, "    ", "release", &a.dist);
        if let Some(sev) = &a.severity {
            element(&mut out, "    ", "severity", sev);
        }
        element(&mut out, "    ", "summary", &a.title);
        element(&mut out, "    ", "description", &a.description);
        out.push_str("    <references>\n");
        for r in &a.references {
            out.push_str("      <reference");
            attr(&mut out, "href", &r.href);
            attr(&mut out, "id", &r.id);
            attr(&mut out, "type", &r.kind);
            attr(&mut out, "title", &r.title);
            out.push_str("/>\n");
        }
        out.push_str("    </references>\n    <pkglist>\n      <collection");
        attr(&mut out, "short", &a.dist);
        out.push_str(">\n");
        element(&mut out, "        ", "name", &a.dist);
        for p in &a.packages {
            out.push_str("        <package");
            attr(&mut out, "name", &p.name);
            attr(&mut out, "version", &p.version);
            attr(&mut out, "release", &p.release);
            attr(&mut out, "epoch", &p.epoch.to_string());
            attr(&mut out, "arch", &p.arch);
            out.push_str(">\n");
            element(&mut out, "          ", "filename", &p.filename);
            out.push_str("          <sum type=\"sha256\">");
            push_text(&mut out, &p.sha256);
            out.push_str("</sum>\n        </package>\n");
        }
        out.push_str("      </collection>\n    </pkglist>\n  </update>\n");
    }
    out
}
