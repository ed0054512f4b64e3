//! Escaping exactly as libxml2 2.9 serializes createrepo_c's trees (`xmlNodeDump` without a
//! document), so that our fragments are byte-identical to createrepo_c's.

use std::fmt::Write;

/// XML 1.0 cannot carry C0 controls other than tab, LF and CR; createrepo_c refuses packages
/// containing them and the header reader does too, so this only guards hand-made metadata.
fn forbidden(c: char) -> bool {
    (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')
}

/// Appends element text: `&`, `<`, `>` as entities and CR as a character reference;
/// everything else, quotes and non-ASCII included, verbatim.
pub(crate) fn push_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if forbidden(c) => {}
            c => out.push(c),
        }
    }
}

/// Appends an attribute value: libxml2 also escapes `"`, tab and newlines, and, because the
/// nodes belong to no document, writes every non-ASCII character as a hexadecimal reference.
pub(crate) fn push_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if forbidden(c) => {}
            c if !c.is_ascii() => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `<name>text</name>` (an empty text still gets both tags, as libxml2 writes a text child).
pub(crate) fn text_element(out: &mut String, indent: &str, name: &str, text: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    push_text(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// ` name="value"`.
pub(crate) fn attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_attr(out, value);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_libxml2() {
        let mut t = String::new();
        push_text(&mut t, "a<b>&\"c\"\r\n\tá\u{1}");
        assert_eq!(t, "a&lt;b&gt;&amp;\"c\"&#13;\n\tá");
        let mut a = String::new();
        push_attr(&mut a, "Tomáš <x> & \"q\"\n\t\r😀");
        assert_eq!(
            a,
            "Tom&#xE1;&#x161; &lt;x&gt; &amp; &quot;q&quot;&#10;&#9;&#13;&#x1F600;"
        );
    }
}
