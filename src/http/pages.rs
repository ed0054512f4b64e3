//! The dashboard's detail pages: one per release, problem, rollout site and element, linked
//! from `GET /`. Read-only HTML, showing only what the public API shows.

use axum::extract::{Path, State};
use axum::response::Html;
use maud::{html, Markup};

use super::dashboard::{element_link, page, release_link, short, short_duration, site_link, site_state, time};
use super::error::ApiResult;
use super::{blocking, AppState};
use crate::domain::problem::Problem;
use crate::domain::release::Release;
use crate::service::dashboard::{ElementPage, ProblemPage, SitePage};
use crate::service::rollout::ReleaseDetail;

/// `GET /releases/{id}`.
pub async fn release(State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Html<String>> {
    let (d, now) = blocking(&app, move |a| Ok((a.release_detail(id)?, a.clock.now()))).await?;
    Ok(Html(render_release(&d, now).into_string()))
}

/// `GET /problems/{id}`.
pub async fn problem(State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Html<String>> {
    let (p, now) = blocking(&app, move |a| Ok((a.problem_page(id)?, a.clock.now()))).await?;
    Ok(Html(render_problem(&p, now).into_string()))
}

/// `GET /sites/{site}`.
pub async fn site(State(app): State<AppState>, Path(site): Path<String>) -> ApiResult<Html<String>> {
    let (p, now) = blocking(&app, move |a| Ok((a.site_page(&site)?, a.clock.now()))).await?;
    Ok(Html(render_site(&p, now).into_string()))
}

/// `GET /elements/{name}`.
pub async fn element(State(app): State<AppState>, Path(name): Path<String>) -> ApiResult<Html<String>> {
    let (p, now) = blocking(&app, move |a| Ok((a.element_page(&name)?, a.clock.now()))).await?;
    Ok(Html(render_element(&p, now).into_string()))
}

fn state_badge(r: &Release) -> Markup {
    let class = match r.state.as_str() {
        "promoted" => "ok",
        "rejected" | "withdrawn" => "bad",
        "rollout" => "info",
        _ => "warn",
    };
    html! { span.badge.(class) { (r.state.as_str()) } @if r.forced { " " span.badge.warn { "forced" } } }
}

fn problem_line(p: &Problem) -> Markup {
    html! {
        @match p.criticality {
            Some(c) => span.badge.(if c.as_str() == "critical" { "bad" } else { "warn" }) { (c.as_str()) },
            None => span.badge.info { "untriaged" },
        }
        " " a href={ "/problems/" (p.id) } { "#" (p.id) }
        @if !p.open { " " span.badge.ok { "closed" } }
        " from " (site_link(&p.site)) ": " (short(&p.text))
    }
}

/// A release's page: its gate, each rollout site's state, reports, problems and history.
pub fn render_release(d: &ReleaseDetail, now: i64) -> Markup {
    let r = &d.release;
    let title = format!("{} {} ({}) · release {}", r.element, r.version, r.dist, r.id);
    page(
        &title,
        now,
        html! {
            section.wide {
                h2 { (element_link(&r.element)) " " (r.version) " (" (r.dist) ") · release " (r.id) " " (state_badge(r)) }
                p {
                    "Team " (r.team) " · submitted " (time(r.created_at))
                    @if let Some(a) = r.announced_at { " · announced " (time(a)) }
                    @if let Some(adv) = &r.advisory { " · advisory " strong { (adv) } }
                }
                @if !r.notes.is_empty() { p { (short(&r.notes)) } }
                @if !r.references.is_empty() { ul { @for x in &r.references { li { (x) } } } }
                @if !d.warnings.is_empty() {
                    ul { @for w in &d.warnings { li { span.badge.bad { "warning" } " " (w) } } }
                }
                h3 { "Packages" }
                ul { @for p in &r.packages { li { (p) } } }
            }
            @if let Some(gate) = &d.gate {
                section {
                    h2 { "Gate " @if gate.open { span.badge.ok { "open" } } @else { span.badge.warn { "closed" } } }
                    ul { @for c in &gate.conditions { li {
                        @if c.passed { span.badge.ok { "passed" } } @else { span.badge.bad { "waiting" } }
                        " " strong { (c.name) } ": " (short(&c.detail))
                    } } }
                    p.muted { "Deployment evidence needed from " (d.min_deployed_sites) " site(s)." }
                }
            }
            @if !d.sites.is_empty() {
                section.wide {
                    h2 { "Rollout sites" }
                    div.scroll { table.stack {
                        thead { tr { th { "Site" } th { "State" } th { "SLA" } th { "Deadline" } th { "Time left" } } }
                        tbody { @for s in &d.sites { tr {
                            td data-label="Site" { (site_link(&s.site)) }
                            td data-label="State" { (site_state(s)) }
                            td data-label="SLA" { (short_duration(s.sla_seconds)) @if s.grace_seconds > 0 { " + " (short_duration(s.grace_seconds)) " grace" } }
                            td data-label="Deadline" { (time(s.deadline)) }
                            td data-label="Time left" { @if s.seconds_left > 0 { (short_duration(s.seconds_left)) } @else { "passed" } }
                        } } }
                    } }
                }
            }
            section {
                h2 { "Reports" }
                @if d.reports.is_empty() { p.muted { "No report yet." } }
                ul { @for x in &d.reports { li {
                    (site_link(&x.site)) " " strong { (format!("{:?}", x.result).to_lowercase()) }
                    @if x.late { " " span.badge.warn { "late" } }
                    span.muted { " · " (time(x.at)) } @if !x.text.is_empty() { ": " (short(&x.text)) }
                } } }
                h2 { "Problems" }
                @if d.problems.is_empty() { p.muted { "No problem reported." } }
                ul { @for p in &d.problems { li { (problem_line(p)) } } }
            }
            section {
                h2 { "History" }
                ul { @for e in &d.events { li {
                    span.muted { (time(e.at)) } " "
                    @if let Some(f) = e.from { (f.as_str()) " → " } strong { (e.to.as_str()) }
                    " by " (e.actor) ": " (short(&e.reason))
                } } }
            }
        },
    )
}

/// A problem's page.
pub fn render_problem(p: &ProblemPage, now: i64) -> Markup {
    let (pr, r) = (&p.problem, &p.release);
    page(
        &format!("problem {}", pr.id),
        now,
        html! {
            section.wide {
                h2 { "Problem #" (pr.id) " " @if pr.open { span.badge.warn { "open" } } @else { span.badge.ok { "closed" } } }
                p { (problem_line(pr)) }
                p { "About " (release_link(r.id, format!("{} {} ({}) · release {}", r.element, r.version, r.dist, r.id))) " " (state_badge(r)) }
                p.muted { "Reported " (time(pr.created_at)) @if let Some(prio) = pr.priority { " · priority " (prio) } }
                @if let Some(why) = &pr.closed_reason { p { "Closed: " (short(why)) } }
                h3 { "Text" }
                p { (short(&pr.text)) }
            }
        },
    )
}

/// A rollout site's page.
pub fn render_site(p: &SitePage, now: i64) -> Markup {
    page(
        &format!("site {}", p.site),
        now,
        html! {
            section.wide {
                h2 { "Site " (p.site) }
                p { a href={ "/sites/" (p.site) "/feed.atom" } { "Feed of this site's announcements" } }
                h3 { "Rollout site of" }
                @if p.rollouts.is_empty() { p.muted { "No element." } }
                ul { @for r in &p.rollouts { li { (element_link(&r.element)) " · SLA " (short_duration(r.sla_seconds)) } } }
                @if let Some(s) = &p.sla {
                    h3 { "SLA (last 90 days) " @if s.meets_sla { span.badge.ok { "met" } } @else { span.badge.bad { "MISSED" } } }
                    p {
                        (s.assigned) " assigned · " (s.on_time) " on time · " (s.late) " late · " (s.missed) " missed · "
                        (s.declined) " declined · " (s.expired_without_evidence) " expired without evidence · deployed in time "
                        (s.deployed_on_time) "/" (s.deployment_due)
                    }
                }
            }
            section.wide {
                h2 { "Releases announced to it" }
                @if p.releases.is_empty() { p.muted { "None yet." } }
                @else { div.scroll { table.stack {
                    thead { tr { th { "Release" } th { "Release state" } th { "This site" } th { "Deadline" } } }
                    tbody { @for (r, s) in &p.releases { tr {
                        td data-label="Release" { (release_link(r.id, format!("{} {} ({}) · {}", r.element, r.version, r.dist, r.id))) }
                        td data-label="Release state" { (state_badge(r)) }
                        td data-label="This site" { (site_state(s)) }
                        td data-label="Deadline" { (time(s.deadline)) }
                    } } }
                } } }
            }
            section.wide {
                h2 { "Problems it reported" }
                @if p.problems.is_empty() { p.muted { "None." } }
                ul { @for x in &p.problems { li { (problem_line(x)) " on " (release_link(x.release, format!("release {}", x.release))) } } }
            }
        },
    )
}

/// An element's page.
pub fn render_element(p: &ElementPage, now: i64) -> Markup {
    let e = &p.element;
    page(
        &format!("element {}", e.name),
        now,
        html! {
            section.wide {
                h2 { "Element " (e.name) }
                p { "Team " (e.team) @if !e.description.is_empty() { " · " (short(&e.description)) } }
                @if !e.packages.is_empty() { p.muted { "Packages: " (e.packages.join(", ")) } }
                h3 { "Rollout sites" }
                @if p.rollouts.is_empty() { p.muted { "None: announcements go to nobody." } }
                ul { @for r in &p.rollouts { li { (site_link(&r.site)) " · SLA " (short_duration(r.sla_seconds)) } } }
            }
            section.wide {
                h2 { "Releases" }
                @if p.releases.is_empty() { p.muted { "None yet." } }
                ul { @for r in &p.releases { li {
                    (release_link(r.id, format!("{} ({}) · release {}", r.version, r.dist, r.id))) " " (state_badge(r))
                    span.muted { " · " (time(r.created_at)) }
                } } }
            }
            section.wide {
                h2 { "Who runs it" }
                @for ei in &p.inventory.elements {
                    ul { @for r in &ei.releases { li {
                        (release_link(r.release, format!("{} ({})", r.version, r.dist))) " · " (r.hosts) " host(s) at "
                        @for (i, s) in r.sites.iter().enumerate() { @if i > 0 { ", " } (site_link(s)) }
                    } } }
                }
                @if p.inventory.elements.is_empty() { p.muted { "No host reports running it." } }
            }
        },
    )
}
