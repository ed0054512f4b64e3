//! `GET /feed.atom`: announcements and promotions as an Atom feed (RFC 4287).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;

use super::error::ApiResult;
use super::{blocking, AppState};
use crate::db::FeedEntry;

/// Escapes text for XML element content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Renders entries (newest first) as an Atom document.
pub fn render_atom(base: &str, self_path: &str, title: &str, entries: &[FeedEntry]) -> String {
    let updated = entries.first().map_or(0, |e| e.at);
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str(&format!("  <id>{}</id>\n", xml_escape(&format!("{base}{self_path}"))));
    out.push_str(&format!("  <title>{}</title>\n", xml_escape(title)));
    out.push_str(&format!("  <updated>{}</updated>\n", rfc3339(updated)));
    out.push_str("  <author><name>stagerepo</name></author>\n");
    out.push_str(&format!(
        "  <link rel=\"self\" href=\"{}\"/>\n",
        xml_escape(&format!("{base}{self_path}"))
    ));
    for e in entries {
        let link = format!("{base}/api/v1/releases/{}", e.release);
        out.push_str("  <entry>\n");
        out.push_str(&format!(
            "    <id>{}</id>\n",
            xml_escape(&format!("{base}/feed/{}", e.id))
        ));
        out.push_str(&format!("    <title>{}</title>\n", xml_escape(&e.title)));
        out.push_str(&format!("    <updated>{}</updated>\n", rfc3339(e.at)));
        out.push_str(&format!("    <category term=\"{}\"/>\n", xml_escape(&e.kind)));
        out.push_str(&format!("    <link href=\"{}\"/>\n", xml_escape(&link)));
        out.push_str(&format!(
            "    <content type=\"text\">{}</content>\n",
            xml_escape(&e.content)
        ));
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// `GET /feed.atom`.
pub async fn feed(State(app): State<AppState>, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    let entries = blocking(&app, |a| Ok(a.db.feed_entries(100)?)).await?;
    let base = super::repo::base_url(&app, &headers);
    let body = render_atom(&base, "/feed.atom", "stagerepo announcements", &entries);
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], body))
}
