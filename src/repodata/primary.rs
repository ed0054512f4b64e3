//! primary.xml: identity, descriptions, dependencies and the primary files of each package.

use super::xml::{attr, text_element};
use crate::domain::package::{is_primary_file, Dependency, PackageMeta};

/// The document start, up to and including the root element. Unlike createrepo_c's it carries
/// no `packages="N"` count: readers count the `<package>` elements, and a constant start lets
/// publication keep the hash state of the unchanged beginning of the file (see `layout`).
pub(crate) const HEADER: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n";

/// The document end; createrepo_c writes no newline after it.
pub(crate) const FOOTER: &str = "</metadata>";

/// One `<package>` element, newline-terminated, laid out as createrepo_c's `xmlNodeDump`.
pub(crate) fn render(meta: &PackageMeta, location_href: &str) -> String {
    let mut o = String::with_capacity(1024);
    o.push_str("<package type=\"rpm\">\n");
    text_element(&mut o, "  ", "name", &meta.name);
    text_element(&mut o, "  ", "arch", &meta.arch);
    super::version_element(&mut o, meta);
    o.push_str("  <checksum type=\"sha256\" pkgid=\"YES\">");
    super::xml::push_text(&mut o, &meta.pkgid);
    o.push_str("</checksum>\n");
    text_element(&mut o, "  ", "summary", &meta.summary);
    text_element(&mut o, "  ", "description", &meta.description);
    text_element(&mut o, "  ", "packager", &meta.packager);
    text_element(&mut o, "  ", "url", &meta.url);
    o.push_str(&format!(
        "  <time file=\"{}\" build=\"{}\"/>\n",
        meta.time_file, meta.time_build
    ));
    o.push_str(&format!(
        "  <size package=\"{}\" installed=\"{}\" archive=\"{}\"/>\n",
        meta.size_package, meta.size_installed, meta.size_archive
    ));
    o.push_str("  <location");
    attr(&mut o, "href", location_href);
    o.push_str("/>\n");
    o.push_str("  <format>\n");
    text_element(&mut o, "    ", "rpm:license", &meta.license);
    text_element(&mut o, "    ", "rpm:vendor", &meta.vendor);
    text_element(&mut o, "    ", "rpm:group", &meta.group);
    text_element(&mut o, "    ", "rpm:buildhost", &meta.buildhost);
    text_element(&mut o, "    ", "rpm:sourcerpm", &meta.sourcerpm);
    o.push_str(&format!(
        "    <rpm:header-range start=\"{}\" end=\"{}\"/>\n",
        meta.header_start, meta.header_end
    ));
    deps(&mut o, "rpm:provides", &meta.provides, false);
    deps(&mut o, "rpm:requires", &meta.requires, true);
    deps(&mut o, "rpm:conflicts", &meta.conflicts, false);
    deps(&mut o, "rpm:obsoletes", &meta.obsoletes, false);
    deps(&mut o, "rpm:suggests", &meta.suggests, false);
    deps(&mut o, "rpm:enhances", &meta.enhances, false);
    deps(&mut o, "rpm:recommends", &meta.recommends, false);
    deps(&mut o, "rpm:supplements", &meta.supplements, false);
    super::files(&mut o, "    ", meta, is_primary_file);
    o.push_str("  </format>\n</package>\n");
    o
}

/// A dependency list; omitted when empty. Versions appear only with a comparison operator,
/// and `pre` only on requires, as createrepo_c writes them.
fn deps(o: &mut String, element: &str, list: &[Dependency], requires: bool) {
    if list.is_empty() {
        return;
    }
    let entries: Vec<&Dependency> = list.iter().filter(|d| !d.name.is_empty()).collect();
    if entries.is_empty() {
        // libxml2 still writes the (now childless) list element.
        o.push_str(&format!("    <{element}/>\n"));
        return;
    }
    o.push_str(&format!("    <{element}>\n"));
    for d in entries {
        o.push_str("      <rpm:entry");
        attr(o, "name", &d.name);
        if let Some(flags) = d.flags.as_deref().filter(|f| !f.is_empty()) {
            attr(o, "flags", flags);
            let parts = [("epoch", &d.epoch), ("ver", &d.version), ("rel", &d.release)];
            for (name, value) in parts {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                    attr(o, name, v);
                }
            }
        }
        if requires && d.pre {
            o.push_str(" pre=\"1\"");
        }
        o.push_str("/>\n");
    }
    o.push_str(&format!("    </{element}>\n"));
}
