//! filelists.xml: every file of every package.

use super::xml::attr;
use crate::domain::package::PackageMeta;

/// The document start, up to and including the root element. Unlike createrepo_c's it carries
/// no `packages="N"` count: readers count the `<package>` elements, and a constant start lets
/// publication keep the hash state of the unchanged beginning of the file (see `layout`).
pub(crate) const HEADER: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\">\n";

/// The document end; createrepo_c writes no newline after it.
pub(crate) const FOOTER: &str = "</filelists>";

/// One `<package>` element, newline-terminated.
pub(crate) fn render(meta: &PackageMeta) -> String {
    let mut o = String::with_capacity(256 + meta.files.len() * 48);
    o.push_str("<package");
    attr(&mut o, "pkgid", &meta.pkgid);
    attr(&mut o, "name", &meta.name);
    attr(&mut o, "arch", &meta.arch);
    o.push_str(">\n");
    super::version_element(&mut o, meta);
    super::files(&mut o, "  ", meta, |_| true);
    o.push_str("</package>\n");
    o
}
