//! repomd.xml: the index clients fetch first, written in createrepo_c 0.17's exact layout.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::xml::{attr, push_text};

/// One `<data>` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// `primary`, `filelists`, `other`...
    pub kind: String,
    /// sha256 (hex) of the file as stored.
    pub checksum: String,
    /// sha256 (hex) of the uncompressed content.
    pub open_checksum: Option<String>,
    /// Relative to the repository root, e.g. `repodata/<sha>-primary.xml.gz`.
    pub href: String,
    pub timestamp: i64,
    pub size: u64,
    pub open_size: Option<u64>,
}

/// A parsed or to-be-written repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Repomd {
    pub revision: String,
    pub records: Vec<Record>,
}

impl Repomd {
    /// The document, as `xmlDocDumpFormatMemoryEnc` lays out createrepo_c's tree.
    pub(crate) fn render(&self) -> String {
        let mut o = String::with_capacity(512 + self.records.len() * 512);
        o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        o.push_str(
            "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" \
             xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n",
        );
        o.push_str("  <revision>");
        push_text(&mut o, &self.revision);
        o.push_str("</revision>\n");
        for r in &self.records {
            o.push_str("  <data");
            attr(&mut o, "type", &r.kind);
            o.push_str(">\n    <checksum type=\"sha256\">");
            push_text(&mut o, &r.checksum);
            o.push_str("</checksum>\n");
            if let Some(open) = &r.open_checksum {
                o.push_str("    <open-checksum type=\"sha256\">");
                push_text(&mut o, open);
                o.push_str("</open-checksum>\n");
            }
            o.push_str("    <location");
            attr(&mut o, "href", &r.href);
            o.push_str("/>\n");
            o.push_str(&format!("    <timestamp>{}</timestamp>\n", r.timestamp));
            o.push_str(&format!("    <size>{}</size>\n", r.size));
            if let Some(open_size) = r.open_size {
                o.push_str(&format!("    <open-size>{open_size}</open-size>\n"));
            }
            o.push_str("  </data>\n");
        }
        o.push_str("</repomd>\n");
        o
    }

    /// Reads the fields this crate needs from any repomd.xml (ours or createrepo_c's);
    /// `None` when it is not well-formed.
    pub(crate) fn parse(text: &str) -> Option<Repomd> {
        let mut reader = Reader::from_str(text);
        let mut repomd = Repomd::default();
        let mut path: Vec<String> = Vec::new();
        let mut current: Option<Record> = None;
        let mut buf_text = String::new();
        loop {
            match reader.read_event().ok()? {
                Event::Start(e) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if name == "data" && path.len() == 1 {
                        let kind = e.try_get_attribute("type").ok()??.unescape_value().ok()?;
                        current = Some(Record {
                            kind: kind.into_owned(),
                            checksum: String::new(),
                            open_checksum: None,
                            href: String::new(),
                            timestamp: 0,
                            size: 0,
                            open_size: None,
                        });
                    }
                    if name == "location" {
                        read_href(&e, current.as_mut())?;
                    }
                    path.push(name);
                    buf_text.clear();
                }
                Event::Empty(e) if e.local_name().as_ref() == b"location" => {
                    read_href(&e, current.as_mut())?;
                }
                Event::Text(t) => buf_text.push_str(&t.decode().ok()?),
                Event::GeneralRef(r) => {
                    let entity = format!("&{};", r.decode().ok()?);
                    buf_text.push_str(&quick_xml::escape::unescape(&entity).ok()?);
                }
                Event::End(_) => {
                    let name = path.pop()?;
                    let value = buf_text.trim().to_owned();
                    buf_text.clear();
                    match (name.as_str(), current.as_mut()) {
                        ("revision", _) if path.len() == 1 => repomd.revision = value,
                        ("data", Some(_)) => repomd.records.push(current.take()?),
                        ("checksum", Some(rec)) => rec.checksum = value,
                        ("open-checksum", Some(rec)) => rec.open_checksum = Some(value),
                        ("timestamp", Some(rec)) => rec.timestamp = value.parse().unwrap_or(0),
                        ("size", Some(rec)) => rec.size = value.parse().unwrap_or(0),
                        ("open-size", Some(rec)) => rec.open_size = value.parse().ok(),
                        _ => {}
                    }
                }
                Event::Eof if path.is_empty() => break,
                Event::Eof => return None,
                _ => {}
            }
        }
        Some(repomd)
    }

    /// The numeric revision, when it is one (createrepo_c's default is a Unix time).
    pub(crate) fn revision_number(&self) -> Option<u64> {
        self.revision.trim().parse().ok()
    }
}

/// Stores a `<location>`'s href into the record being read.
fn read_href(e: &quick_xml::events::BytesStart<'_>, rec: Option<&mut Record>) -> Option<()> {
    if let (Some(rec), Ok(Some(href))) = (rec, e.try_get_attribute("href")) {
        rec.href = href.unescape_value().ok()?.into_owned();
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let repomd = Repomd {
            revision: "1700000000".into(),
            records: vec![Record {
                kind: "primary".into(),
                checksum: "ab".into(),
                open_checksum: Some("cd".into()),
                href: "repodata/ab-primary.xml.gz".into(),
                timestamp: 5,
                size: 10,
                open_size: Some(20),
            }],
        };
        let text = repomd.render();
        assert!(text.ends_with("</data>\n</repomd>\n"));
        assert_eq!(Repomd::parse(&text), Some(repomd));
        assert_eq!(Repomd::parse("<repomd><revision>"), None);
    }
}
