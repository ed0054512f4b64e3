//! Header strings to metadata text, the way createrepo_c converts them.
//!
//! RPM headers carry bytes in whatever encoding the packager used. createrepo_c keeps a string
//! that libxml2 considers UTF-8 and otherwise reads it as ISO-8859-1, dropping C0 controls (but
//! tab, newline, carriage return) and the C1 range 0x80-0xBF, which in practice is mis-declared
//! cp1252 rather than Latin-1.

/// Converts header bytes to the text createrepo_c would write.
///
/// One deliberate difference: libxml2's UTF-8 check accepts overlong forms, surrogates and
/// code points above U+10FFFF, which createrepo_c then writes as they are (making the XML
/// unreadable); such strings are treated as ISO-8859-1 here instead.
pub(crate) fn xml_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => latin1_to_utf8(bytes),
    }
}

fn latin1_to_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        match b {
            0x09 | 0x0a | 0x0d => out.push(char::from(b)),
            0x00..=0x1f | 0x80..=0xbf => {}
            _ => out.push(char::from(b)),
        }
    }
    out
}

/// createrepo_c refuses a package whose metadata contains C0 control characters other than
/// tab, newline and carriage return: XML 1.0 cannot carry them.
pub(crate) fn has_control_chars(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b < 32 && !matches!(b, 9 | 10 | 13))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_kept_and_latin1_converted() {
        assert_eq!(xml_text("Tomáš".as_bytes()), "Tomáš");
        assert_eq!(xml_text(b"Tom\xe1s"), "Tomás");
        // C1 bytes (cp1252 quotes here) are dropped, as createrepo_c does.
        assert_eq!(xml_text(b"\x93x\x94 \xff"), "x ÿ");
        assert_eq!(xml_text(b"a\x01b\xe1"), "abá");
        assert!(has_control_chars(b"a\x1b"));
        assert!(!has_control_chars(b"a\tb\r\n\x7f"));
    }
}
