//! other.xml: the changelogs.

use super::xml::{attr, push_text};
use crate::domain::package::PackageMeta;

/// The document start, up to and including the root element. Unlike createrepo_c's it carries
/// no `packages="N"` count: readers count the `<package>` elements, and a constant start lets
/// publication keep the hash state of the unchanged beginning of the file (see `layout`).
pub(crate) const HEADER: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<otherdata xmlns=\"http://linux.duke.edu/metadata/other\">\n";

/// The document end; createrepo_c writes no newline after it.
pub(crate) const FOOTER: &str = "</otherdata>";

/// One `<package>` element, newline-terminated; changelog entries in the order read.
pub(crate) fn render(meta: &PackageMeta) -> String {
    let mut o = String::with_capacity(256 + meta.changelogs.len() * 160);
    o.push_str("<package");
    attr(&mut o, "pkgid", &meta.pkgid);
    attr(&mut o, "name", &meta.name);
    attr(&mut o, "arch", &meta.arch);
    o.push_str(">\n");
    super::version_element(&mut o, meta);
    for c in &meta.changelogs {
        o.push_str("  <changelog");
        attr(&mut o, "author", &c.author);
        o.push_str(&format!(" date=\"{}\">", c.date));
        push_text(&mut o, &c.text);
        o.push_str("</changelog>\n");
    }
    o.push_str("</package>\n");
    o
}
