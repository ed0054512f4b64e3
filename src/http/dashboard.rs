//! `GET /`: the read-only dashboard, rendered on the server with maud (no JavaScript).
//!
//! It shows only what the public API shows: no token, secret, contact or webhook address.

use axum::extract::State;
use axum::response::Html;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::error::ApiResult;
use super::{blocking, AppState};
use crate::domain::problem::Problem;
use crate::domain::rollout::{SiteState, SiteStatus};
use crate::service::dashboard::Dashboard;
use crate::service::inventory::ElementInventory;
use crate::service::rollout::ReleaseDetail;

pub(super) const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2433;background:#f3f5f8}
header{background:#1d2433;color:#fff;padding:.8rem 1rem;display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:baseline;justify-content:space-between}
header h1{font-size:1.2rem;margin:0}
header small{color:#c6cbd6}
main{max-width:72rem;margin:0 auto;padding:.6rem;display:grid;gap:.8rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,30rem),1fr))}
section{background:#fff;border-radius:8px;padding:.7rem .9rem;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
section.wide{grid-column:1/-1}
h2{font-size:1.05rem;margin:.1rem 0 .5rem}
h3{font-size:.98rem;margin:.7rem 0 .3rem;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .45rem;border-bottom:1px solid #e3e6eb;vertical-align:top}
th{font-weight:600;color:#5a6275;font-size:.8rem;text-transform:uppercase;letter-spacing:.02em}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:1rem;font-size:.78rem;font-weight:600;background:#e3e6eb;white-space:nowrap}
.ok{background:#d5f2dc;color:#135e26}.bad{background:#fbdada;color:#8a1414}.warn{background:#fdf0c8;color:#6b4e00}.info{background:#dbe8fb;color:#173f7a}
tr.bad td{background:#fdeeee}
.muted{color:#6b7385}
.chips{display:flex;flex-wrap:wrap;gap:.4rem;margin-bottom:.4rem}
ul{margin:.2rem 0;padding-left:1.1rem}
li{margin:.15rem 0;overflow-wrap:anywhere}
@media (max-width:40rem){
table.stack thead{display:none}
table.stack tr{display:block;border-bottom:1px solid #e3e6eb;padding:.3rem 0}
table.stack td{display:flex;justify-content:space-between;gap:.8rem;border:0;padding:.1rem .2rem;text-align:right}
table.stack td::before{content:attr(data-label);font-weight:600;color:#5a6275;font-size:.8rem;text-transform:uppercase;text-align:left}
table.stack td:first-child{font-weight:600}
}
"#;

/// `GET /`.
pub async fn dashboard(State(app): State<AppState>) -> ApiResult<Html<String>> {
    let d = blocking(&app, |a| a.dashboard()).await?;
    Ok(Html(render(&d).into_string()))
}

/// Seconds as a short duration: `2d 3h`, `4m 5s`.
pub fn short_duration(secs: i64) -> String {
    const UNITS: [(i64, &str); 4] = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let s = secs.max(0);
    let i = UNITS.iter().position(|(u, _)| s >= *u).unwrap_or(UNITS.len() - 1);
    let (unit, name) = UNITS[i];
    match UNITS.get(i + 1) {
        Some((next, next_name)) => format!("{}{name} {}{next_name}", s / unit, (s % unit) / next),
        None => format!("{}{name}", s / unit),
    }
}

pub(super) fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A long user text cut to [`DASHBOARD_TEXT`](crate::domain::limits::DASHBOARD_TEXT)
/// characters; the API (`/api/v1/releases/{id}`) has it in full.
pub(super) fn short(text: &str) -> std::borrow::Cow<'_, str> {
    crate::domain::limits::shorten(text, crate::domain::limits::DASHBOARD_TEXT)
}

pub(super) fn percent(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.0}%", v * 100.0))
}

/// A whole HTML page: the shared head, header and style around `body` (the `main` content).
pub(super) fn page(title: &str, now: i64, body: Markup) -> Markup {
    let v = crate::version::info();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content="60";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { a href="/" style="color:inherit;text-decoration:none" { "stagerepo" } }
                    small { "as of " (time(now)) " · version " (v.version) " (" (v.commit) ")" }
                }
                main { (body) }
            }
        }
    }
}

/// Renders the whole page.
pub fn render(d: &Dashboard) -> Markup {
    page(
        "stagerepo dashboard",
        d.now,
        html! {
            (rollout(d))
            (beta(d))
            (ready_and_promoted(d))
            (problems(&d.problems))
            (sla(d))
            (production(d))
            (inventory(&d.inventory.elements, d.inventory.hosts_reporting))
        },
    )
}

/// A link to a release's page.
pub(super) fn release_link(id: i64, text: impl std::fmt::Display) -> Markup {
    html! { a href={ "/releases/" (id) } { (text) } }
}

/// A link to a site's page.
pub(super) fn site_link(site: &str) -> Markup {
    html! { a href={ "/sites/" (urlencoding(site)) } { (site) } }
}

/// A link to an element's page.
pub(super) fn element_link(element: &str) -> Markup {
    html! { a href={ "/elements/" (urlencoding(element)) } { (element) } }
}

/// Names are restricted to URL-safe characters at creation; this keeps a link valid anyway.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A rollout site's state in a release as a badge.
pub(super) fn site_state(s: &SiteStatus) -> Markup {
    html! {
        @match s.state {
            SiteState::ReportedOk => span.badge.ok { "reported ok" },
            SiteState::ReportedProblem => span.badge.bad { "reported a problem" },
            SiteState::Declined => span.badge { "declined" },
            SiteState::Deployed => span.badge.ok { "deployed" },
            SiteState::Expired if s.evidence => span.badge.warn { "expired" },
            SiteState::Expired => span.badge.bad { "expired without evidence" },
            SiteState::Assigned => span.badge.info { "assigned" },
        }
        @if let Some(d) = &s.deployed {
            span.muted { " · host " (d.host) " since " (time(d.at)) }
        }
    }
}

fn release_title(r: &ReleaseDetail) -> Markup {
    release_link(
        r.release.id,
        format!(
            "{} {} ({}) · release {}",
            r.release.element, r.release.version, r.release.dist, r.release.id
        ),
    )
}

fn rollout(d: &Dashboard) -> Markup {
    html! {
        section.wide {
            h2 { "Releases in rollout" }
            @if d.rollout.is_empty() { p.muted { "No release is in rollout." } }
            @for r in &d.rollout {
                h3 {
                    (release_title(r)) " "
                    @if r.ready { span.badge.ok { "ready" } }
                    @if r.gate.as_ref().is_some_and(|g| g.fast_track) { " " span.badge.warn { "fast track" } }
                }
                @if let Some(gate) = &r.gate {
                    div.scroll { table.stack {
                        thead { tr { th { "Rollout site" } th { "State" } th { "Time left" } th { "Deadline" } } }
                        tbody { @for s in &gate.sites { tr {
                            td data-label="Site" { (site_link(&s.site)) }
                            td data-label="State" { (site_state(s)) }
                            td data-label="Time left" {
                                @if s.seconds_left > 0 { (short_duration(s.seconds_left)) " left" } @else { "passed" }
                            }
                            td data-label="Deadline" { (time(s.deadline)) }
                        } } }
                    } }
                    @for c in gate.conditions.iter().filter(|c| !c.passed && c.name != "rollout sites") {
                        p.muted { "Waiting: " (c.name) " – " (short(&c.detail)) }
                    }
                }
                (warnings(r))
            }
        }
    }
}

/// What a release's promotion would fail on now, if anything.
fn warnings(r: &ReleaseDetail) -> Markup {
    html! {
        @if !r.warnings.is_empty() {
            ul.warnings { @for w in &r.warnings { li { span.badge.bad { "warning" } " " (w) } } }
        }
    }
}

/// Releases in beta not announced yet, with their warnings.
fn beta(d: &Dashboard) -> Markup {
    html! {
        section.wide {
            h2 { "In beta, not announced" }
            @if d.beta.is_empty() { p.muted { "No release waits in beta." } }
            @for r in &d.beta {
                h3 {
                    (release_title(r)) " "
                    @if r.warnings.is_empty() { span.badge.ok { "promotable" } } @else { span.badge.bad { "could not be promoted" } }
                }
                (warnings(r))
            }
        }
    }
}

fn ready_and_promoted(d: &Dashboard) -> Markup {
    html! {
        section {
            h2 { "Ready for promotion" }
            @let ready: Vec<&ReleaseDetail> = d.rollout.iter().filter(|r| r.ready).collect();
            @if ready.is_empty() { p.muted { "None." } }
            ul { @for r in ready { li { (release_title(r)) } } }
            h2 { "Recently promoted" }
            @if d.promoted.is_empty() { p.muted { "Nothing in the last 14 days." } }
            ul { @for p in &d.promoted { li {
                (release_link(p.release.id, format!("{} {} ({}) · release {}", p.release.element, p.release.version, p.release.dist, p.release.id)))
                span.muted { " · " (time(p.at)) }
                @if p.release.forced { " " span.badge.warn { "forced" } }
            } } }
            h2 { "Recently withdrawn or rejected" }
            @if d.exits.is_empty() { p.muted { "Nothing in the last 14 days." } }
            ul { @for e in &d.exits { li {
                span.badge.bad { (e.release.state.as_str()) } " "
                (release_link(e.release.id, format!("{} {} ({}) · release {}", e.release.element, e.release.version, e.release.dist, e.release.id)))
                span.muted { " · " (time(e.at)) " · " (short(&e.reason)) }
            } } }
        }
    }
}

fn problems(list: &[Problem]) -> Markup {
    let count = |c: Option<&str>| list.iter().filter(|p| p.criticality.map(|x| x.as_str()) == c).count();
    html! {
        section {
            h2 { "Open problems" }
            div.chips {
                span.badge.bad { "critical: " (count(Some("critical"))) }
                span.badge.warn { "major: " (count(Some("major"))) }
                span.badge { "minor: " (count(Some("minor"))) }
                span.badge.info { "untriaged: " (count(None)) }
            }
            @if list.is_empty() { p.muted { "No open problem." } }
            ul { @for p in list { li {
                @match p.criticality {
                    Some(c) => span.badge.(if c.as_str() == "critical" { "bad" } else { "warn" }) { (c.as_str()) },
                    None => span.badge.info { "untriaged" },
                }
                " " a href={ "/problems/" (p.id) } { "#" (p.id) } " on " (release_link(p.release, format!("release {}", p.release)))
                " from " (site_link(&p.site)) ": " (short(&p.text))
            } } }
        }
    }
}

fn sla(d: &Dashboard) -> Markup {
    html! {
        section.wide {
            h2 { "Rollout sites' SLA (last 90 days)" }
            @if d.sla.sites.is_empty() { p.muted { "No rollout site yet." } }
            @else { div.scroll { table.stack {
                thead { tr {
                    th { "Site" } th { "SLA" } th { "Assigned" } th { "On time" } th { "Late" } th { "Missed" }
                    th { "Median" } th { "P90" } th { "Deployed in time" } th { "Declined" }
                    th { "Expired without evidence" }
                } }
                tbody { @for s in &d.sla.sites {
                    tr class=(if s.meets_sla { "" } else { "bad" }) {
                        td data-label="Site" { (site_link(&s.site)) }
                        td data-label="SLA" { @if s.meets_sla { span.badge.ok { "met" } } @else { span.badge.bad { "MISSED" } } }
                        td data-label="Assigned" { (s.assigned) }
                        td data-label="On time" { (s.on_time) }
                        td data-label="Late" { (s.late) }
                        td data-label="Missed" { (s.missed) }
                        td data-label="Median" { (s.median_report_seconds.map_or("–".into(), short_duration)) }
                        td data-label="P90" { (s.p90_report_seconds.map_or("–".into(), short_duration)) }
                        td data-label="Deployed in time" {
                            (s.deployed_on_time) "/" (s.deployment_due) " (" (percent(s.deployment_rate)) ")"
                        }
                        td data-label="Declined" { (s.declined) }
                        td data-label="Expired without evidence" { (s.expired_without_evidence) }
                    }
                } }
            } } }
        }
    }
}

fn production(d: &Dashboard) -> Markup {
    html! {
        section {
            h2 { "Production" }
            ul { @for (dist, rev) in &d.production { li {
                strong { (dist) } ": "
                @match rev {
                    Some(r) => { "revision " (r.number) " · " (r.package_count) " packages · " span.muted { (time(r.created_at)) } },
                    None => span.muted { "not published yet" },
                }
            } } }
            (integrity(&d.integrity))
        }
    }
}

/// One line on stored files: the last scrub, and what is refused because it is corrupt.
fn integrity(i: &crate::service::verify::IntegrityStatus) -> Markup {
    html! {
        p.integrity {
            "Integrity: "
            @if !i.scrub_on { span.muted { "background scrub off (scrub_interval)" } }
            @else if i.last_scrub == 0 { span.muted { "first scrub pending" } }
            @else { "last scrub " span.muted { (time(i.last_scrub)) } }
            " · "
            @if i.corrupt.is_empty() { "no corrupt files known" }
            @else {
                strong { (i.corrupt.len()) " corrupt file(s), not served: " }
                (i.corrupt.join(", ")) " (see stagerepo admin verify)"
            }
        }
    }
}

fn inventory(elements: &[ElementInventory], hosts: usize) -> Markup {
    html! {
        section.wide {
            h2 { "Who runs what" }
            p.muted { (hosts) " hosts report their packages." }
            @if elements.is_empty() { p.muted { "No host runs a known element yet." } }
            @for e in elements {
                h3 { (element_link(&e.element)) }
                div.scroll { table.stack {
                    thead { tr { th { "Release" } th { "State" } th { "Hosts" } th { "Sites" } } }
                    tbody { @for r in &e.releases {
                        tr class=(if r.warning.is_some() { "bad" } else { "" }) {
                            td data-label="Release" { (r.version) " (" (r.dist) ") · " (r.release) }
                            td data-label="State" {
                                (r.state.as_str()) @if let Some(w) = &r.warning { " " span.badge.bad { (w) } }
                            }
                            td data-label="Hosts" { (r.hosts) }
                            td data-label="Sites" { (r.sites.join(", ")) }
                        }
                    } }
                } }
                @for s in &e.sites {
                    p.muted {
                        (s.site) ": "
                        @for (i, r) in s.releases.iter().enumerate() {
                            @if i > 0 { ", " }
                            (r.version.as_deref().unwrap_or("unknown release")) " on " (r.hosts) " host" @if r.hosts != 1 { "s" }
                        }
                    }
                }
                @if !e.alerts.is_empty() {
                    p { strong { "Sites to tell:" } }
                    ul { @for a in &e.alerts { li {
                        span.badge.bad { (a.reason) } " " (a.site) " host " (a.host) " runs " (a.version) " (release " (a.release) ")"
                    } } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::short_duration;

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(3 * 86_400 + 7200 + 5), "3d 2h");
        assert_eq!(short_duration(3605), "1h 0m");
    }
}
