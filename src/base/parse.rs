//! Streaming readers for repomd.xml, primary.xml and filelists.xml (createrepo_c's formats),
//! keeping only what the closure check needs.

use std::collections::HashMap;
use std::io::BufRead;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::BaseError;
use crate::domain::closure::DepPackage;
use crate::domain::evr::Evr;
use crate::domain::package::Dependency;

/// One `<data>` record of repomd.xml.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Record {
    /// `primary`, `filelists`...
    pub kind: String,
    /// Path relative to the repository root.
    pub href: String,
    /// Checksum type (`sha256`...) and value of the file as stored.
    pub checksum: Option<(String, String)>,
}

fn bad_xml(file: &str, detail: impl std::fmt::Display) -> BaseError {
    BaseError::BadXml {
        file: file.to_string(),
        detail: detail.to_string(),
    }
}

/// A reader error: decompression and transfer failures surface here as I/O errors.
fn read_err(file: &str, e: quick_xml::Error) -> BaseError {
    match e {
        quick_xml::Error::Io(io) => BaseError::Io {
            path: file.to_string(),
            source: std::io::Error::new(io.kind(), io.to_string()),
        },
        other => bad_xml(file, other),
    }
}

/// Appends the value of an entity or character reference.
fn push_ref(out: &mut String, r: &BytesRef<'_>, file: &str) -> Result<(), BaseError> {
    if let Some(c) = r.resolve_char_ref().map_err(|e| bad_xml(file, e))? {
        out.push(c);
        return Ok(());
    }
    let name = r.decode().map_err(|e| bad_xml(file, e))?;
    match quick_xml::escape::resolve_predefined_entity(&name) {
        Some(v) => out.push_str(v),
        None => return Err(bad_xml(file, format!("unknown entity &{name};"))),
    }
    Ok(())
}

/// The value of attribute `key` (by local name), unescaped.
fn attr(e: &BytesStart<'_>, key: &[u8], file: &str) -> Result<Option<String>, BaseError> {
    for a in e.attributes() {
        let a = a.map_err(|err| bad_xml(file, err))?;
        if a.key.local_name().as_ref() == key {
            return Ok(Some(a.unescape_value().map_err(|err| bad_xml(file, err))?.into_owned()));
        }
    }
    Ok(None)
}

/// Reads the `<data>` records of a repomd.xml.
pub(crate) fn parse_repomd(text: &str, file: &str) -> Result<Vec<Record>, BaseError> {
    let mut reader = Reader::from_str(text);
    let mut records = Vec::new();
    let mut current: Option<Record> = None;
    let mut checksum_type: Option<String> = None;
    let mut in_checksum = false;
    let mut buf = String::new();
    loop {
        match reader.read_event().map_err(|e| bad_xml(file, e))? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"data" => {
                let kind = attr(&e, b"type", file)?.unwrap_or_default();
                current = Some(Record {
                    kind,
                    ..Record::default()
                });
            }
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"location" => {
                if let (Some(rec), Some(href)) = (current.as_mut(), attr(&e, b"href", file)?) {
                    rec.href = href;
                }
            }
            Event::Start(e) if e.local_name().as_ref() == b"checksum" && current.is_some() => {
                checksum_type = Some(attr(&e, b"type", file)?.unwrap_or_default());
                in_checksum = true;
                buf.clear();
            }
            Event::Text(t) if in_checksum => buf.push_str(&t.decode().map_err(|e| bad_xml(file, e))?),
            Event::End(e) if e.local_name().as_ref() == b"checksum" && in_checksum => {
                in_checksum = false;
                if let (Some(rec), Some(kind)) = (current.as_mut(), checksum_type.take()) {
                    rec.checksum = Some((kind, buf.trim().to_string()));
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"data" => records.extend(current.take()),
            Event::Eof => break,
            _ => {}
        }
    }
    if records.is_empty() && !text.contains("repomd") {
        return Err(bad_xml(file, "not a repomd.xml document"));
    }
    Ok(records)
}

/// Which element's text is being collected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Arch,
    Checksum,
    File,
}

/// Which dependency list `<rpm:entry>` elements go to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    Provides,
    Requires,
    Conflicts,
    Obsoletes,
    Ignored,
}

#[derive(Default)]
struct Builder {
    name: String,
    arch: String,
    epoch: String,
    version: String,
    release: String,
    pkgid: String,
    provides: Vec<Dependency>,
    requires: Vec<Dependency>,
    conflicts: Vec<Dependency>,
    obsoletes: Vec<Dependency>,
    files: Vec<String>,
}

fn entry(e: &BytesStart<'_>, file: &str) -> Result<Option<Dependency>, BaseError> {
    let mut d = Dependency {
        name: String::new(),
        flags: None,
        epoch: None,
        version: None,
        release: None,
        pre: false,
    };
    let mut named = false;
    for a in e.attributes() {
        let a = a.map_err(|err| bad_xml(file, err))?;
        let value = a.unescape_value().map_err(|err| bad_xml(file, err))?.into_owned();
        match a.key.local_name().as_ref() {
            b"name" => {
                d.name = value;
                named = true;
            }
            b"flags" => d.flags = Some(value),
            b"epoch" => d.epoch = Some(value),
            b"ver" => d.version = Some(value),
            b"rel" => d.release = Some(value),
            b"pre" => d.pre = value == "1",
            _ => {}
        }
    }
    // libsolv drops entries without a name.
    Ok(named.then_some(d))
}

