//! SLA metrics, /metrics in the Prometheus format and the Atom feeds, end to end.

mod support;
mod world;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;
use world::World;

#[test]
fn sla_metrics_single_out_late_and_silent_sites_and_metrics_parse() {
    let w = World::new();
    let server = &w.server;
    let (cern, _) = server.add_site("CERN-PROD", None);
    let (ral, _) = server.add_site("RAL", None);
    let (_nikhef, _) = server.add_site("NIKHEF", None);
    for site in ["CERN-PROD", "RAL", "NIKHEF"] {
        w.rollout(site, "3s");
    }
    let v1 = server.submit(&w.team, "fts", "1.0.0", &w.rpms("1.0"));
    server.cli_ok(None, &["admin", "release", "announce", &v1.to_string()]);
    let pkgs = json!(["fts-server-0:1.0-1.noarch", "fts-libs-0:1.0-1.noarch"]);

    // CERN reports and deploys in time; RAL after the deadline; NIKHEF never.
    server.cli_ok(Some(&cern), &["site", "report", &v1.to_string(), "--ok"]);
    let (st, _) = w.post("/api/v1/deployments", &cern, json!({"host": "c1", "packages": pkgs}));
    assert_eq!(st, 201);
    server.wait_for_state(v1, "promoted", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1100));
    let out = server.cli_ok(Some(&ral), &["site", "report", &v1.to_string(), "--ok"]);
    assert!(out.contains("late"), "{out}");
    let (st, _) = w.post("/api/v1/deployments", &ral, json!({"host": "r1", "packages": pkgs}));
    assert_eq!(st, 201);

    let sla = server.get_json("/api/v1/sla");
    let site = |name: &str| {
        sla["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["site"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing: {sla:#}"))
    };
    let c = site("CERN-PROD");
    assert_eq!(
        (c["assigned"].as_i64(), c["on_time"].as_i64()),
        (Some(1), Some(1)),
        "{c}"
    );
    assert_eq!(
        (c["deployed_on_time"].as_i64(), c["deployment_rate"].as_f64()),
        (Some(1), Some(1.0)),
        "{c}"
    );
    assert!(c["median_report_seconds"].as_i64().unwrap() <= 3, "{c}");
    assert_eq!(c["meets_sla"], true);
    let r = site("RAL");
    assert_eq!((r["late"].as_i64(), r["missed"].as_i64()), (Some(1), Some(0)), "{r}");
    assert!(r["p90_report_seconds"].as_i64().unwrap() > 3, "{r}");
    assert_eq!(
        (r["deployed_on_time"].as_i64(), r["deployment_due"].as_i64()),
        (Some(0), Some(1)),
        "{r}"
    );
    assert_eq!(r["meets_sla"], false);
    let n = site("NIKHEF");
    assert_eq!(
        (n["missed"].as_i64(), n["compliance"].as_f64()),
        (Some(1), Some(0.0)),
        "{n}"
    );
    assert!(n["median_report_seconds"].is_null());
    assert_eq!(n["meets_sla"], false);

    let out = server.cli_ok(None, &["admin", "sla"]);
    let line = |name: &str| {
        out.lines()
            .map(str::trim)
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("CERN-PROD").ends_with("met"), "{out}");
    assert!(
        line("RAL").ends_with("MISSED") && line("NIKHEF").ends_with("MISSED"),
        "{out}"
    );
    assert!(out.contains("sites that missed their SLA: NIKHEF, RAL"), "{out}");
    let out = server.cli_ok(None, &["admin", "sla", "--since", "1s", "--site", "RAL", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["sites"][0]["assigned"], 0,
        "nothing announced in the last second: {v:#}"
    );
    let (ok, _, err) = server.cli(None, &["admin", "sla", "--since", "soon"]);
    assert!(!ok && err.contains("400") && err.contains("soon"), "{err}");

    // /metrics parses as Prometheus exposition and carries the numbers.
    let (st, ct, text) = w.get_public("/metrics");
    assert_eq!(st, 200);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let scrape = check_exposition(&text);
    let value = |metric: &str, labels: &[(&str, &str)]| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no {metric} {labels:?} in:\n{text}"));
        match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(b) => b.iter().find(|c| c.less_than.is_infinite()).unwrap().count,
            prometheus_parse::Value::Summary(_) => panic!("no summaries"),
        }
    };
    assert_eq!(value("stagerepo_releases", &[("state", "promoted")]), 1.0);
    assert_eq!(value("stagerepo_releases", &[("state", "rollout")]), 0.0);
    assert_eq!(
        value("stagerepo_problems", &[("criticality", "critical"), ("state", "open")]),
        0.0
    );
    assert_eq!(
        value("stagerepo_site_sla_compliance_ratio", &[("site", "CERN-PROD")]),
        1.0
    );
    assert_eq!(value("stagerepo_site_sla_compliance_ratio", &[("site", "RAL")]), 0.0);
    assert_eq!(value("stagerepo_site_sla_met", &[("site", "NIKHEF")]), 0.0);
    assert_eq!(value("stagerepo_hosts_reporting", &[("site", "RAL")]), 1.0);
    assert_eq!(value("stagerepo_production_revision", &[("dist", "el9")]), 2.0);
    assert_eq!(value("stagerepo_upload_size_bytes", &[]), 2.0, "two uploads");
    assert!(
        value(
            "stagerepo_publication_duration_seconds",
            &[("dist", "el9"), ("repo", "production")]
        ) >= 1.0
    );
    assert!(
        value(
            "stagerepo_publication_repodata_bytes",
            &[("dist", "el9"), ("repo", "beta")]
        ) >= 1.0
    );
    let reports = [
        ("route", "/api/v1/releases/:id/reports"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(value("stagerepo_http_requests_total", &reports), 2.0);
    assert!(
        value(
            "stagerepo_http_requests_total",
            &[("route", "/api/v1/deployments"), ("status", "201")]
        ) >= 2.0
    );
    assert!(value("stagerepo_http_request_duration_seconds", &[]) > 0.0);
    assert_eq!(
        value("stagerepo_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
}

/// Parses exposition text with prometheus-parse, and checks what that lenient parser skips:
/// every line is a comment or a sample, every sample's family has a TYPE, and histograms have
/// ascending cumulative buckets ending in +Inf equal to their _count.
fn check_exposition(text: &str) -> prometheus_parse::Scrape {
    use prometheus_parse::LineInfo;
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        match LineInfo::parse(line) {
            LineInfo::Type {
                metric_alias,
                metric_name,
                ..
            } => {
                typed.insert(metric_alias.unwrap_or(metric_name));
            }
            LineInfo::Doc { .. } => {}
            LineInfo::Sample { metric_name, value, .. } => {
                assert!(value.parse::<f64>().is_ok() || value == "+Inf", "bad value in {line:?}");
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| metric_name.strip_suffix(s).filter(|f| typed.contains(*f)))
                    .unwrap_or(metric_name);
                assert!(typed.contains(family), "sample before its TYPE: {line:?}");
            }
            other => panic!("not exposition format: {line:?} ({other:?})"),
        }
    }
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("parses");
    for s in &scrape.samples {
        if let prometheus_parse::Value::Histogram(b) = &s.value {
            let mut b = b.clone();
            b.sort_by(|x, y| x.less_than.partial_cmp(&y.less_than).unwrap());
            assert!(
                b.windows(2).all(|w| w[0].count <= w[1].count),
                "{} not cumulative",
                s.metric
            );
            assert!(b.last().unwrap().less_than.is_infinite(), "{} lacks +Inf", s.metric);
            let count = scrape
                .samples
                .iter()
                .find(|c| c.metric == format!("{}_count", s.metric) && c.labels == s.labels)
                .unwrap_or_else(|| panic!("{} lacks _count", s.metric));
            assert_eq!(
                count.value,
                prometheus_parse::Value::Untyped(b.last().unwrap().count),
                "{}",
                s.metric
            );
        }
    }
    scrape
}

#[test]
fn atom_feeds_validate_and_a_site_feed_has_only_its_releases() {
    let w = World::new();
    let server = &w.server;
    server.add_element("dcache", "fts-team");
    server.add_site("CERN-PROD", None);
    server.add_site("RAL", None);
    server.add_site("NIKHEF", None);
    w.rollout("CERN-PROD", "1h");
    server.add_rollout("dcache", "RAL", "1h");
    let fts = server.submit(&w.team, "fts", "1.0.0", &w.rpms("1.0"));
    let rpm = build_rpms(w.work.path(), &[SpecPackage::new("dcache-server", "9.2", "1")]);
    let dcache = server.submit(&w.team, "dcache", "9.2.0", &rpm);
    server.cli_ok(None, &["admin", "release", "announce", &fts.to_string()]);
    server.cli_ok(None, &["admin", "release", "announce", &dcache.to_string()]);
    server.cli_ok(
        None,
        &[
            "admin",
            "release",
            "reject",
            &dcache.to_string(),
            "--reason",
            "broken pools",
        ],
    );

    let feed = |path: &str| -> atom_syndication::Feed {
        let (st, ct, body) = w.get_public(path);
        assert_eq!(st, 200, "{path}: {body}");
        assert!(ct.starts_with("application/atom+xml"), "{ct}");
        validate_atom(&body, &format!("{}{path}", server.url))
    };
    let all = feed("/feed.atom");
    let titles = |f: &atom_syndication::Feed| f.entries().iter().map(|e| e.title().value.clone()).collect::<Vec<_>>();
    assert_eq!(
        titles(&all),
        [
            "dcache 9.2.0 (el9) rejected",
            "dcache 9.2.0 (el9) announced for rollout",
            "fts 1.0.0 (el9) announced for rollout"
        ]
    );
    let cern = feed("/sites/CERN-PROD/feed.atom");
    assert_eq!(titles(&cern), ["fts 1.0.0 (el9) announced for rollout"]);
    assert!(cern.title().value.contains("CERN-PROD"));
    let ral = feed("/sites/RAL/feed.atom");
    assert_eq!(
        titles(&ral),
        [
            "dcache 9.2.0 (el9) rejected",
            "dcache 9.2.0 (el9) announced for rollout"
        ]
    );
    // The same entry has the same id in every feed.
    assert_eq!(ral.entries()[0].id(), all.entries()[0].id());
    assert!(feed("/sites/NIKHEF/feed.atom").entries().is_empty());
    let (st, _, body) = w.get_public("/sites/NOWHERE/feed.atom");
    assert_eq!(st, 404);
    assert!(json(body.as_bytes())["detail"].as_str().unwrap().contains("NOWHERE"));
}

/// Parses an Atom document and checks RFC 4287's requirements that the parser leaves alone.
fn validate_atom(body: &str, self_url: &str) -> atom_syndication::Feed {
    let doc = roxmltree::Document::parse(body).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(
        (root.tag_name().namespace(), root.tag_name().name()),
        (Some("http://www.w3.org/2005/Atom"), "feed")
    );
    let feed = atom_syndication::Feed::read_from(body.as_bytes()).expect("parses as Atom");
    assert!(!feed.id().is_empty() && !feed.title().value.is_empty());
    assert!(!feed.authors().is_empty(), "a feed-level author covers every entry");
    assert!(
        feed.links().iter().any(|l| l.rel() == "self" && l.href() == self_url),
        "self link {self_url}: {:?}",
        feed.links()
    );
    let count = |parent: roxmltree::Node, name: &str| parent.children().filter(|c| c.has_tag_name(name)).count();
    assert_eq!(
        (count(root, "id"), count(root, "title"), count(root, "updated")),
        (1, 1, 1)
    );
    for (e, node) in feed
        .entries()
        .iter()
        .zip(root.children().filter(|c| c.has_tag_name("entry")))
    {
        assert_eq!(
            (count(node, "id"), count(node, "title"), count(node, "updated")),
            (1, 1, 1)
        );
        assert!(e.id().starts_with("http"), "entry ids are IRIs: {}", e.id());
        assert!(e.updated() <= feed.updated(), "the feed is as new as its newest entry");
        assert!(e.content().is_some() || !e.links().is_empty(), "content or a link");
    }
    feed
}
