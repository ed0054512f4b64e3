//! Rules for the names users choose (teams, distributions, elements, sites).

/// Names are 1-64 characters of ASCII letters, digits, `.`, `_` and `-`, starting alphanumeric,
/// so that they are safe in URLs, file paths and log lines without escaping.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert!(super::is_valid_name("el9"));
        assert!(super::is_valid_name("fts-team"));
        assert!(!super::is_valid_name("../x"));
        assert!(!super::is_valid_name(""));
        assert!(!super::is_valid_name("a/b"));
    }
}
