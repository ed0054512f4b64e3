//! The documented limits on what clients send (docs/api.md, "Limits"), and the checks that
//! name the field and the limit when a value is outside them.
//!
//! Every bound exists so that no input can overflow a deadline, fill the database or make the
//! dashboard unusable; the numbers are generous for real use.

/// Longest SLA period of a rollout site (and `fast_track_sla`): one year.
pub const MAX_SLA_SECONDS: i64 = 365 * 86_400;
/// Longest look-back of a `since` filter, and longest duration setting: ten years.
pub const MAX_SINCE_SECONDS: i64 = 10 * 365 * 86_400;
/// Largest JSON request body, in bytes (1 MiB).
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// Largest deployment report body, in bytes (16 MiB: 20,000 packages of up to 512 characters
/// fit with room for JSON quoting).
pub const MAX_DEPLOYMENT_BODY: usize = 16 * 1024 * 1024;
/// Packages in one host's deployment report.
pub const MAX_DEPLOYMENT_PACKAGES: usize = 20_000;
/// One `name-epoch:version-release.arch` entry of a deployment report.
pub const MAX_PACKAGE_ENTRY: usize = 512;
/// Problem texts and report texts, in characters.
pub const MAX_PROBLEM_TEXT: usize = 10_000;
/// Release notes, in characters.
pub const MAX_NOTES: usize = 10_000;
/// Reasons (promote, reject, withdraw, roll back, close), in characters.
pub const MAX_REASON: usize = 1_000;
/// Element descriptions, in characters.
pub const MAX_DESCRIPTION: usize = 1_000;
/// A site's contact, in characters.
pub const MAX_CONTACT: usize = 256;
/// URLs and paths (webhooks, base repository sources, backup directories), in characters.
pub const MAX_REFERENCE: usize = 2_048;
/// Release versions, in characters.
pub const MAX_VERSION: usize = 64;
/// Keywords from a fixed list (advisory `type`, `severity`), in characters.
pub const MAX_KEYWORD: usize = 32;
/// Host names in deployment reports, in characters.
pub const MAX_HOSTNAME: usize = 253;
/// Package files in one release.
pub const MAX_RELEASE_PACKAGES: usize = 1_000;
/// Package file names, in characters.
pub const MAX_FILENAME: usize = 255;
/// Problems one release says it fixes.
pub const MAX_FIXES: usize = 100;
/// An ASCII-armoured public key, in bytes.
pub const MAX_ARMORED_KEY: usize = 256 * 1024;
/// Rows one listing answers (`limit=`).
pub const MAX_LIST_LIMIT: i64 = 10_000;
/// How many characters of a long text the dashboard shows.
pub const DASHBOARD_TEXT: usize = 300;

/// Fails when `value` is longer than `max` characters, naming the field and the limit.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    // Bytes bound characters from above: the exact count is needed only near the limit.
    if value.len() <= max {
        return Ok(());
    }
    let chars = value.chars().count();
    if chars <= max {
        return Ok(());
    }
    Err(format!("{field} is {chars} characters long; the limit is {max}"))
}

/// Fails when a list holds more than `max` items, naming the field and the limit.
pub fn check_count(field: &str, count: usize, max: usize) -> Result<(), String> {
    if count <= max {
        Ok(())
    } else {
        Err(format!("{field} has {count} entries; the limit is {max}"))
    }
}

/// Ids are positive 64-bit integers.
pub fn check_id(field: &str, id: i64) -> Result<(), String> {
    if id >= 1 {
        Ok(())
    } else {
        Err(format!("{field} {id} is out of range: ids are 1 to {}", i64::MAX))
    }
}

/// An SLA period: at least a second, at most [`MAX_SLA_SECONDS`].
pub fn check_sla(field: &str, seconds: i64) -> Result<(), String> {
    if (1..=MAX_SLA_SECONDS).contains(&seconds) {
        Ok(())
    } else {
        Err(format!(
            "{field} of {seconds}s is out of range: at least 1s, at most {MAX_SLA_SECONDS}s (365d)"
        ))
    }
}

/// A human duration (`30s`, `12h`, `5d`) in seconds, refused above `max` seconds.
pub fn parse_duration(field: &str, text: &str, max: i64) -> Result<i64, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{field} {text:?} is not a duration ({e}); use e.g. 30s, 12h, 5d"))?;
    match i64::try_from(d.as_secs()) {
        Ok(s) if s <= max => Ok(s),
        _ => Err(format!("{field} {text:?} is out of range: at most {max}s")),
    }
}

/// A `limit=` of a listing: 1 to [`MAX_LIST_LIMIT`].
pub fn check_list_limit(limit: i64) -> Result<(), String> {
    if (1..=MAX_LIST_LIMIT).contains(&limit) {
        Ok(())
    } else {
        Err(format!("limit {limit} is out of range 1-{MAX_LIST_LIMIT}"))
    }
}

/// The first `max` characters of `text`, with an ellipsis when something was cut.
pub fn shorten(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_characters() {
        assert!(check_len("text", &"é".repeat(10), 10).is_ok());
        let e = check_len("text", &"é".repeat(11), 10).unwrap_err();
        assert_eq!(e, "text is 11 characters long; the limit is 10");
    }

    #[test]
    fn huge_durations_are_refused_not_wrapped() {
        assert_eq!(parse_duration("sla", "5d", MAX_SLA_SECONDS), Ok(5 * 86_400));
        let e = parse_duration("sla", "9223372036854775807s", MAX_SLA_SECONDS).unwrap_err();
        assert!(e.contains("at most 31536000s"), "{e}");
        assert!(parse_duration("sla", "366d", MAX_SLA_SECONDS).is_err());
        assert!(check_sla("sla", 0).is_err() && check_sla("sla", MAX_SLA_SECONDS).is_ok());
    }

    #[test]
    fn ids_and_shortening() {
        assert!(check_id("release", 0).is_err() && check_id("release", -5).is_err());
        assert!(check_id("release", i64::MAX).is_ok());
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("ééé", 2), "éé…");
    }
}