/// Reads primary.xml: the packages, with the files primary lists, and their pkgids.
pub(crate) fn parse_primary<R: BufRead>(input: R, file: &str) -> Result<Vec<(String, DepPackage)>, BaseError> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::with_capacity(4096);
    let mut out = Vec::new();
    let mut pkg: Option<Builder> = None;
    let mut list = List::Ignored;
    let mut field: Option<Field> = None;
    let mut text = String::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| read_err(file, e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let Some(p) = pkg.as_mut() else {
                    if e.local_name().as_ref() == b"package" && !empty {
                        pkg = Some(Builder::default());
                    }
                    drop(event);
                    buf.clear();
                    continue;
                };
                match e.local_name().as_ref() {
                    b"name" => field = Some(Field::Name),
                    b"arch" => field = Some(Field::Arch),
                    b"checksum" => field = Some(Field::Checksum),
                    b"file" => field = Some(Field::File),
                    b"version" => {
                        p.epoch = attr(e, b"epoch", file)?.unwrap_or_default();
                        p.version = attr(e, b"ver", file)?.unwrap_or_default();
                        p.release = attr(e, b"rel", file)?.unwrap_or_default();
                    }
                    b"provides" => list = List::Provides,
                    b"requires" => list = List::Requires,
                    b"conflicts" => list = List::Conflicts,
                    b"obsoletes" => list = List::Obsoletes,
                    b"suggests" | b"enhances" | b"recommends" | b"supplements" => list = List::Ignored,
                    b"entry" => {
                        if let Some(d) = entry(e, file)? {
                            match list {
                                List::Provides => p.provides.push(d),
                                List::Requires => p.requires.push(d),
                                List::Conflicts => p.conflicts.push(d),
                                List::Obsoletes => p.obsoletes.push(d),
                                List::Ignored => {}
                            }
                        }
                    }
                    _ => {}
                }
                text.clear();
                if empty {
                    field = None;
                }
            }
            Event::Text(t) if field.is_some() => text.push_str(&t.decode().map_err(|e| bad_xml(file, e))?),
            Event::CData(t) if field.is_some() => text.push_str(&t.decode().map_err(|e| bad_xml(file, e))?),
            Event::GeneralRef(r) if field.is_some() => push_ref(&mut text, &r, file)?,
            Event::End(e) => {
                let local = e.local_name();
                if let (Some(p), Some(f)) = (pkg.as_mut(), field.take()) {
                    let value = std::mem::take(&mut text);
                    match f {
                        Field::Name => p.name = value,
                        Field::Arch => p.arch = value,
                        Field::Checksum => p.pkgid = value.trim().to_string(),
                        Field::File => p.files.push(value),
                    }
                } else if local.as_ref() == b"package" {
                    if let Some(p) = pkg.take() {
                        out.push(finish(p, file)?);
                    }
                } else if matches!(local.as_ref(), b"provides" | b"requires" | b"conflicts" | b"obsoletes") {
                    list = List::Ignored;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if pkg.is_some() {
        return Err(bad_xml(file, "document ends inside a <package>"));
    }
    Ok(out)
}

fn finish(p: Builder, file: &str) -> Result<(String, DepPackage), BaseError> {
    if p.name.is_empty() {
        return Err(bad_xml(file, "a <package> has no <name>"));
    }
    let epoch = if p.epoch.is_empty() {
        0
    } else {
        p.epoch
            .parse()
            .map_err(|_| bad_xml(file, format!("package {}: bad epoch {:?}", p.name, p.epoch)))?
    };
    let evr = Evr::new(epoch, &p.version, &p.release);
    let package = DepPackage {
        nevra: DepPackage::format_nevra(&p.name, &evr, &p.arch),
        name: p.name,
        arch: p.arch,
        evr,
        provides: p.provides,
        requires: p.requires,
        conflicts: p.conflicts,
        obsoletes: p.obsoletes,
        files: p.files,
    };
    Ok((p.pkgid, package))
}

/// Reads filelists.xml and replaces the (primary-only) files of the packages it lists, found
/// by pkgid; returns how many packages got their full file list.
pub(crate) fn parse_filelists<R: BufRead>(
    input: R,
    file: &str,
    by_pkgid: &HashMap<&str, usize>,
    packages: &mut [DepPackage],
) -> Result<usize, BaseError> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::with_capacity(4096);
    let mut current: Option<(Option<usize>, Vec<String>)> = None;
    let mut in_file = false;
    let mut text = String::new();
    let mut updated = 0;
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| read_err(file, e))? {
            Event::Start(e) if e.local_name().as_ref() == b"package" => {
                let pkgid = attr(&e, b"pkgid", file)?.unwrap_or_default();
                current = Some((by_pkgid.get(pkgid.as_str()).copied(), Vec::new()));
            }
            Event::Start(e) if e.local_name().as_ref() == b"file" && current.is_some() => {
                in_file = true;
                text.clear();
            }
            Event::Text(t) if in_file => text.push_str(&t.decode().map_err(|e| bad_xml(file, e))?),
            Event::CData(t) if in_file => text.push_str(&t.decode().map_err(|e| bad_xml(file, e))?),
            Event::GeneralRef(r) if in_file => push_ref(&mut text, &r, file)?,
            Event::End(e) if e.local_name().as_ref() == b"file" && in_file => {
                in_file = false;
                if let Some((_, files)) = current.as_mut() {
                    files.push(std::mem::take(&mut text));
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"package" => {
                if let Some((Some(i), files)) = current.take() {
                    packages[i].files = files;
                    updated += 1;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if current.is_some() {
        return Err(bad_xml(file, "document ends inside a <package>"));
    }
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_primary_and_filelists() {
        let primary = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm">
  <name>a&amp;b</name>
  <arch>noarch</arch>
  <version epoch="2" ver="1.0" rel="1"/>
  <checksum type="sha256" pkgid="YES">abc</checksum>
  <summary>s &lt;x&gt;</summary>
  <format>
    <rpm:provides>
      <rpm:entry name="a&amp;b" flags="EQ" epoch="2" ver="1.0" rel="1"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="(x or y)"/>
      <rpm:entry name="z" flags="GE" epoch="0" ver="3" pre="1"/>
    </rpm:requires>
    <rpm:obsoletes><rpm:entry name="old"/></rpm:obsoletes>
    <rpm:recommends><rpm:entry name="nice"/></rpm:recommends>
    <file>/usr/bin/a&#38;b</file>
  </format>
</package>
</metadata>"#;
        let mut pkgs = parse_primary(primary.as_bytes(), "primary.xml").unwrap();
        assert_eq!(pkgs.len(), 1);
        let (pkgid, p) = &pkgs[0];
        assert_eq!(pkgid, "abc");
        assert_eq!(p.nevra, "a&b-2:1.0-1.noarch");
        assert_eq!(p.provides.len(), 1);
        assert_eq!(p.requires[0].name, "(x or y)");
        assert_eq!(p.requires[1].flags.as_deref(), Some("GE"));
        assert!(p.requires[1].pre);
        assert_eq!(p.obsoletes[0].name, "old");
        assert!(p.conflicts.is_empty());
        assert_eq!(p.files, ["/usr/bin/a&b"]);

        let filelists = r#"<filelists packages="2">
<package pkgid="abc" name="a&amp;b" arch="noarch"><version epoch="2" ver="1.0" rel="1"/>
  <file>/usr/bin/a&amp;b</file><file type="dir">/usr/share/a</file><file>/usr/share/a/x</file>
</package>
<package pkgid="other" name="o" arch="noarch"><file>/o</file></package>
</filelists>"#;
        let mut packages: Vec<DepPackage> = pkgs.drain(..).map(|(_, p)| p).collect();
        let by_pkgid = HashMap::from([("abc", 0usize)]);
        let n = parse_filelists(filelists.as_bytes(), "filelists.xml", &by_pkgid, &mut packages).unwrap();
        assert_eq!(n, 1);
        assert_eq!(packages[0].files, ["/usr/bin/a&b", "/usr/share/a", "/usr/share/a/x"]);
    }

    #[test]
    fn bad_documents_are_errors() {
        let e = parse_primary("<metadata><package><name>x</name>".as_bytes(), "p.xml").unwrap_err();
        assert!(e.to_string().contains("p.xml"), "{e}");
        let e = parse_primary(
            "<metadata><package><name>x</nome></package></metadata>".as_bytes(),
            "p.xml",
        );
        assert!(e.is_err());
        let e = parse_primary(
            r#"<metadata><package><name>x</name><version epoch="x" ver="1" rel="1"/></package></metadata>"#.as_bytes(),
            "p.xml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("bad epoch"), "{e}");
        assert!(parse_repomd("<html>nope</html>", "repomd.xml").is_err());
    }

    #[test]
    fn reads_repomd() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1</revision>
  <data type="primary">
    <checksum type="sha256">aa</checksum>
    <open-checksum type="sha256">bb</open-checksum>
    <location href="repodata/aa-primary.xml.gz"/>
  </data>
  <data type="filelists"><checksum type="sha1">cc</checksum><location href="repodata/cc-filelists.xml.zst"/></data>
</repomd>"#;
        let records = parse_repomd(text, "repomd.xml").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].kind, "primary");
        assert_eq!(records[0].href, "repodata/aa-primary.xml.gz");
        assert_eq!(records[0].checksum, Some(("sha256".into(), "aa".into())));
        assert_eq!(records[1].checksum, Some(("sha1".into(), "cc".into())));
    }
}
